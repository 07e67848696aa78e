"""The PostgreSQL and SQLite-file executors: bulk loads by COPY and by `executemany` (see executor.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from dbtools.byo_policy import connect_kwargs
from dbtools.ddl import quote
from dbtools.executor import Statement, StatementFailed, TableRows
from dbtools.postgres_url import explain_connect_error, libpq_url, parse_postgres_url


def _values_placeholders(count: int, mark: str) -> str:
    return "(" + ", ".join([mark] * count) + ")"


# --- PostgreSQL ------------------------------------------------------------------------------------


class PostgresExecutor:
    dialect = "postgresql"

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        connection.autocommit = True  # transactions are explicit (`connection.transaction()`)
        self.connection = connection

    @staticmethod
    def connect(url: str, connect_timeout: int = 10, *, byo: bool = False) -> PostgresExecutor:
        """Connect to a PostgreSQL URL as apps write it for Prisma; failures say what to fix.

        A tenant's own database (`byo`) goes through the deploy service's network policy first
        (dbtools/byo_policy.py), which pins the connection to the address it checked.
        """
        parse_postgres_url(url)
        pinned = connect_kwargs(url) if byo else {}
        try:
            connection = psycopg.connect(
                libpq_url(url), connect_timeout=connect_timeout, autocommit=True, **pinned
            )
        except psycopg.Error as exc:
            raise explain_connect_error(exc, url, opaque=bool(pinned)) from None
        return PostgresExecutor(connection)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, tuple(params) or None)
            return cursor.fetchall() if cursor.description else []

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        index = 0
        try:
            with self.connection.transaction(), self.connection.cursor() as cursor:
                for index in range(len(statements)):
                    cursor.execute(statements[index].sql, statements[index].params or None)
        except psycopg.Error as exc:
            raise StatementFailed(index, postgres_message(exc)) from None

    def bulk_load(
        self, tables: Sequence[TableRows], before: Sequence[Statement] = (), after: Sequence[Statement] = ()
    ) -> None:
        step = "before the rows"
        try:
            with self.connection.transaction(), self.connection.cursor() as cursor:
                for statement in before:
                    cursor.execute(statement.sql, statement.params or None)
                for batch in tables:
                    step = f"table {batch.table}"
                    batch.inserted = self._copy(cursor, batch)
                step = "after the rows"
                for statement in after:
                    cursor.execute(statement.sql, statement.params or None)
        except psycopg.Error as exc:
            raise StatementFailed(-1, f"{step}: {postgres_message(exc)}") from None

    @staticmethod
    def _copy(cursor: psycopg.Cursor[Any], batch: TableRows) -> int:
        columns = ", ".join(quote(c) for c in batch.columns)
        target = quote(batch.table)
        if batch.skip_existing:
            # COPY cannot skip conflicts: load a scratch copy, then insert what is not there yet.
            scratch = quote(f"_oneclick_load_{batch.table}"[:63])
            cursor.execute(f"CREATE TEMP TABLE {scratch} (LIKE {target}) ON COMMIT DROP")
            target = scratch
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for row in batch.rows:
                copy.write_row(row)
        if not batch.skip_existing:
            return len(batch.rows)
        cursor.execute(
            f"INSERT INTO {quote(batch.table)} ({columns}) SELECT {columns} FROM {target} "
            f"ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"DROP TABLE {target}")
        return inserted

    def table_names(self) -> set[str]:
        rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {str(r[0]) for r in rows}

    def close(self) -> None:
        self.connection.close()


def postgres_message(exc: psycopg.Error) -> str:
    diag = exc.diag
    message = diag.message_primary or str(exc).strip().splitlines()[0]
    if diag.message_detail:
        message += f" ({diag.message_detail})"
    if diag.sqlstate:
        message += f" [SQLSTATE {diag.sqlstate}]"
    return message


# --- SQLite files ----------------------------------------------------------------------------------


class SqliteExecutor:
    """A local SQLite database file (tests, exports, and the same SQL Turso runs)."""

    dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.connection = sqlite3.connect(self.path, isolation_level=None)  # explicit BEGIN/COMMIT
        self.connection.execute("PRAGMA foreign_keys = ON")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, tuple(params)).fetchall()

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        index = 0
        self.connection.execute("BEGIN")
        try:
            for index in range(len(statements)):
                self.connection.execute(statements[index].sql, statements[index].params)
            self.connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self.connection.execute("ROLLBACK")
            raise StatementFailed(index, str(exc)) from None

    def bulk_load(
        self, tables: Sequence[TableRows], before: Sequence[Statement] = (), after: Sequence[Statement] = ()
    ) -> None:
        step = "before the rows"
        self.connection.execute("BEGIN")
        try:
            # Checked at COMMIT, so rows of related tables (and self-references) may come in any order.
            self.connection.execute("PRAGMA defer_foreign_keys = ON")
            for statement in before:
                self.connection.execute(statement.sql, statement.params)
            for batch in tables:
                step = f"table {batch.table}"
                columns = ", ".join(quote(c) for c in batch.columns)
                conflict = " ON CONFLICT DO NOTHING" if batch.skip_existing else ""
                sql = (
                    f"INSERT INTO {quote(batch.table)} ({columns}) VALUES "
                    f"{_values_placeholders(len(batch.columns), '?')}{conflict}"
                )
                changes_before = self.connection.total_changes
                self.connection.executemany(sql, batch.rows)
                batch.inserted = self.connection.total_changes - changes_before
            step = "after the rows"
            for statement in after:
                self.connection.execute(statement.sql, statement.params)
            step = "commit (foreign keys)"
            self.connection.execute("COMMIT")
        except sqlite3.Error as exc:
            self.connection.execute("ROLLBACK")
            raise StatementFailed(-1, f"{step}: {exc}") from None

    def table_names(self) -> set[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
        return {str(r[0]) for r in rows}

    def close(self) -> None:
        self.connection.close()
