"""Deploys killed part way through, as losing the machine would: a vendor call held open by the
sandbox's fault injector, `oneclick deploy` SIGKILLed with its engine and plugins while it waits,
and what the stack keeps afterwards (its lock, its pending operations)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from automation import recover
from automation.environment import TOOLS_BIN, pulumi_env
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint


def hold(sandbox: SandboxEndpoint, path_prefix: str, method: str | None = None) -> None:
    """Make the next matching vendor call hang for a while (then fail), holding the update open."""
    fault = {"path_prefix": path_prefix, "status": 500, "count": 1, "delay_seconds": 45, "method": method}
    httpx.post(f"{sandbox.url}/_admin/faults", json=fault).raise_for_status()


@contextlib.contextmanager
def held_deploy(sandbox: SandboxEndpoint, spec: dict[str, Any], tmp_path: Path) -> Iterator[None]:
    """`oneclick deploy SPEC` in a session of its own, until the held vendor call has arrived (the
    sandbox's fault list is empty again); the body runs while it waits, then the session is killed."""
    spec_file = tmp_path / f"{spec['id']}.json"
    spec_file.write_text(json.dumps(spec))
    process = subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", "deploy", str(spec_file)],
        cwd=REPO_ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while httpx.get(f"{sandbox.url}/_admin/faults").json():
            assert process.poll() is None, "the deploy ended before reaching the held call"
            assert time.monotonic() < deadline, "the deploy never reached the held call"
            time.sleep(0.2)
        yield
    finally:
        kill_session(process)


def deploy_and_kill(sandbox: SandboxEndpoint, spec: dict[str, Any], tmp_path: Path) -> None:
    """A held deploy killed in flight: the lock and a pending operation stay behind. While it still
    runs, recovery refuses to touch the stack."""
    with (
        held_deploy(sandbox, spec, tmp_path),
        pytest.raises(recover.UpdateStillRunning, match="still runs; wait for it to finish"),
    ):
        recover.recover(spec["id"])  # a live lock is never taken


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
