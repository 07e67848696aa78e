"""The `oneclick` command as a user runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import click
import psycopg
import pytest
from click.testing import CliRunner

from automation.localpg import LocalPostgres
from cli.main import main
from components.targets import SANDBOX_PASSPHRASE, passphrase_problem
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint, state_root
from tests.helpers import free_port

ONECLICK = str(REPO_ROOT / ".venv" / "bin" / "oneclick")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ONECLICK, *args], capture_output=True, text=True, env=env, check=False, timeout=300
    )


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", commands(main), ids=lambda p: " ".join(p) or "oneclick")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


@pytest.mark.engine
def test_deploy_prints_what_it_made_and_destroy_removes_it(
    sandbox: SandboxEndpoint, spec_file: Path, app_id: str
) -> None:
    deployed = run("deploy", "-v", str(spec_file))
    assert deployed.returncode == 0, deployed.stderr
    outputs = dict(line.split(maxsplit=1) for line in deployed.stdout.splitlines()[1:])
    assert outputs["databaseUrl"].startswith(f"libsql://{app_id}-")
    assert outputs["databaseAuthToken"] == "[secret]"
    assert "✓ Database provisioned" in deployed.stderr  # the plan's step view
    assert "✓ Health checks" in deployed.stderr
    assert "creating pulumi-python:dynamic/turso:Database" in deployed.stderr  # -v: every resource
    assert sandbox.api_token not in deployed.stdout + deployed.stderr
    listed = run("list")
    assert app_id in listed.stdout
    status = run("status", app_id)
    assert f"{app_id}: last update succeeded" in status.stdout
    destroyed = run("destroy", app_id, "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert app_id not in run("list").stdout, "destroy removes the stack too"
    gone = run("status", app_id)
    assert gone.returncode == 1
    assert f"no app {app_id!r} is deployed" in gone.stderr


def test_bad_database_name_fails_before_anything_is_made(
    sandbox: SandboxEndpoint, tmp_path: Path, app_id: str
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(f"id: {app_id}\ndatabase:\n  name: Not_Valid\n")
    result = run("deploy", str(spec))
    assert result.returncode == 1
    assert "error: database.name: 'Not_Valid' is not a valid Turso database name" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (REPO_ROOT / "stacks" / f"Pulumi.{app_id}.yaml").exists(), "no stack was created"


def test_real_targets_refuse_the_sandbox_passphrase(
    sandbox: SandboxEndpoint, spec_file: Path, app_id: str
) -> None:
    env = {**os.environ, "TURSO_API_TOKEN": "tok", "TURSO_ORG_ID": "acme"}
    no_passphrase = run("deploy", str(spec_file), env=env)
    assert no_passphrase.returncode == 1
    assert "set PULUMI_CONFIG_PASSPHRASE" in no_passphrase.stderr
    fixed = run("deploy", str(spec_file), env={**env, "PULUMI_CONFIG_PASSPHRASE": SANDBOX_PASSPHRASE})
    assert fixed.returncode == 1
    assert "fixed sandbox passphrase may only protect sandbox stacks" in fixed.stderr
    assert not (REPO_ROOT / "stacks" / f"Pulumi.{app_id}.yaml").exists()
    missing_org = run(
        "deploy",
        str(spec_file),
        env={"PATH": os.environ["PATH"], **{k: v for k, v in env.items() if k != "TURSO_ORG_ID"}},
    )
    assert "set TURSO_ORG_ID" in missing_org.stderr


def test_passphrase_rules() -> None:
    assert passphrase_problem(True, None) is None
    assert passphrase_problem(True, SANDBOX_PASSPHRASE) is None
    assert passphrase_problem(False, "my own") is None
    assert passphrase_problem(False, None)
    assert passphrase_problem(False, SANDBOX_PASSPHRASE)


def test_sandbox_start_status_stop(tmp_path: Path) -> None:
    directory = str(tmp_path / "sbx")
    assert run("sandbox", "status", "--dir", directory).returncode == 1
    started = run("sandbox", "start", "--port", "0", "--dir", directory)
    assert started.returncode == 0
    assert "sandbox running at http://127.0.0.1:" in started.stdout
    assert run("sandbox", "status", "--dir", directory).returncode == 0
    assert run("sandbox", "stop", "--dir", directory).stdout.strip() == "sandbox stopped"
    assert run("sandbox", "status", "--dir", directory).returncode == 1


def test_doctor_is_green() -> None:
    result = run("doctor")
    assert result.returncode == 0, result.stdout
    for name in ("Pulumi CLI", "Python language host", "dynamic provider host", "PostgreSQL", "stripe-mock"):
        assert any(line.startswith("ok") and name in line for line in result.stdout.splitlines()), name


def test_local_postgres_starts_serves_and_stops() -> None:
    pg = LocalPostgres(state_root() / "pg-test", free_port())
    try:
        url = pg.start()
        assert pg.start() == url, "start is idempotent"
        with psycopg.connect(url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        assert pg.stop()
        assert not pg.running()
    finally:
        pg.destroy()


def test_deploy_without_a_running_sandbox_says_how_to_start_it(tmp_path: Path, spec_file: Path) -> None:
    env = {**os.environ, "ONECLICK_SANDBOX_DIR": str(tmp_path / "no-sandbox-here")}
    result = run("deploy", str(spec_file), env=env)
    assert result.returncode == 1
    assert "start it with `oneclick sandbox start`" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [("drift", "--all"), ("fleet", "refresh", "--all")])
def test_jobs_with_an_unreachable_service_database_is_one_plain_error(command: tuple[str, ...]) -> None:
    url = f"postgresql://u:p@127.0.0.1:{free_port()}/db"  # nothing listens there
    result = run(*command, "--jobs", "--database-url", url)
    assert result.returncode != 0
    assert "cannot reach the deploy service's database" in result.stderr
    assert "Traceback" not in result.stderr
    assert "pool" not in result.stderr
