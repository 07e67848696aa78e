"""Item 7 and the design's guarantees for workers: a deploy that hangs is stopped at its time limit
(and the next tenant's deploy runs), a deploy's processes cannot map memory past their cap, service
stacks are never encrypted with the fixed sandbox passphrase, and service deploys refresh first so
what was deleted behind a stack's back is healed through the API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from automation import operations
from components.cloudflare.client import CloudflareClient
from components.targets import SANDBOX_PASSPHRASE
from components.turso.client import TursoClient
from core.localhost import LoopbackTransport
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, REPO_ROOT, TURSO_ORG, SandboxEndpoint
from service.passphrase import service_passphrase_problem
from tests.databases import query
from tests.service.conftest import (
    SERVICE_PASSPHRASE,
    STATIC_SITE,
    Deploys,
    database_spec,
    wait_finished,
)

pytestmark = pytest.mark.engine


def test_a_hung_deploy_is_stopped_at_its_limit_and_the_queue_moves_on(
    sandbox: SandboxEndpoint, deploys: Deploys
) -> None:
    _, token = deploys.user("pro", max_apps=5)
    stuck, next_app = deploys.new_app(), deploys.new_app()
    # The vendor never answers in time for the first app: every try at its database token hangs
    # (the client gives up after 30 s and retries), while the other app's calls are answered.
    httpx.post(
        f"{sandbox.url}/_admin/faults",
        json={
            "path_prefix": f"/v1/organizations/{TURSO_ORG}/databases/{stuck}/auth/tokens",
            "status": 503,
            "delay_seconds": 60,
            "count": 10,
        },
    ).raise_for_status()
    # Long enough for an ordinary deploy on a busy machine, far shorter than the hang.
    deploys.workers.env["ONECLICK_DEPLOY_TIMEOUT_SECONDS"] = "25"
    deploys.start_worker()
    started = time.monotonic()
    with deploys.client(token) as http:
        first = http.post("/api/deploy/database", json=database_spec(stuck)).json()["deploymentId"]
        time.sleep(1.0)
        second = http.post("/api/deploy/database", json=database_spec(next_app)).json()["deploymentId"]
        failed = wait_finished(http, first, timeout=150)
        done = wait_finished(http, second, timeout=150)
    assert failed["status"] == "failed", failed
    assert "longer than its limit of 25 s" in failed["error"]
    assert failed["appStatus"] == "failed"
    assert done["status"] == "succeeded", (done, deploys.workers.output())
    assert time.monotonic() - started < 140


def test_a_deploys_processes_cannot_map_memory_past_the_cap() -> None:
    script = (
        "from service.isolation import confine\n"
        "confine(512 << 20)\n"
        "try:\n"
        "    block = bytearray(2 << 30)\n"
        "except MemoryError:\n"
        "    print('refused')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "refused", result.stderr


def test_workers_refuse_the_fixed_sandbox_passphrase(service_db: str) -> None:
    for env in ({}, {"PULUMI_CONFIG_PASSPHRASE": SANDBOX_PASSPHRASE}, {"PULUMI_CONFIG_PASSPHRASE": "short"}):
        assert service_passphrase_problem(env) is not None
    assert service_passphrase_problem({"PULUMI_CONFIG_PASSPHRASE": SERVICE_PASSPHRASE}) is None
    result = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "service", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        env={**_plain_env(), "PULUMI_CONFIG_PASSPHRASE": SANDBOX_PASSPHRASE, "DATABASE_URL": service_db},
    )
    assert result.returncode != 0
    assert "passphrase of its own" in result.stderr
    assert "Traceback" not in result.stderr


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}


def test_service_state_is_not_readable_with_the_fixed_passphrase_and_deploys_heal_drift(
    sandbox: SandboxEndpoint, deploys: Deploys, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = deploys.user("pro", max_apps=3)
    app = deploys.new_app()
    deploys.start_worker()
    with deploys.client(token) as http:
        done = wait_finished(
            http, http.post("/api/deploy/database", json=database_spec(app)).json()["deploymentId"]
        )
        assert done["status"] == "succeeded", (done, deploys.workers.output())

        # Someone holding the repository's fixed passphrase cannot decrypt the stack's secrets.
        monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", SANDBOX_PASSPHRASE)
        with pytest.raises(Exception, match=r"(?i)passphrase|decrypt"):
            operations.outputs(app, show_secrets=True)
        monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", SERVICE_PASSPHRASE)
        assert operations.outputs(app, show_secrets=True)["databaseAuthToken"]

        # The database is deleted behind the stack's back; a redeploy through the API heals it.
        with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
            turso.delete_database(app)
            again = wait_finished(
                http, http.post("/api/deploy/database", json=database_spec(app)).json()["deploymentId"]
            )
            assert again["status"] == "succeeded", (again, deploys.workers.output())
            assert again["appStatus"] == "active"
            assert turso.get_database(app).name == app


def test_a_failed_deploy_leaves_nothing_public(sandbox: SandboxEndpoint, deploys: Deploys) -> None:
    """The site is uploaded, then the health check fails: the failed site is not served; after a
    good deploy, a failing one puts the good deployment back; destroy still works."""
    _, token = deploys.user("pro", max_apps=3)
    app = deploys.new_app()
    spec: dict[str, Any] = {"id": app, "web": {"buildDir": str(STATIC_SITE)}}
    broken_database = {"path_prefix": "/v3/pipeline", "status": 500, "count": 200}
    deploys.start_worker()
    with deploys.client(token) as http, httpx.Client(transport=LoopbackTransport(), timeout=10) as web:
        httpx.post(f"{sandbox.url}/_admin/faults", json=broken_database).raise_for_status()
        failed = wait_finished(http, http.post("/api/deploy/web", json=spec).json()["deploymentId"])
        httpx.delete(f"{sandbox.url}/_admin/faults").raise_for_status()
        assert failed["status"] == "failed", failed
        assert "not healthy" in failed["error"], failed["error"]
        withdrawn = query(
            deploys.db,
            "SELECT payload FROM deployment_events WHERE kind = 'withdrawn' AND deployment_id = %s",
            [failed["deploymentId"]],
        )
        assert withdrawn == [({"site": f"site {app} withdrawn until a deploy succeeds"},)]
        site = f"{sandbox.url.replace('127.0.0.1', f'{app}.pages.localhost')}/"
        assert "Welcome to Shop" not in web.get(site).text

        good = wait_finished(http, http.post("/api/deploy/web", json=spec).json()["deploymentId"])
        assert good["status"] == "succeeded", (good, deploys.workers.output())
        assert "Welcome to Shop" in web.get(good["url"]).text

        changed = {**spec, "web": {**spec["web"], "env": {"RELEASE": "2"}}}
        httpx.post(f"{sandbox.url}/_admin/faults", json=broken_database).raise_for_status()
        again = wait_finished(http, http.post("/api/deploy/web", json=changed).json()["deploymentId"])
        httpx.delete(f"{sandbox.url}/_admin/faults").raise_for_status()
        assert again["status"] == "failed"
        with CloudflareClient(
            sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4"
        ) as cf:
            served = cf.get_project(app).canonical_deployment
            assert served is not None
            assert served.id == good["outputs"]["deploymentId"]

        gone = wait_finished(http, http.delete(f"/api/apps/{app}").json()["deploymentId"])
        assert gone["status"] == "succeeded", gone
