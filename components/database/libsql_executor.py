"""The executor for Turso (and the sandbox): libSQL over HTTP through `LibsqlClient`.

Everything a migration or an import writes goes out as one transactional batch: one HTTP request,
BEGIN … COMMIT on the server, ROLLBACK if any statement fails. Bulk rows travel as multi-row
INSERTs with the values written as SQL literals: the server parses them in C instead of decoding
one JSON object per value, which is what makes a large import fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from components.database.ddl import quote
from components.database.errors import ConnectionFailed, redact_url
from components.database.executors import Statement, StatementFailed, TableRows
from components.database.sqlite_literals import LITERALS, sql_literal
from components.turso.libsql import LibsqlClient, LibsqlError

# One INSERT carries rows up to about this much SQL text (SQLite's own limit is far higher; Turso's
# request limits are not published, so requests stay moderate).
INSERT_BYTES = 256 * 1024


def insert_statements(batch: TableRows, max_bytes: int = INSERT_BYTES) -> Iterator[str]:
    """Multi-row INSERTs for `batch`, each up to about `max_bytes` of SQL."""
    columns = ", ".join(quote(c) for c in batch.columns)
    head = f"INSERT INTO {quote(batch.table)} ({columns}) VALUES "
    tail = " ON CONFLICT DO NOTHING" if batch.skip_existing else ""
    literals = LITERALS
    chunk: list[str] = []
    size = 0
    for row in batch.rows:
        text = (
            "("
            + ",".join([literals[type(v)](v) if type(v) in literals else sql_literal(v) for v in row])
            + ")"
        )
        chunk.append(text)
        size += len(text) + 1
        if size >= max_bytes:
            yield head + ",".join(chunk) + tail
            chunk, size = [], 0
    if chunk:
        yield head + ",".join(chunk) + tail


class LibsqlExecutor:
    dialect = "sqlite"

    def __init__(self, client: LibsqlClient) -> None:
        self.client = client

    @staticmethod
    def connect(url: str, auth_token: str | None, timeout: float = 300.0) -> LibsqlExecutor:
        try:
            client = LibsqlClient(url, auth_token, timeout=timeout)
        except ValueError as exc:
            raise ConnectionFailed(f"database URL {redact_url(url)!r}: {exc}") from None
        executor = LibsqlExecutor(client)
        try:
            executor.query("SELECT 1")
        except LibsqlError as exc:
            client.close()
            hint = ""
            if exc.code in ("UNAUTHORIZED", "AUTH_JWT_INVALID", "AUTH_HEADER_NOT_FOUND", "FORBIDDEN"):
                hint = "; give a valid database token (--auth-token or TURSO_DB_AUTH_TOKEN)"
            elif exc.code == "CONNECTION_ERROR":
                hint = "; check the URL and that the database server is reachable"
            raise ConnectionFailed(
                f"cannot use the libSQL database at {client.host}: {exc.message}{hint}"
            ) from None
        return executor

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.client.execute(sql, list(params)).rows]

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        try:
            self.client.batch([(s.sql, list(s.params)) for s in statements], transactional=True)
        except LibsqlError as exc:
            index = exc.statement_index if exc.statement_index is not None else -1
            raise StatementFailed(index, _message(exc)) from None

    def bulk_load(
        self, tables: Sequence[TableRows], before: Sequence[Statement] = (), after: Sequence[Statement] = ()
    ) -> None:
        statements: list[tuple[str, list[Any]]] = [("PRAGMA defer_foreign_keys = ON", [])]
        statements.extend((s.sql, list(s.params)) for s in before)
        owners: list[TableRows | None] = [None] * len(statements)
        for batch in tables:
            for sql in insert_statements(batch):
                statements.append((sql, []))
                owners.append(batch)
        statements.extend((s.sql, list(s.params)) for s in after)
        owners.extend([None] * len(after))
        try:
            results = self.client.batch(statements, transactional=True)
        except LibsqlError as exc:
            owner = owners[exc.statement_index] if exc.statement_index is not None else None
            where = f"table {owner.table}" if owner is not None else "import"
            raise StatementFailed(-1, f"{where}: {_message(exc)}") from None
        for batch in tables:
            batch.inserted = 0
        for owner, result in zip(owners, results, strict=True):
            if owner is not None:
                owner.inserted += result.rows_affected

    def table_names(self) -> set[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
        return {str(r[0]) for r in rows}

    def close(self) -> None:
        self.client.close()


def _message(exc: LibsqlError) -> str:
    return f"{exc.message} [{exc.code}]"
