"""The optional parts of oneclick (pyproject extras) a command needs, and the error naming a missing one."""

from __future__ import annotations

import importlib.util

from core.errors import UserError

# The modules each extra installs that its commands import; checked by name, never imported here,
# so `oneclick --help` and `oneclick deploy` work with the core dependencies alone.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "service": ("fastapi", "uvicorn", "psycopg_pool", "procrastinate", "cryptography"),
    "gateway": ("starlette", "anyio", "uvicorn", "psycopg_pool", "stripe", "certifi", "httptools"),
    "sandbox": ("fastapi", "uvicorn", "python_multipart"),
    "mobile": ("PIL", "cryptography"),
}


class MissingExtraError(UserError, RuntimeError):
    """A command needs an extra that is not installed; the message says which and how to add it."""

    def __init__(self, command: str, extra: str, missing: list[str]) -> None:
        self.extra = extra
        self.missing = missing
        super().__init__(
            f"`oneclick {command}` needs the {extra} extra ({', '.join(missing)} not installed); "
            f"install it with: pip install 'oneclick[{extra}]'"
        )


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [name for name in EXTRA_MODULES[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, command: str) -> None:
    """Raise MissingExtraError before `command` runs if any module of `extra` is missing."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(command, extra, missing)
