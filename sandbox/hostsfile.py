"""A marked block of `127.0.0.1 <name>` lines in /etc/hosts, written and removed idempotently.

Each sandbox directory owns its own block (the markers name it), so several sandboxes (a
developer's, each test session's) never touch each other's lines, and everything outside the
blocks is left byte for byte. The file is rewritten in place under an exclusive lock, not
replaced: in containers /etc/hosts is often a bind mount that cannot be renamed over.
"""

from __future__ import annotations

import fcntl
from collections.abc import Sequence
from pathlib import Path

from core.errors import UserError
from core.settings import settings

FILE_ENV = "ONECLICK_HOSTS_FILE"  # tests point this at a scratch file


class HostsFileError(UserError, RuntimeError):
    """The hosts file could not be changed; `fix` says what to do instead."""


def hosts_file() -> Path:
    return settings().local.hosts_file


def markers(owner: str) -> tuple[str, str]:
    return f"# >>> oneclick sandbox {owner} >>>", f"# <<< oneclick sandbox {owner} <<<"


def block(owner: str, names: Sequence[str], address: str = "127.0.0.1") -> str:
    """The lines for `names`, between `owner`'s markers."""
    begin, end = markers(owner)
    return "\n".join([begin, *(f"{address}\t{name}" for name in names), end]) + "\n"


def without_block(text: str, owner: str) -> str:
    """`text` without `owner`'s block (every copy of it, should one have been pasted twice)."""
    begin, end = markers(owner)
    kept: list[str] = []
    inside = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == begin:
            inside = True
        elif stripped == end and inside:
            inside = False
        elif not inside:
            kept.append(line)
    return "".join(kept)


def _rewrite(path: Path, owner: str, names: Sequence[str]) -> bool:
    try:
        with path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            text = handle.read()
            new = without_block(text, owner)
            if names:
                new = (new if new.endswith("\n") or not new else new + "\n") + block(owner, names)
            if new == text:
                return False
            handle.seek(0)
            handle.write(new)
            handle.truncate()
            return True
    except PermissionError:
        raise HostsFileError(
            f"cannot write {path}: permission denied",
            field="--install",
            fix=f"run the command as root (sudo), or add the lines `oneclick sandbox hosts` prints to {path}",
        ) from None
    except FileNotFoundError:
        raise HostsFileError(
            f"cannot write {path}: it does not exist", fix=f"create it, or set {FILE_ENV} to the file to use"
        ) from None


def install(owner: str, names: Sequence[str], path: Path | None = None) -> bool:
    """Make `owner`'s block list exactly `names` (none: remove it); True if the file changed."""
    return _rewrite(path or hosts_file(), owner, names)


def remove(owner: str, path: Path | None = None) -> bool:
    return _rewrite(path or hosts_file(), owner, [])
