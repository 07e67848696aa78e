"""Fleet operations as jobs: `drift --all --jobs` and `fleet refresh --jobs` put one job per stack on
the queue, two workers share them, and the report gathered from PostgreSQL covers every stack once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from automation import operations
from cli.main import main as cli
from components.spec import AppSpec
from core.localca import ca_dir
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint
from tests.databases import query
from tests.service.conftest import SERVICE_PASSPHRASE, Workers

pytestmark = pytest.mark.engine

STACKS = 4


@pytest.fixture
def stacks(
    sandbox: SandboxEndpoint, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[str]]:
    """Apps deployed into the service's state backend (the `workers` fixture points this process at it)."""
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", SERVICE_PASSPHRASE)
    apps = sorted(f"fj-{uuid.uuid4().hex[:8]}" for _ in range(STACKS))
    try:
        for app in apps:
            operations.deploy(AppSpec.parse({"id": app, "database": {"provider": "turso"}}))
        yield apps
    finally:
        for app in apps:
            operations.destroy(app)
            (REPO_ROOT / "stacks" / f"Pulumi.{app}.yaml").unlink(missing_ok=True)


def test_drift_and_refresh_as_jobs_cover_every_stack_once(
    stacks: list[str], workers: Workers, service_db: str, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        own = {"ONECLICK_STATE_DIR": str(tmp_path / name / "state"), "ONECLICK_CA_DIR": str(ca_dir())}
        workers.start(tmp_path, env=own)
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

    refreshed = CliRunner().invoke(
        cli,
        ["fleet", "refresh", "--all", "--jobs", "--json", "--database-url", service_db],
        catch_exceptions=False,
    )
    assert refreshed.exit_code == 0, (refreshed.output, workers.output())
    summary = json.loads(refreshed.stdout)
    assert summary["summary"] == {"stacks": STACKS, "succeeded": STACKS, "changed": 0, "failed": 0}
    assert [s["app"] for s in summary["stacks"]] == stacks
    workers_used = query(
        service_db, "SELECT count(DISTINCT worker) FROM fleet_run_stacks WHERE worker IS NOT NULL"
    )[0][0]
    assert workers_used >= 1
