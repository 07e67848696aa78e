"""`oneclick state migrate --to URL`: stacks move from the file backend into PostgreSQL with their
history and secrets; a preview there shows no change; a stack already at the destination stops it."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from automation import operations
from automation.environment import TOOLS_BIN, pulumi_env, service_backend_url
from automation.localpg import LocalPostgres
from cli.main import main as cli
from components.spec import AppSpec
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint
from tests.databases import query, scratch_database

pytestmark = pytest.mark.engine


@pytest.fixture
def backends(local_postgres: LocalPostgres) -> Iterator[tuple[str, str, str]]:
    """(file backend URL, postgres backend URL, its database URL); the environment on the file one."""
    with (
        tempfile.TemporaryDirectory(prefix="oneclick-migrate-") as directory,
        scratch_database(local_postgres.url, "migrate") as database,
        pytest.MonkeyPatch.context() as mp,
    ):
        source = f"file://{directory}"
        mp.setenv("PULUMI_BACKEND_URL", source)
        yield source, service_backend_url(database), database


def history(app: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(TOOLS_BIN / "pulumi"), "stack", "history", "--json", "--stack", app],
        cwd=REPO_ROOT,
        env={**os.environ, **pulumi_env(True)},
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout))


def test_stacks_move_with_history_and_preview_shows_no_change(
    sandbox: SandboxEndpoint,
    backends: tuple[str, str, str],
    app_ids: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, destination, database = backends
    app = f"mig-{uuid.uuid4().hex[:8]}"
    app_ids.append(app)
    spec = AppSpec.parse({"id": app, "database": {"provider": "turso"}})
    operations.deploy(spec)
    operations.deploy(spec)  # two updates of history
    before = history(app)
    assert len(before) == 2
    outputs = operations.outputs(app, show_secrets=True)
    assert outputs["databaseUrl"].startswith("libsql://")

    moved = CliRunner().invoke(
        cli, ["state", "migrate", "--to", destination, "--json"], catch_exceptions=False
    )
    assert moved.exit_code == 0, moved.output
    report = json.loads(moved.stdout)["stacks"]
    assert [(s["stack"], s["updates"], s["config"]) for s in report] == [(app, 2, True)]

    monkeypatch.setenv("PULUMI_BACKEND_URL", destination)
    assert [a.app_id for a in operations.list_apps()] == [app]
    after = history(app)
    assert [(h["version"], h["kind"], h["result"]) for h in after] == [
        (h["version"], h["kind"], h["result"]) for h in before
    ]
    # Secrets decrypt with the same passphrase and salt; the program sees nothing to change.
    assert operations.outputs(app, show_secrets=True) == outputs
    previewed = operations.preview(spec)
    assert set(previewed.changes) <= {"same"}, previewed.changes
    keys = [
        r[0] for r in query(database, "SELECT key FROM pulumi.pulumi_state WHERE key LIKE %s", [f"%{app}%"])
    ]
    assert any(k.endswith(".history.json") for k in keys), keys

    # Again: the stack is at the destination now, so nothing is copied and the user is told why.
    monkeypatch.setenv("PULUMI_BACKEND_URL", source)
    again = CliRunner().invoke(cli, ["state", "migrate", "--to", destination])
    assert again.exit_code != 0
    assert f"stack(s) {app} already exist at the destination; nothing was copied" in again.output
    assert "Traceback" not in again.output

    assert [a.app_id for a in operations.list_apps()] == [app]  # the source is left as it was

    monkeypatch.setenv("PULUMI_BACKEND_URL", destination)
    operations.destroy(app)
