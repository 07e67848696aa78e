"""Workers that share only PostgreSQL: each with its own state and work directories, they deploy a
batch of apps between them; one SIGKILLed mid-deploy leaves its job to the other, which recovers
the stack from what PostgreSQL holds (state, lock, the dead worker's heartbeat) with nothing orphaned."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from automation import fleet
from automation.stack_locks import stack_locks
from components.turso.client import TursoClient
from core.localca import ca_dir
from sandbox.endpoint import TURSO_ORG, SandboxEndpoint
from tests.databases import query
from tests.helpers import wait_for
from tests.service.conftest import (
    ApiServer,
    Workers,
    client,
    database_spec,
    make_user,
    new_app,
    wait_finished,
)

pytestmark = pytest.mark.engine

APPS = 6


def own_tree(root: Path) -> dict[str, str]:
    """A worker's private file tree: nothing in it is visible to the other worker. Only the sandbox's
    CA is shared, as a trust anchor installed on every host would be."""
    (root / "state").mkdir(parents=True)
    return {
        "ONECLICK_STATE_DIR": str(root / "state"),
        "ONECLICK_WORK_DIR": str(root / "work"),
        "ONECLICK_CA_DIR": str(ca_dir()),
    }


def worker_pid(recorded: str) -> int:
    """The worker's pid in the attempt it recorded ("host:pid/w<queue worker>")."""
    found = re.search(r":(\d+)(?:/w\d+)?$", recorded)
    assert found, recorded
    return int(found.group(1))


def test_two_workers_sharing_only_postgres_deploy_a_batch_and_survive_a_sigkill(
    sandbox: SandboxEndpoint,
    api: ApiServer,
    workers: Workers,
    service_db: str,
    app_ids: list[str],
    tmp_path: Path,
) -> None:
    _, token = make_user(service_db, "pro", max_apps=APPS)
    apps = [new_app(app_ids, prefix="mw") for _ in range(APPS)]
    held = apps[0]
    # The first app's deploy is held open right after its Turso database is made.
    httpx.post(
        f"{sandbox.url}/_admin/faults",
        json={
            "path_prefix": f"/v1/organizations/{TURSO_ORG}/databases/{held}/auth/tokens",
            "status": 503,
            "delay_seconds": 40,
            "count": 1,
        },
    ).raise_for_status()
    trees = [tmp_path / "host-a", tmp_path / "host-b"]
    started = {
        workers.start(tmp_path, heartbeat=0.5, stalled_after=3, env=own_tree(tree)).pid: index
        for index, tree in enumerate(trees)
    }
    by_pid = {p.pid: p for p in workers.processes}
    with client(api, token) as http:
        ids = []
        for app in apps:
            response = http.post("/api/deploy/database", json=database_spec(app))
            assert response.status_code == 202, response.text
            ids.append(response.json()["deploymentId"])

        def held_worker() -> str | None:
            status = http.get(f"/api/deploy/status/{ids[0]}").json()
            running = any(s["key"] == "database" and s["state"] == "running" for s in status["steps"])
            rows = query(service_db, "SELECT worker FROM deployments WHERE id = %s", [ids[0]])
            return str(rows[0][0]) if running and rows and rows[0][0] else None

        recorded = wait_for(held_worker, timeout=120, interval=0.2)
        assert recorded, workers.output()
        with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
            assert wait_for(lambda: held in {db.name for db in turso.list_databases()}, timeout=20)
        time.sleep(0.5)
        doomed = worker_pid(recorded)
        workers.kill_hard(by_pid[doomed])  # the worker, its deploy process, engine and plugins
        survivor = 1 - started[doomed]
        results = [wait_finished(http, d, timeout=420) for d in ids]

    assert [r["status"] for r in results] == ["succeeded"] * APPS, (
        [r.get("error") for r in results],
        workers.output(),
    )
    assert results[0]["attempts"] == 2
    recovered = query(
        service_db,
        "SELECT payload FROM deployment_events WHERE deployment_id = %s AND kind = 'recovered'",
        [ids[0]],
    )
    assert [r[0]["lockRemoved"] for r in recovered] == [True], recovered
    assert recovered[0][0]["adopted"], recovered  # the database the killed create made is kept
    # The killed worker had the held app; the surviving one finished it.
    (last,) = query(service_db, "SELECT worker FROM deployments WHERE id = %s", [ids[0]])[0]
    assert started[worker_pid(str(last))] == survivor

    # Nothing orphaned, nothing doubled, no lock left; every stack lives in PostgreSQL only.
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        names = [db.name for db in turso.list_databases()]
    assert all(names.count(app) == 1 for app in apps), names
    assert all(stack_locks(app) == [] for app in apps)
    assert set(apps) <= set(fleet.all_app_ids())
    for tree in trees:
        assert not (tree / "state" / "pulumi").exists(), "a worker kept Pulumi state on its own disk"
