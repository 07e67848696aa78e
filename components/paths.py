"""Where the repository and its git-ignored local state live (the values come from core/settings.py)."""

from __future__ import annotations

from pathlib import Path

from core.settings import REPO_ROOT, settings

__all__ = ["REPO_ROOT", "build_cache_root", "state_root"]


def state_root() -> Path:
    """The git-ignored directory that holds local state (Pulumi backend, sandbox, PostgreSQL)."""
    return settings().paths.state_dir


def build_cache_root() -> Path:
    """Where built sites (and their installed packages) are cached by the hash of what goes into them.

    Under the state directory, unless ONECLICK_BUILD_CACHE names a folder (a CI cache restores it)."""
    return settings().paths.build_cache
