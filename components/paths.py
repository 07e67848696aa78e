"""Where the repository and its git-ignored local state live (standard library only: Pulumi reads it)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def state_root() -> Path:
    """The git-ignored directory that holds local state (Pulumi backend, sandbox, PostgreSQL)."""
    return Path(os.environ.get("ONECLICK_STATE_DIR", REPO_ROOT / ".state")).resolve()


def build_cache_root() -> Path:
    """Where built sites (and their installed packages) are cached by the hash of what goes into them.

    Under the state directory, unless ONECLICK_BUILD_CACHE names a folder (a CI cache restores it)."""
    override = os.environ.get("ONECLICK_BUILD_CACHE")
    return Path(override).resolve() if override else state_root() / "builds"
