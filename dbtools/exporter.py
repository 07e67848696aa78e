"""Export a deployed database's data back to a SQLite dump: the preview format, so the data can go
back into the in-browser database, into another deploy (`oneclick db import`), or into `sqlite3`.

Values are written in Prisma's SQLite representation (booleans 0/1, DateTime as milliseconds since
the epoch, Json as text). With the app's schema the tables are Prisma's own SQLite tables; without
it they are read from the database (SQLite: its own CREATE statements; PostgreSQL: column types
mapped to the SQLite types Prisma uses).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from dbtools.convert import to_sqlite_value
from dbtools.ddl import migration_steps, quote
from dbtools.executor import Executor
from dbtools.importer import IMPORTS_TABLE, TableCount, foreign_key_order
from dbtools.layout import build_layout
from dbtools.migrations import MIGRATIONS_TABLE
from dbtools.prisma_schema import PrismaSchema
from dbtools.sqlite_literals import sql_literal

BOOKKEEPING = frozenset({MIGRATIONS_TABLE, IMPORTS_TABLE})
# PostgreSQL column types → the SQLite types Prisma declares for the same Prisma scalar.
POSTGRES_TO_SQLITE = {
    "integer": "INTEGER",
    "smallint": "INTEGER",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    "text": "TEXT",
    "character varying": "TEXT",
    "character": "TEXT",
    "uuid": "TEXT",
    "double precision": "REAL",
    "real": "REAL",
    "numeric": "DECIMAL",
    "timestamp without time zone": "DATETIME",
    "timestamp with time zone": "DATETIME",
    "date": "DATETIME",
    "jsonb": "JSONB",
    "json": "JSONB",
    "bytea": "BLOB",
    "USER-DEFINED": "TEXT",  # enums
}


@dataclass(frozen=True)
class ExportReport:
    path: Path
    tables: tuple[TableCount, ...]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def summary(self) -> str:
        return f"{self.rows} rows from {len(self.tables)} tables exported to {self.path}"


@dataclass(frozen=True)
class _TableSource:
    name: str
    columns: tuple[str, ...]
    select: str  # SELECT … FROM the table, values ready for to_sqlite_value


def _schema_tables(
    schema: PrismaSchema, executor: Executor
) -> tuple[list[str], list[str], list[_TableSource]]:
    layout = build_layout(schema, "sqlite")
    steps = migration_steps(layout)
    creates = [s.sql for s in steps if s.kind == "CreateTable"]
    indexes = [s.sql for s in steps if s.kind == "CreateIndex"]
    sources = []
    json_columns = {(t.name, c.name) for t in layout.tables for c in t.columns if c.scalar == "Json"}
    cast = "::text" if executor.dialect == "postgresql" else ""
    for table in foreign_key_order(layout):
        names = tuple(c.name for c in table.columns)
        select = ", ".join(quote(c) + (cast if (table.name, c) in json_columns else "") for c in names)
        sources.append(_TableSource(table.name, names, f"SELECT {select} FROM {quote(table.name)}"))
    return creates, indexes, sources


def _sqlite_tables(executor: Executor) -> tuple[list[str], list[str], list[_TableSource]]:
    rows = executor.query(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid"
    )
    creates, indexes, sources = [], [], []
    for kind, name, table, sql in rows:
        if str(table) in BOOKKEEPING:
            continue
        if kind == "table":
            creates.append(str(sql))
            columns = tuple(str(r[1]) for r in executor.query(f"PRAGMA table_info({quote(str(name))})"))
            select = ", ".join(quote(c) for c in columns)
            sources.append(_TableSource(str(name), columns, f"SELECT {select} FROM {quote(str(name))}"))
        else:
            indexes.append(str(sql))
    return creates, indexes, sources


def _postgres_tables(executor: Executor) -> tuple[list[str], list[str], list[_TableSource]]:
    columns = executor.query(
        "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position"
    )
    keys = executor.query(
        "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
        "AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name "
        "WHERE tc.table_schema = current_schema() AND tc.constraint_type = 'PRIMARY KEY' "
        "ORDER BY tc.table_name, kcu.ordinal_position"
    )
    primary: dict[str, list[str]] = {}
    for table, column in keys:
        primary.setdefault(str(table), []).append(str(column))
    by_table: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, data_type, nullable in columns:
        if str(table) not in BOOKKEEPING:
            by_table.setdefault(str(table), []).append((str(column), str(data_type), nullable == "YES"))
    creates, sources = [], []
    for table, cols in by_table.items():
        lines = [
            f"    {quote(name)} {POSTGRES_TO_SQLITE.get(kind, 'TEXT')}{'' if nullable else ' NOT NULL'}"
            for name, kind, nullable in cols
        ]
        if table in primary:
            lines.append(f"    PRIMARY KEY ({', '.join(quote(c) for c in primary[table])})")
        creates.append(f"CREATE TABLE {quote(table)} (\n" + ",\n".join(lines) + "\n)")
        select = ", ".join(quote(n) + ("::text" if k in ("json", "jsonb") else "") for n, k, _ in cols)
        sources.append(
            _TableSource(table, tuple(n for n, _, _ in cols), f"SELECT {select} FROM {quote(table)}")
        )
    return creates, [], sources


def export_dump(
    executor: Executor,
    out: Path,
    schema: PrismaSchema | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> ExportReport:
    """Write every table's rows (not Prisma's bookkeeping) to `out` as a SQLite SQL dump."""
    say = progress or (lambda _: None)
    if schema is not None:
        creates, indexes, sources = _schema_tables(schema, executor)
    elif executor.dialect == "postgresql":
        creates, indexes, sources = _postgres_tables(executor)
    else:
        creates, indexes, sources = _sqlite_tables(executor)
    existing = executor.table_names()
    counts: list[TableCount] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w", encoding="utf-8") as dump:
        dump.write("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n")
        for create in creates:
            dump.write(create + ";\n")
        for source in sources:
            if source.name not in existing:
                continue
            rows = executor.query(source.select)
            _write_rows(dump, source, rows)
            counts.append(TableCount(source.name, len(rows), len(rows)))
            say(f"  {source.name}: {len(rows)} rows")
        for index in indexes:
            dump.write(index + ";\n")
        dump.write("COMMIT;\n")
    tmp.replace(out)
    return ExportReport(out, tuple(counts))


def _write_rows(dump: TextIO, source: _TableSource, rows: list[tuple[Any, ...]]) -> None:
    head = f"INSERT INTO {quote(source.name)} ({', '.join(quote(c) for c in source.columns)}) VALUES("
    for row in rows:
        dump.write(head + ",".join(sql_literal(to_sqlite_value(v)) for v in row) + ");\n")
