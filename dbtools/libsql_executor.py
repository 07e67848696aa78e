"""The executor for Turso (and the sandbox): libSQL over HTTP through `LibsqlClient`.

A migration or a small import goes out as one transactional batch: one HTTP request, BEGIN …
COMMIT on the server, ROLLBACK if any statement fails. A large import streams requests on one
transaction (see `_stream`). Bulk rows travel as multi-row INSERTs with the values written as SQL
literals by SQLite itself: the server parses them in C instead of decoding one JSON object per
value, which is what makes a large import fast.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dbtools.ddl import quote
from dbtools.errors import ConnectionFailed, redact_url
from dbtools.executor import RendersSqlValues, Statement, StatementFailed, TableRows
from dbtools.preview_data import python_value_blocks
from libsql.client import EncodedBatch, LibsqlClient, LibsqlError, ResultSet, Transaction

# One INSERT carries rows up to about this much SQL text (SQLite's own limit is far higher; Turso's
# request limits are not published, so requests stay moderate).
INSERT_BYTES = 256 * 1024
# A large import goes out in requests of about this much SQL on one transaction.
REQUEST_BYTES = 1024 * 1024
# Up to this many rows an import is one request; beyond, it streams (see `_stream`).
SMALL_IMPORT_ROWS = 2000


def insert_statements(batch: TableRows, max_bytes: int | None = None) -> Iterator[str]:
    """Multi-row INSERTs for `batch`, each about `max_bytes` of SQL (rows per statement are set from
    the first block's average row length, so no per-row bookkeeping is needed)."""
    limit = INSERT_BYTES if max_bytes is None else max_bytes
    columns = ", ".join(quote(c) for c in batch.columns)
    head = f"INSERT INTO {quote(batch.table)} ({columns}) VALUES "
    tail = " ON CONFLICT DO NOTHING" if batch.skip_existing else ""
    rows = batch.rows
    blocks = rows.sql_value_blocks() if isinstance(rows, RendersSqlValues) else python_value_blocks(rows)
    per_statement = 0
    pending: list[str] = []
    for block in blocks:
        if not per_statement:
            average = sum(map(len, block)) / max(len(block), 1)
            per_statement = max(1, int(limit // (average + 1)))
        pending.extend(block)
        while len(pending) >= per_statement:
            yield head + ",".join(pending[:per_statement]) + tail
            del pending[:per_statement]
    if pending:
        yield head + ",".join(pending) + tail


# A statement of a libSQL batch, the table whose rows it inserts (None for others).
Owned = tuple[str, list[Any], TableRows | None]
# A request's statements, and the request encoded.
Rendered = tuple[list[Owned], EncodedBatch]


def request_groups(tables: Sequence[TableRows], max_bytes: int | None = None) -> Iterator[list[Owned]]:
    """The INSERTs for `tables`, grouped into requests of about `max_bytes` of SQL each."""
    limit = REQUEST_BYTES if max_bytes is None else max_bytes
    group: list[Owned] = []
    size = 0
    for batch in tables:
        for sql in insert_statements(batch):
            group.append((sql, [], batch))
            size += len(sql)
            if size >= limit:
                yield group
                group, size = [], 0
    if group:
        yield group


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
        head: list[Owned] = [("PRAGMA defer_foreign_keys = ON", [], None)]
        head.extend((s.sql, list(s.params), None) for s in before)
        tail: list[Owned] = [(s.sql, list(s.params), None) for s in after]
        for batch in tables:
            batch.inserted = 0
        if sum(len(b.rows) for b in tables) <= SMALL_IMPORT_ROWS:  # one request, one transactional batch
            rows = [owned for group in request_groups(tables) for owned in group]
            self._send(self.client.batch, [*head, *rows, *tail], transactional=True)
            return
        try:
            with self.client.transaction() as tx:
                self._stream(tx, head, request_groups(tables))
                self._send(tx.batch, tail)
        except LibsqlError as exc:  # COMMIT failed (deferred foreign keys) or the stream was lost
            raise StatementFailed(-1, f"import: {_message(exc)}") from None

    @staticmethod
    def _send(run: Callable[..., list[ResultSet]], statements: list[Owned], **options: Any) -> None:
        """Run statements, adding each INSERT's row count to its table; failures name the table."""
        try:
            results = run([(sql, args) for sql, args, _ in statements], **options)
        except LibsqlError as exc:
            owner = statements[exc.statement_index][2] if exc.statement_index is not None else None
            where = f"table {owner.table}" if owner is not None else "import"
            raise StatementFailed(-1, f"{where}: {_message(exc)}") from None
        for (_, _, owner), result in zip(statements, results, strict=True):
            if owner is not None:
                owner.inserted += result.rows_affected

    def _stream(self, tx: Transaction, head: list[Owned], groups: Iterator[list[Owned]]) -> None:
        """Send `head`, then request after request on one transaction, rendering and encoding the
        next (in another thread, mostly in SQLite's C code) while the server runs the current one."""
        ready: queue.Queue[Rendered | BaseException | None] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def render() -> None:
            try:
                for group in groups:
                    if stop.is_set():
                        return
                    ready.put((group, Transaction.encode_batch([(sql, args) for sql, args, _ in group])))
                ready.put(None)
            except BaseException as exc:  # handed to the sending thread, which raises it
                ready.put(exc)

        worker = threading.Thread(target=render, name="libsql-import-render", daemon=True)
        worker.start()
        try:
            self._send(tx.batch, head)
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                group, encoded = item
                self._send(lambda _, batch=encoded: tx.run_encoded(batch), group)
        finally:
            stop.set()
            while worker.is_alive():  # let a blocked put() finish so the thread can see `stop`
                with contextlib.suppress(queue.Empty):
                    ready.get(timeout=0.05)
            worker.join()

    def table_names(self) -> set[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
        return {str(r[0]) for r in rows}

    def close(self) -> None:
        self.client.close()


def _message(exc: LibsqlError) -> str:
    return f"{exc.message} [{exc.code}]"
