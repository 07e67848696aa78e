"""What the libSQL client hands back: statements, result sets and errors (Hrana's shapes, typed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from core.errors import OneclickError
from libsql.hrana import Args, Value, decode_value


@dataclass(frozen=True)
class Statement:
    """One SQL statement and its arguments (a sequence for `?`, a mapping for `:name`)."""

    sql: str
    args: Args | None = None


@dataclass(frozen=True)
class ResultSet:
    """What one statement returned."""

    columns: tuple[str, ...]
    column_types: tuple[str | None, ...]  # declared types ("INTEGER", "TEXT"…), None for expressions
    rows: tuple[tuple[Value, ...], ...]
    rows_affected: int
    last_insert_rowid: int | None  # set when the statement inserted a row

    def as_dicts(self) -> list[dict[str, Value]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self) -> Value:
        """The first column of the first row (None if there is no row)."""
        return self.rows[0][0] if self.rows and self.rows[0] else None

    @staticmethod
    def from_hrana(result: dict[str, Any]) -> ResultSet:
        cols = result.get("cols") or []
        rowid = result.get("last_insert_rowid")
        return ResultSet(
            columns=tuple(str(col.get("name") or "") for col in cols),
            column_types=tuple(col.get("decltype") for col in cols),
            rows=tuple(tuple(decode_value(value) for value in row) for row in result.get("rows") or []),
            rows_affected=int(result.get("affected_row_count") or 0),
            last_insert_rowid=None if rowid is None else int(rowid),
        )


class LibsqlError(OneclickError):
    """A libSQL request failed. `status` is the HTTP status (200 when one statement failed inside
    an answered request); `statement_index` is the failing statement's index in a batch."""

    def __init__(
        self, message: str, *, code: str, status: int = 0, statement_index: int | None = None
    ) -> None:
        self.message = message
        self.code = code
        self.status = status
        self.statement_index = statement_index
        where = f"statement {statement_index}: " if statement_index is not None else ""
        super().__init__(f"{where}{code}: {message}")


HTTP_CODES = {400: "PROTOCOL_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND"}


def http_error(response: httpx.Response, host: str) -> LibsqlError:
    message, code = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("error") or "")
        code = str(body.get("code") or "")
    if not message:
        message = response.text.strip()[:300] or response.reason_phrase
    if response.status_code == 404 and "database" not in message.lower():
        message = f"no database at {host}: {message}"
    fallback = HTTP_CODES.get(response.status_code, "SERVER_ERROR")
    return LibsqlError(message, code=code or fallback, status=response.status_code)


def statement_error(error: Any, index: int | None = None, sql: str | None = None) -> LibsqlError:
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or "the statement failed")
    if sql is not None:
        snippet = " ".join(sql.split())
        message += f" (in: {snippet[:80]}{'…' if len(snippet) > 80 else ''})"
    return LibsqlError(message, code=str(error.get("code") or "SQL_ERROR"), status=200, statement_index=index)
