"""A benchmark's private world: its own state directory, sandbox, PostgreSQL port, no vendor tokens.

Imported by each bench/*/run.py (with the repository on the module path) before any project
module, since those read the environment; it imports the standard library only. The benchmark never
touches a developer's stacks, sandbox, PostgreSQL cluster or build cache, nor a real vendor.
Also what every run.py does around its measurement: its command line, the tools on PATH, timing,
removing the stack files its deploys wrote.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.helpers import forget_stack, free_port

REPO = Path(__file__).resolve().parents[1]

# Credentials and settings that would send a benchmark to real vendors or shared state.
UNSET = (
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "TURSO_API_TOKEN",
    "CLOUDFLARE_API_TOKEN",
    "NEON_API_KEY",
    "CREDENTIALS_ENCRYPTION_KEYS",
    "ONECLICK_PG_DIR",
    "ONECLICK_BUILD_CACHE",
)


__all__ = ["REPO", "arguments", "forget_stacks", "free_port", "private_state", "timed", "tools_on_path"]


def private_state(name: str, *, keep: tuple[str, ...] = ()) -> Path:
    """Make the process (and every child) use a fresh state directory and PostgreSQL port;
    `keep` names variables of UNSET to leave alone."""
    state = Path(tempfile.mkdtemp(prefix=f"oneclick-bench-{name}-"))
    state.chmod(0o755)  # the local PostgreSQL runs as the postgres user and must reach it
    os.environ["ONECLICK_STATE_DIR"] = str(state)
    os.environ["ONECLICK_SANDBOX_DIR"] = str(state / "sandbox")
    os.environ["ONECLICK_PG_PORT"] = str(free_port())
    for variable in UNSET:
        if variable not in keep:
            os.environ.pop(variable, None)
    return state


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """The benchmark's command line; its --help is the module docstring (what it measures, its last line)."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def tools_on_path() -> None:
    """The project's Pulumi CLI and Node tools first on PATH, for this process and its children."""
    from automation.environment import TOOLS_BIN  # here: after private_state() has set the environment

    os.environ["PATH"] = f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"


def timed(action: Callable[[], object]) -> float:
    """Seconds `action` took."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def forget_stacks(apps: Iterable[str]) -> None:
    """Remove the stack config files the benchmark's deploys wrote into stacks/."""
    for app in apps:
        forget_stack(app)
