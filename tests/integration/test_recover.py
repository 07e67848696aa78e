"""An update killed with SIGKILL part way through is recovered, and the next deploy converges."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from automation import operations, recover
from automation.environment import TOOLS_BIN, pulumi_env
from cli.main import main as cli
from components.cloudflare.client import CloudflareClient
from components.spec import AppSpec
from components.turso.client import TursoClient
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, REPO_ROOT, TURSO_ORG, SandboxEndpoint
from tests.integration.private_cloud import private_cloud

pytestmark = pytest.mark.engine

SITE = REPO_ROOT / "tests" / "fixtures" / "static-site"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxEndpoint]:
    """A sandbox (and backend) of this module's own: these deploys leave the example site's files in
    the sandbox's asset store, which other tests expect to find empty."""
    with private_cloud("oneclick-recover-") as (endpoint, _backend):
        yield endpoint


@pytest.fixture
def app() -> Iterator[str]:
    value = f"killed-{uuid.uuid4().hex[:8]}"
    yield value
    (REPO_ROOT / "stacks" / f"Pulumi.{value}.yaml").unlink(missing_ok=True)


def spec(app: str) -> dict[str, Any]:
    return {"id": app, "database": {"provider": "turso"}, "web": {"buildDir": str(SITE)}}


def hold(sandbox: SandboxEndpoint, path_prefix: str, method: str | None = None) -> None:
    """Make the next matching vendor call hang for a while (then fail), holding the update open."""
    fault = {"path_prefix": path_prefix, "status": 500, "count": 1, "delay_seconds": 45, "method": method}
    httpx.post(f"{sandbox.url}/_admin/faults", json=fault).raise_for_status()


def deploy_and_kill(sandbox: SandboxEndpoint, app: str, tmp_path: Path) -> None:
    """`oneclick deploy` in its own process group, SIGKILLed (with the engine and plugins) while the
    held vendor call is in flight: the lock and a pending operation stay behind."""
    spec_file = tmp_path / f"{app}.json"
    spec_file.write_text(json.dumps(spec(app)))
    process = subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", "deploy", str(spec_file)],
        cwd=REPO_ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while httpx.get(f"{sandbox.url}/_admin/faults").json():  # the held call has arrived
            assert process.poll() is None, "the deploy ended before reaching the held call"
            assert time.monotonic() < deadline, "the deploy never reached the held call"
            time.sleep(0.2)
        with pytest.raises(recover.UpdateStillRunning, match="still runs; wait for it to finish"):
            recover.recover(app)
    finally:
        kill_session(process)


def kill_session(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the CLI, the engine and the plugins the engine started (in process groups of their
    own, but in the CLI's session), as losing the machine or the container would."""
    os.killpg(process.pid, signal.SIGKILL)  # the CLI and the engine: nothing new gets started
    process.wait()
    session = [pid for pid in pids() if session_of(pid) == process.pid]
    for pid in session:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(recover.process_running(pid) for pid in session) and time.monotonic() < deadline:
        time.sleep(0.05)


def pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def pending_operations(app: str) -> list[Any]:
    done = subprocess.run(
        [str(TOOLS_BIN / "pulumi"), "stack", "export", "--stack", app],
        cwd=REPO_ROOT,
        env={**os.environ, **pulumi_env(True)},
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout)["deployment"].get("pending_operations") or [])


def test_a_create_killed_after_the_vendor_made_it_is_adopted(
    sandbox: SandboxEndpoint, app: str, tmp_path: Path
) -> None:
    # The database exists in the vendor; its token call hangs when the update is killed.
    hold(sandbox, f"/v1/organizations/{TURSO_ORG}/databases/{app}/auth/tokens")
    deploy_and_kill(sandbox, app, tmp_path)
    assert [op["type"] for op in pending_operations(app)] == ["creating"]
    with pytest.raises(operations.StackLocked, match=f"oneclick recover {app}"):
        operations.deploy(AppSpec.parse(spec(app)))

    report = recover.recover(app)
    assert report.lock_removed
    assert (report.adopted, report.dropped, report.cleared) == ([f"{app}-db"], [], [])
    assert pending_operations(app) == []
    assert operations.outputs(app, show_secrets=True) == {}  # outputs come with the next deploy

    result = operations.deploy(AppSpec.parse(spec(app)))
    assert result.health is not None
    assert result.health.healthy, result.health.summary
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        assert [db.name for db in turso.list_databases()].count(app) == 1
    assert not recover.recover(app).recovered, "nothing left to recover"
    operations.destroy(app)


def test_a_create_killed_before_the_vendor_made_it_is_dropped_by_the_cli(
    sandbox: SandboxEndpoint, app: str, tmp_path: Path
) -> None:
    # The Pages project's create call hangs (and never reaches the API) when the update is killed.
    hold(sandbox, f"/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/pages/projects", method="POST")
    deploy_and_kill(sandbox, app, tmp_path)

    result = CliRunner().invoke(cli, ["recover", app, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["lockRemoved"] is True
    assert report["dropped"] == [f"{app}-site"]
    assert report["adopted"] == []
    again = CliRunner().invoke(cli, ["recover", app], catch_exceptions=False)
    assert f"{app}: nothing to recover" in again.stdout

    deployed = operations.deploy(AppSpec.parse(spec(app)))
    assert deployed.health is not None
    assert deployed.health.healthy
    with CloudflareClient(
        sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4"
    ) as cf:
        assert [p.name for p in cf.list_projects()].count(app) == 1
    operations.destroy(app)
