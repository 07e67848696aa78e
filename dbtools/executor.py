"""The executor interface migrations and imports run against, and the values that cross it.

Every executor offers reads (`query`), an all-or-nothing statement list (`run_transaction`) and an
all-or-nothing bulk load (`bulk_load`) that each backend does its fastest way: PostgreSQL with COPY,
SQLite with `executemany`, libSQL with large multi-row INSERTs sent as one transactional batch.
The backends live in executors.py (PostgreSQL, SQLite files) and libsql_executor.py (Turso);
connection.py picks one for a URL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from core.errors import OneclickError


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...] = ()


@dataclass
class TableRows:
    """Rows for one table, values already in the target's representation."""

    table: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[Any, ...]]
    skip_existing: bool = False  # insert only rows whose keys are not there (ON CONFLICT DO NOTHING)
    inserted: int = field(default=0)  # set by bulk_load


@runtime_checkable
class RendersSqlValues(Protocol):
    """Rows that can write themselves as SQL `(…)` literal tuples, a block of rows at a time
    (preview rows, which SQLite itself renders)."""

    def sql_value_blocks(self) -> Iterator[list[str]]: ...


class StatementFailed(OneclickError):
    """Statement `index` of a transaction failed; nothing of the transaction was kept."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


class Executor(Protocol):
    """A database connection migrations and imports can run against."""

    @property
    def dialect(self) -> str:
        """`postgresql` or `sqlite` (libSQL speaks SQLite)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement outside any transaction and return its rows."""

    def run_transaction(self, statements: Sequence[Statement]) -> None:
        """Run all statements in one transaction; raises StatementFailed and keeps nothing on failure."""

    def bulk_load(
        self, tables: Sequence[TableRows], before: Sequence[Statement] = (), after: Sequence[Statement] = ()
    ) -> None:
        """`before`, then every table's rows, then `after`, all in one transaction (sets `inserted`)."""

    def table_names(self) -> set[str]:
        """Tables of the database's default schema."""

    def close(self) -> None: ...
