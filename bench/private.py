"""A benchmark's private world: its own state directory, sandbox, PostgreSQL port, no vendor tokens.

Imported by each bench/*/run.py (with the repository on the module path) before any project
module, since those read the environment; it uses the standard library only. The benchmark never
touches a developer's stacks, sandbox, PostgreSQL cluster or build cache, nor a real vendor.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.helpers import free_port

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


__all__ = ["REPO", "free_port", "private_state"]


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
