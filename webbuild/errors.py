"""The one error a build raises: the app did not build, with the build's own last lines."""

from __future__ import annotations

from core.errors import UserError


class BuildFailed(UserError):
    """`web.source` did not build; the message holds the failing step and its last error lines."""

    field = "web.source"

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
