"""Errors the deploy API answers with: JSON that names the field and the fix, never a secret."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from components.errors import UNION_TAGS
from core import errors as core_errors
from core.errors import OneclickError


class ApiError(OneclickError):
    """An answer other than success: HTTP status, a stable code, and what to do about it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        fix: str | None = None,
        problems: Sequence[tuple[str, str]] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.fix = fix
        self.problems = list(problems)
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.fix is not None:
            error["fix"] = self.fix
        if self.problems:
            error["problems"] = [{"field": f, "message": m} for f, m in self.problems]
        error.update(self.extra)
        return {"error": error}


def not_found(what: str, fix: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} was not found", fix=fix)


def validation_problems(errors: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """FastAPI/pydantic error items as (field, message-with-fix), the same wording as SpecError."""
    return core_errors.validation_problems(errors, noun="request", whole="(body)", drop=UNION_TAGS)
