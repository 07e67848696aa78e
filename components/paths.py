"""Where the repository and its git-ignored local state live (standard library only: Pulumi reads it)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def state_root() -> Path:
    """The git-ignored directory that holds local state (Pulumi backend, sandbox, PostgreSQL)."""
    return Path(os.environ.get("ONECLICK_STATE_DIR", REPO_ROOT / ".state")).resolve()
