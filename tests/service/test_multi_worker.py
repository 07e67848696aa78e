"""Workers that share only PostgreSQL, each on a host of its own (tests/service/jail.py: its own
hostname and file tree, the repository read-only, the other's tree absent).

- 20 apps deployed between two workers; one SIGKILLed mid-deploy leaves its job to the other, which
  recovers the stack from what PostgreSQL holds (state, lock, the dead worker's heartbeat): every
  deploy succeeds, every vendor resource belongs to a stack, no stack keeps a lock or a pending
  operation, and each worker wrote only into its own tree.
- Two workers never run one stack at once: the queue's lock `app:<id>` holds a second deploy back,
  and a job that reaches a stack around it meets the stack's lock in PostgreSQL and waits (typed
  error, retried) instead of taking it.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from automation import fleet, operations
from automation.environment import service_backend_url
from automation.stack_locks import stack_locks
from automation.state_blobs import PostgresBlobs
from automation.worker_project import prepare
from components.spec import AppSpec
from components.turso.client import TursoClient
from sandbox.endpoint import REPO_ROOT, TURSO_ORG, SandboxEndpoint
from tests.databases import query
from tests.helpers import wait_for
from tests.service import jail
from tests.service.conftest import (
    SERVICE_PASSPHRASE,
    ApiServer,
    ServiceClient,
    Workers,
    client,
    database_spec,
    make_user,
    new_app,
    sandbox_names,
    wait_finished,
    web_spec,
)

pytestmark = pytest.mark.engine

APPS = 20
WEB_EVERY = 4  # every fourth app a static site with the shop's database; the others a database only
PROJECT = "oneclick"


@pytest.fixture
def hosts(tmp_path: Path) -> list[jail.Host]:
    return jail.hosts(tmp_path / "hosts", ["host-a", "host-b"])


def host_of(recorded: str) -> str:
    """The host in a recorded attempt's worker ("<host>:<pid>/w<queue worker>")."""
    found = re.match(r"([^:]+):\d+(?:/w\d+)?$", recorded)
    assert found, recorded
    return found.group(1)


def attempt_hosts(db: str, deployment_ids: list[str]) -> dict[str, set[str]]:
    """Host name -> the apps whose deployments it started an attempt of."""
    rows = query(
        db,
        "SELECT d.app_id, e.payload->>'worker' FROM deployment_events e JOIN deployments d "
        "ON d.id = e.deployment_id WHERE e.kind = 'started' AND d.id = ANY(%s::uuid[])",
        [deployment_ids],
    )
    ran: dict[str, set[str]] = {}
    for app, worker in rows:
        ran.setdefault(host_of(str(worker)), set()).add(str(app))
    return ran


def checkpoint(db: str, app: str) -> dict[str, Any]:
    """The stack's latest deployment as PostgreSQL holds it."""
    raw = PostgresBlobs(service_backend_url(db)).read(f".pulumi/stacks/{PROJECT}/{app}.json")
    assert raw is not None, f"stack {app} is not in PostgreSQL"
    latest: dict[str, Any] = json.loads(raw)["checkpoint"]["latest"]
    return latest


def vendor_names(latest: dict[str, Any]) -> set[tuple[str, str]]:
    """The vendor-side names the stack's resources hold: ("name", a Turso database's) and
    ("project_name", a Pages project's or its domain's)."""
    names = set()
    for resource in latest.get("resources") or []:
        outputs = resource.get("outputs") or {}
        for key in ("name", "project_name"):
            if isinstance(outputs.get(key), str):
                names.add((key, outputs[key]))
    return names


def hold(sandbox: SandboxEndpoint, app: str, seconds: float) -> None:
    """The app's next deploy stops right after its Turso database is made: its token is answered late."""
    httpx.post(
        f"{sandbox.url}/_admin/faults",
        json={
            "path_prefix": f"/v1/organizations/{TURSO_ORG}/databases/{app}/auth/tokens",
            "status": 503,
            "delay_seconds": seconds,
            "count": 1,
        },
    ).raise_for_status()


def database_running(http: ServiceClient, deployment_id: str) -> bool:
    steps = http.get(f"/api/deploy/status/{deployment_id}").json()["steps"]
    return any(s["key"] == "database" and s["state"] == "running" for s in steps)


def tree_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_twenty_apps_between_two_hosts_one_killed_mid_deploy(
    sandbox: SandboxEndpoint,
    api: ApiServer,
    workers: Workers,
    service_db: str,
    app_ids: list[str],
    hosts: list[jail.Host],
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    _, token = make_user(service_db, "pro", max_apps=APPS)
    apps = [new_app(app_ids, prefix="mw") for _ in range(APPS)]
    web = {app for i, app in enumerate(apps) if i % WEB_EVERY == WEB_EVERY - 1}
    held = apps[0]
    hold(sandbox, held, 40)
    processes = jail.start_workers(workers, hosts, tmp_path)
    with client(api, token) as http:
        ids = []
        for app in apps:
            kind, spec = ("web", web_spec(app)) if app in web else ("database", database_spec(app))
            response = http.post(f"/api/deploy/{kind}", json=spec)
            assert response.status_code == 202, response.text
            ids.append(response.json()["deploymentId"])

        def held_by() -> str | None:
            rows = query(service_db, "SELECT worker FROM deployments WHERE id = %s", [ids[0]])
            ready = database_running(http, ids[0]) and rows and rows[0][0]
            return host_of(str(rows[0][0])) if ready else None

        doomed = wait_for(held_by, timeout=120, interval=0.2)
        assert doomed, workers.output()
        with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
            assert wait_for(lambda: held in {db.name for db in turso.list_databases()}, timeout=20)
        time.sleep(0.5)
        workers.kill_hard(processes[doomed])  # the jail, the worker, its deploy process, engine, plugins
        (survivor,) = {h.name for h in hosts} - {doomed}
        results = [wait_finished(http, d, timeout=600) for d in ids]
    elapsed = time.monotonic() - began

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
    (last,) = query(service_db, "SELECT worker FROM deployments WHERE id = %s", [ids[0]])[0]
    assert host_of(str(last)) == survivor

    # Nothing orphaned, nothing doubled: every vendor resource of these apps belongs to its stack,
    # and no stack keeps a lock or an operation it never finished.
    databases, projects = sandbox_names(sandbox, "mw-")
    assert databases == sorted(apps)
    assert projects == sorted(web)
    for app in apps:
        latest = checkpoint(service_db, app)
        assert not latest.get("pending_operations"), (app, latest.get("pending_operations"))
        owned = vendor_names(latest)
        assert ("name", app) in owned, (app, owned)  # the sandbox's database of that name is the stack's
        assert (("project_name", app) in owned) == (app in web), (app, owned)  # and so is its Pages project
        assert stack_locks(app) == []
    assert set(apps) <= set(fleet.all_app_ids())

    # Each worker wrote into its own tree only: its stacks are the apps it ran, Pulumi's logs are
    # in its own PULUMI_HOME, no state on its disk, and nothing went into the repository.
    ran = attempt_hosts(service_db, ids)
    assert set(ran) == {"host-a", "host-b"}, ran
    assert held in ran[doomed]
    assert held in ran[survivor]
    for host in hosts:
        files = tree_files(host.root)
        stacks = {Path(f).name for f in files if f.startswith("work/pulumi/stacks/")}
        assert stacks == {f"Pulumi.{app}.yaml" for app in ran[host.name]}, host.name
        assert any(f.startswith("work/pulumi/.pulumi/logs/") for f in files), host.name
        assert not (host.root / "state" / "pulumi").exists(), "a worker kept Pulumi state on its own disk"
    assert not [app for app in apps if (REPO_ROOT / "stacks" / f"Pulumi.{app}.yaml").exists()]
    print(f"\n{APPS} apps ({len(web)} web) on two hosts, one killed: {elapsed:.0f} s")


@pytest.fixture
def third_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test process as one more host: its own project directory, the workers' passphrase."""
    project = prepare(tmp_path / "third-host" / "pulumi")
    monkeypatch.setenv("ONECLICK_PROJECT_DIR", str(project))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", SERVICE_PASSPHRASE)
    return project


def updates(db: str, app: str) -> list[tuple[datetime, datetime]]:
    """(start, end) of every update the stack's history in PostgreSQL records, in order."""
    blobs = PostgresBlobs(service_backend_url(db))
    windows = []
    for key in blobs.keys(f".pulumi/history/{PROJECT}/{app}/"):
        if key.endswith(".history.json"):
            raw = blobs.read(key)
            assert raw is not None
            entry = json.loads(raw)
            windows.append(
                (datetime.fromtimestamp(entry["startTime"]), datetime.fromtimestamp(entry["endTime"]))
            )
    return sorted(windows)


def test_two_hosts_never_run_one_stack_at_once(
    sandbox: SandboxEndpoint,
    api: ApiServer,
    workers: Workers,
    service_db: str,
    app_ids: list[str],
    hosts: list[jail.Host],
    third_host: Path,
    tmp_path: Path,
) -> None:
    _, token = make_user(service_db, "pro", max_apps=1)
    app = new_app(app_ids, prefix="lk")
    hold(sandbox, app, 30)
    jail.start_workers(workers, hosts, tmp_path)
    with client(api, token) as http:

        def submit() -> str:
            response = http.post("/api/deploy/database", json=database_spec(app))
            assert response.status_code == 202, response.text
            return str(response.json()["deploymentId"])

        first = submit()
        assert wait_for(lambda: database_running(http, first), timeout=120), workers.output()
        (holder,) = query(service_db, "SELECT worker FROM deployments WHERE id = %s", [first])[0]
        assert stack_locks(app), "the running update holds the stack's lock in PostgreSQL"

        # The queue's lock: a second deploy of the app waits, although the other worker is idle.
        second = submit()
        time.sleep(3)
        assert http.get(f"/api/deploy/status/{second}").json()["status"] == "queued"
        assert query(service_db, "SELECT attempts FROM deployments WHERE id = %s", [second]) == [(0,)]

        # A job that reaches the stack around the queue's lock meets the stack's own lock: the idle
        # worker does not take it (the update runs on another host), it waits and says why.
        third = submit()
        (job,) = query(service_db, "SELECT job_id FROM deployments WHERE id = %s", [third])[0]
        query(service_db, "UPDATE procrastinate_jobs SET lock = NULL WHERE id = %s RETURNING id", [job])

        def waiting() -> str | None:
            rows = query(
                service_db,
                "SELECT payload->>'error' FROM deployment_events WHERE deployment_id = %s "
                "AND kind = 'queued' AND payload ? 'retrying'",
                [third],
            )
            return str(rows[0][0]) if rows else None

        why = wait_for(waiting, timeout=60, interval=0.2)
        assert why, workers.output()
        assert "may still run" in why, why
        assert "wait for it to finish" in why, why
        (tried_on,) = query(service_db, "SELECT worker_host FROM deployments WHERE id = %s", [third])[0]
        assert tried_on != host_of(str(holder))
        assert http.get(f"/api/deploy/status/{first}").json()["status"] == "running"
        # Any other host gets the typed error, and nothing is taken from the live update.
        with pytest.raises(operations.StackLocked, match=f"oneclick recover {app}"):
            operations.deploy(AppSpec.parse(database_spec(app)))
        # Back behind the queue's lock (once it waits for its retry), so the rest runs in order.
        relocked = wait_for(
            lambda: query(
                service_db,
                "UPDATE procrastinate_jobs SET lock = %s WHERE id = %s AND status = 'todo' RETURNING id",
                [f"app:{app}", job],
            ),
            timeout=30,
            interval=0.1,
        )
        assert relocked, workers.output()

        results = [wait_finished(http, d, timeout=300) for d in (first, second, third)]
    assert [r["status"] for r in results] == ["succeeded"] * 3, (
        [r.get("error") for r in results],
        workers.output(),
    )
    assert results[0]["attempts"] == 1  # the held update was never interrupted
    windows = updates(service_db, app)
    assert len(windows) >= 3, windows
    for before, after in itertools.pairwise(windows):
        assert after[0] >= before[1], windows  # one update after the other, never two at once
    databases, _ = sandbox_names(sandbox, app)
    assert databases == [app]
    assert stack_locks(app) == []
