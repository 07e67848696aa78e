"""Fleet operations as jobs: `drift --all --jobs` and `fleet refresh --jobs` put one job per stack on
the queue, two workers on hosts of their own (tests/service/jail.py) share them, and the report
gathered from PostgreSQL covers each of the 20 stacks once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main as cli
from sandbox.endpoint import SandboxEndpoint
from tests.databases import query
from tests.service import jail
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

STACKS = 20


def test_drift_and_refresh_as_jobs_cover_every_stack_once(
    sandbox: SandboxEndpoint,
    api: ApiServer,
    workers: Workers,
    service_db: str,
    app_ids: list[str],
    tmp_path: Path,
) -> None:
    hosts = jail.hosts(tmp_path / "hosts", ["host-a", "host-b"])
    jail.start_workers(workers, hosts, tmp_path)
    _, token = make_user(service_db, "pro", max_apps=STACKS)
    stacks = sorted(new_app(app_ids, prefix="fj") for _ in range(STACKS))
    began = time.monotonic()
    with client(api, token) as http:
        submitted = [http.post("/api/deploy/database", json=database_spec(app)) for app in stacks]
        ids = [r.json()["deploymentId"] for r in submitted]
        results = [wait_finished(http, d, timeout=600) for d in ids]
    errors = [r.get("error") for r in results]
    assert [r["status"] for r in results] == ["succeeded"] * STACKS, (errors, workers.output())
    deployed = time.monotonic()

    junit = tmp_path / "drift.xml"
    checked = CliRunner().invoke(
        cli,
        [
            "drift",
            "--all",
            "--jobs",
            "--json",
            "--junit",
            str(junit),
            "--database-url",
            service_db,
            "--timeout",
            "600",
        ],
        catch_exceptions=False,
    )
    assert checked.exit_code == 0, (checked.output, workers.output())
    report = json.loads(checked.stdout)
    assert [(s["app"], s["status"]) for s in report["stacks"]] == [(app, "clean") for app in stacks]
    assert {s["via"] for s in report["stacks"]} == {"direct"}  # each worker read its stacks itself
    assert junit.read_text().count("<testcase") == STACKS
    (run_id,) = query(service_db, "SELECT id::text FROM fleet_runs WHERE operation = 'drift'")[0]
    rows = query(
        service_db,
        "SELECT app_id, attempts, job_id FROM fleet_run_stacks WHERE run_id = %s ORDER BY app_id",
        [run_id],
    )
    assert [(r[0], r[1]) for r in rows] == [(app, 1) for app in stacks]  # each stack once
    jobs = query(
        service_db,
        "SELECT lock, status FROM procrastinate_jobs WHERE id = ANY(%s) ORDER BY lock",
        [[r[2] for r in rows]],
    )
    assert jobs == [(f"app:{app}", "succeeded") for app in stacks]
    drifted = time.monotonic()
    # The workers of both hosts shared the run (a queue worker is named after its host).
    ran_on = query(service_db, "SELECT DISTINCT worker FROM fleet_run_stacks WHERE run_id = %s", [run_id])
    assert {str(r[0]) for r in ran_on} == {"oneclick-host-a", "oneclick-host-b"}, ran_on

    refreshed = CliRunner().invoke(
        cli,
        ["fleet", "refresh", "--all", "--jobs", "--json", "--database-url", service_db],
        catch_exceptions=False,
    )
    assert refreshed.exit_code == 0, (refreshed.output, workers.output())
    summary = json.loads(refreshed.stdout)
    assert summary["summary"] == {"stacks": STACKS, "succeeded": STACKS, "changed": 0, "failed": 0}
    assert [s["app"] for s in summary["stacks"]] == stacks
    print(
        f"\n{STACKS} stacks on two hosts: deployed in {deployed - began:.0f} s, "
        f"drift --all --jobs in {drifted - deployed:.0f} s"
    )
