"""Deploy jobs on real workers: one app never deploys twice at once, and a worker killed with
SIGKILL mid-deploy leaves a job that is retried and converges with nothing orphaned."""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest

from components.cloudflare.client import CloudflareClient
from components.spec import AppSpec
from components.turso.client import TursoClient
from core.localhost import LoopbackTransport
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, TURSO_ORG, SandboxEndpoint
from service import deployments
from service.recovery import stack_locks
from service.tiers import load_subscription
from service.vault import Vault
from tests.databases import query
from tests.helpers import wait_for
from tests.service.conftest import (
    Deploys,
    database_spec,
    sandbox_names,
    wait_finished,
    web_spec,
)

pytestmark = pytest.mark.engine


def test_two_deploys_of_one_app_run_one_after_the_other(sandbox: SandboxEndpoint, deploys: Deploys) -> None:
    _, token = deploys.user("starter")
    app = deploys.new_app()
    other = deploys.new_app()
    deploys.start_worker()
    deploys.start_worker()
    first_spec = web_spec(app)
    second_spec = web_spec(app)
    second_spec["web"]["env"]["PUBLIC_MODE"] = "two"
    with deploys.client(token) as http:
        first = http.post("/api/deploy/web", json=first_spec).json()["deploymentId"]
        second = http.post("/api/deploy/web", json=second_spec).json()["deploymentId"]
        # Another app is not held up: it may run beside them.
        third = http.post("/api/deploy/web", json=web_spec(other)).json()["deploymentId"]
        results = [wait_finished(http, d) for d in (first, second, third)]
    assert [r["status"] for r in results] == ["succeeded"] * 3, (results, deploys.workers.output())
    rows = dict(
        query(
            deploys.db,
            "SELECT id::text, tstzrange(started_at, finished_at) FROM deployments WHERE id = ANY(%s::uuid[])",
            [[first, second]],
        )
    )
    # The second waited: it started only once the first had finished (attempt windows are disjoint).
    (overlap,) = query(deploys.db, "SELECT %s::tstzrange && %s::tstzrange", [rows[first], rows[second]])[0]
    assert overlap is False, rows
    assert rows[second].lower >= rows[first].upper
    locks = query(
        deploys.db,
        "SELECT DISTINCT lock FROM procrastinate_jobs WHERE args->>'deployment_id' = ANY(%s)",
        [[first, second]],
    )
    assert locks == [(f"app:{app}",)]
    # The app ends as the later request asked.
    with CloudflareClient(
        sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4"
    ) as cf:
        served = cf.get_project(app).canonical_deployment
        assert served is not None
        assert cf.get_deployment(app, served.id).env_vars["PUBLIC_MODE"].value == "two"


def test_worker_killed_mid_deploy_is_retried_and_converges(
    sandbox: SandboxEndpoint, deploys: Deploys
) -> None:
    _, token = deploys.user("starter")
    app = deploys.new_app()
    # Hold the deploy open right after the Turso database is made: its token is answered slowly.
    httpx.post(
        f"{sandbox.url}/_admin/faults",
        json={
            "path_prefix": f"/v1/organizations/{TURSO_ORG}/databases/{app}/auth/tokens",
            "status": 503,
            "delay_seconds": 30,
            "count": 1,
        },
    ).raise_for_status()
    doomed = deploys.start_worker(heartbeat=0.5, stalled_after=3)
    with deploys.client(token) as http:
        deployment_id = http.post("/api/deploy/web", json=web_spec(app)).json()["deploymentId"]

        def database_running() -> bool:
            steps = http.get(f"/api/deploy/status/{deployment_id}").json()["steps"]
            return any(s["key"] == "database" and s["state"] == "running" for s in steps)

        assert wait_for(database_running, timeout=60), deploys.workers.output()
        with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
            assert wait_for(lambda: app in {db.name for db in turso.list_databases()}, timeout=10)
        time.sleep(0.5)
        deploys.workers.kill_hard(doomed)  # the worker, its engine and plugins: nothing finishes the update
        stuck = http.get(f"/api/deploy/status/{deployment_id}").json()
        assert stuck["status"] == "running"
        assert stack_locks(app), "the killed update leaves its lock behind"

        deploys.start_worker(heartbeat=0.5, stalled_after=3)
        done = wait_finished(http, deployment_id, timeout=180)
    assert done["status"] == "succeeded", (done, deploys.workers.output())
    assert done["appStatus"] == "active"
    assert done["attempts"] == 2
    assert all(s["state"] == "done" for s in done["steps"]), done["steps"]
    recovered = query(
        deploys.db,
        "SELECT payload FROM deployment_events WHERE deployment_id = %s AND kind = 'recovered'",
        [deployment_id],
    )
    assert len(recovered) == 1
    assert recovered[0][0]["lockRemoved"] is True
    assert recovered[0][0]["adopted"], recovered  # the database the killed create made is kept
    # Nothing orphaned, nothing doubled, no lock left; the app works.
    assert sandbox_names(sandbox, app) == ([app], [app])
    assert not stack_locks(app)
    with httpx.Client(transport=LoopbackTransport(), timeout=10) as web:
        assert "Welcome to Shop" in web.get(done["url"]).text


def test_a_deployment_recorded_without_its_job_is_queued_by_a_worker(
    sandbox: SandboxEndpoint, deploys: Deploys, vault: Vault
) -> None:
    """The API records a deployment, then defers its job; should it stop in between, a worker's
    janitor finds the deployment without a job and queues it."""
    user, _ = deploys.user("starter")
    app = deploys.new_app()
    with psycopg.connect(deploys.db, autocommit=True) as conn:
        recorded = deployments.submit(
            conn, vault, load_subscription(conn, user), AppSpec.parse(database_spec(app)), "database"
        )
    deploys.start_worker(requeue_after=1)

    def finished() -> str | None:
        (status,) = query(deploys.db, "SELECT status FROM deployments WHERE id = %s", [recorded.id])[0]
        return status if status in ("succeeded", "failed") else None

    assert wait_for(finished, timeout=120) == "succeeded", deploys.workers.output()
    (job_id,) = query(deploys.db, "SELECT job_id FROM deployments WHERE id = %s", [recorded.id])[0]
    assert job_id is not None
    assert query(deploys.db, "SELECT lock FROM procrastinate_jobs WHERE id = %s", [job_id]) == [
        (f"app:{app}",)
    ]
