"""Each deploy runs in a child process of its worker, under a time limit and a memory cap.

A tenant's deploy must never hang a worker or exhaust its memory: whatever it does (a slow vendor,
a program that allocates without bound), the worker stops it at the limit and records it failed,
and the next job runs. The child is its own process group (in the worker's session, so a worker
killed whole takes its deploys with it), dies with its worker (PR_SET_PDEATHSIG), and caps its
address space before it starts anything; the Pulumi CLI, language host and providers it starts
inherit the cap. Its outcome comes back as a small JSON file: success is recorded by the child,
failures are recorded by the worker (so a child that is killed is recorded too).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.settings import Service, load_settings, settings

log = logging.getLogger("oneclick.service.isolation")

OutcomeKind = Literal["succeeded", "retry", "failed", "internal"]
# After SIGINT the engine cancels gracefully (the in-flight operations finish, the lock is released).
GRACE_SECONDS = 20.0
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class DeployLimits:
    """How long one deploy may run and how much memory its processes may map."""

    timeout_seconds: float = Service.deploy_timeout_seconds
    memory_bytes: int = Service.deploy_memory_bytes

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> DeployLimits:
        """The limits this process's settings (or `env`, in tests) set (ONECLICK_DEPLOY_*)."""
        service = (settings() if env is None else load_settings(env)).service
        return DeployLimits(service.deploy_timeout_seconds, service.deploy_memory_bytes)


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    error: str | None = None


def write_outcome(path: Path, outcome: Outcome) -> None:
    path.write_text(json.dumps({"kind": outcome.kind, "error": outcome.error}))


def _read_outcome(path: Path) -> Outcome | None:
    try:
        data = json.loads(path.read_text())
        return Outcome(data["kind"], data.get("error"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def confine(memory_bytes: int) -> None:
    """Called first thing in the child: cap memory, and die with the worker."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the worker died before prctl: do not run orphaned
        os._exit(1)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def run_isolated(deployment_id: str, limits: DeployLimits, env: dict[str, str]) -> Outcome:
    """Run one deployment in a confined child process and return how it ended."""
    with tempfile.TemporaryDirectory(prefix="oneclick-deploy-") as tmp:
        result = Path(tmp) / "outcome.json"
        command = [sys.executable, "-m", "service.deploy_process", deployment_id, str(result)]
        child_env = {**env, "ONECLICK_DEPLOY_MEMORY_BYTES": str(limits.memory_bytes)}
        process = subprocess.Popen(command, env=child_env, process_group=0, stdin=subprocess.DEVNULL)
        started = time.monotonic()
        try:
            process.wait(timeout=limits.timeout_seconds)
        except subprocess.TimeoutExpired:
            log.warning(
                "deployment %s: over its %.0f s limit; stopping it", deployment_id, limits.timeout_seconds
            )
            _signal_group(process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=GRACE_SECONDS)
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
            return Outcome(
                "failed",
                f"the deploy ran longer than its limit of {limits.timeout_seconds:.0f} s and was stopped; "
                "check that its vendors answer and its files are what you meant, then deploy again",
            )
        finally:
            _signal_group(process.pid, signal.SIGKILL)  # anything the child left running
        outcome = _read_outcome(result)
        if outcome is not None:
            return outcome
        if process.returncode < 0 or process.returncode == 137:
            reason = f"signal {-process.returncode}" if process.returncode < 0 else "a kill"
            return Outcome("internal", f"the deploy process was stopped by {reason}")
        log.error(
            "deployment %s: process exited %s after %.1f s without an outcome",
            deployment_id,
            process.returncode,
            time.monotonic() - started,
        )
        return Outcome("internal", "internal error (the deploy process ended without an outcome)")
