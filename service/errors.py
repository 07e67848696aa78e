"""Errors the deploy API answers with: JSON that names the field and the fix, never a secret."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from components.errors import UNION_TAGS


class ApiError(Exception):
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
    problems = []
    for item in errors:
        loc = [str(part) for part in item.get("loc", ()) if str(part) not in UNION_TAGS]
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        field = ".".join(loc) or "(body)"
        kind = str(item.get("type", ""))
        message = str(item.get("msg", "is invalid")).removeprefix("Value error, ")
        if kind == "missing":
            message = "is required; add it to the request"
        elif kind == "extra_forbidden":
            message = "is not a known field; remove it or check its spelling"
        elif kind == "json_invalid":
            field = "(body)"  # its location is a character offset, not a field
            message = "is not valid JSON; send a JSON object (Content-Type: application/json)"
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            ctx = item.get("ctx") or {}
            field += ".provider"
            message = f"must be one of {ctx.get('expected_tags', '')} (got {ctx.get('tag', 'nothing')!r})"
        problems.append((field, message))
    return problems
