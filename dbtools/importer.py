"""Move preview rows into the deployed database: converted for the target, in foreign-key-safe order,
in one transaction, and never twice.

The import is recorded (the data's sha256) in a small `_oneclick_preview_imports` table in the same
transaction, so importing the same preview again is a no-op. By default rows go only into empty
tables; with `allow_non_empty` only rows whose keys are not there yet are added (ON CONFLICT DO
NOTHING), so nothing is ever duplicated. PostgreSQL sequences are moved past the imported ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbtools.convert import ConversionError, Converter, postgres_column_plan, postgres_converter
from dbtools.ddl import quote, string_literal
from dbtools.errors import DataError, ImportRefused, without_tokens
from dbtools.executor import Executor, Statement, StatementFailed, TableRows
from dbtools.layout import Layout, Table, build_layout
from dbtools.preview_data import PreviewData, PreviewTable, open_preview
from dbtools.prisma_schema import PrismaSchema

IMPORTS_TABLE = "_oneclick_preview_imports"
# Prisma's and this importer's own records, never user data.
BOOKKEEPING_TABLES = frozenset({IMPORTS_TABLE, "_prisma_migrations"})
IMPORTS_TABLE_DDL = {
    "postgresql": f"CREATE TABLE IF NOT EXISTS {IMPORTS_TABLE} (checksum VARCHAR(64) PRIMARY KEY NOT NULL, "
    "imported_at TIMESTAMPTZ NOT NULL DEFAULT now(), row_count INTEGER NOT NULL)",
    "sqlite": f"CREATE TABLE IF NOT EXISTS {IMPORTS_TABLE} (checksum TEXT PRIMARY KEY NOT NULL, "
    "imported_at DATETIME NOT NULL DEFAULT current_timestamp, row_count INTEGER NOT NULL)",
}


@dataclass(frozen=True)
class TableCount:
    table: str
    rows: int  # rows inserted
    preview_rows: int  # rows the preview held for this table


@dataclass(frozen=True)
class ImportReport:
    tables: tuple[TableCount, ...]
    checksum: str
    already_imported: bool
    seconds: float
    ignored: tuple[str, ...] = ()  # preview tables and `table.column`s the schema does not have

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def summary(self) -> str:
        if self.already_imported:
            return "data imported: 0 rows (this preview data was imported before)"
        return f"data imported: {self.rows} rows transferred from preview"


def foreign_key_order(layout: Layout) -> list[Table]:
    """Tables with every referenced table before its referrers. Tables in a cycle of references are
    ordered by their required foreign keys alone, so that only nullable ones point forward (the
    importer fills those in afterwards). Self-references need no order; otherwise declaration order."""
    by_name = {t.name: t for t in layout.tables}

    def targets(table: Table, required_only: bool) -> list[str]:
        return [
            fk.referenced_table
            for fk in table.foreign_keys
            if fk.referenced_table in by_name
            and fk.referenced_table != table.name
            and not (required_only and all(table.column(c).nullable for c in fk.columns))
        ]

    # Tarjan's strongly connected components come out referenced-first.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def connect(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in targets(by_name[name], False):
            if target not in index:
                connect(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component: list[str] = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == name:
                    break
            components.append(component)

    for table in layout.tables:
        if table.name not in index:
            connect(table.name)

    ordered: list[Table] = []
    placed: set[str] = set()

    def place(table: Table, component: list[str], path: frozenset[str]) -> None:
        """Within one component: required references first (a required cycle stays as declared)."""
        if table.name in placed or table.name in path:
            return
        for target in targets(table, True):
            if target in component:
                place(by_name[target], component, path | {table.name})
        placed.add(table.name)
        ordered.append(table)

    for component in components:
        for table in layout.tables:
            if table.name in component:
                place(table, component, frozenset())
    return ordered


def _row_converter(converters: list[Converter | None]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """One function converting a whole row; None when no column needs converting."""
    active = [(i, f) for i, f in enumerate(converters) if f is not None]
    if not active:
        return None
    if len(active) == len(converters):
        funcs = [f for _, f in active]
        return lambda row: tuple([f(v) for f, v in zip(funcs, row, strict=True)])

    def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
        out = list(row)
        for i, f in active:
            out[i] = f(out[i])
        return tuple(out)

    return convert


def _enum_values(schema: PrismaSchema) -> dict[str, frozenset[str]]:
    return {e.db_name: frozenset(v.db_name for v in e.values) for e in schema.enums}


def _break_cycles(layout: Layout, order: list[Table], batches: list[TableRows]) -> list[Statement]:
    """PostgreSQL checks foreign keys at the end of each COPY, so a table referring to one loaded later
    (tables in a cycle) is loaded with those columns NULL and updated once both are in. Returns the
    UPDATEs; only nullable foreign keys can be broken this way."""
    position = {t.name: i for i, t in enumerate(order)}
    updates: list[Statement] = []
    for batch in batches:
        table = layout.table(batch.table)
        for fk in table.foreign_keys:
            if (
                fk.referenced_table == table.name
                or position.get(fk.referenced_table, -1) < position[table.name]
            ):
                continue
            columns = [c for c in fk.columns if c in batch.columns]
            if not columns:
                continue
            if not all(table.column(c).nullable for c in columns) or not table.primary_key:
                raise DataError(
                    f"tables {table.name} and {fk.referenced_table} refer to each other through required "
                    f"foreign keys; make {table.name}.{columns[0]} optional to import preview rows"
                )
            slots = [batch.columns.index(c) for c in columns]
            keys = [batch.columns.index(c) for c in table.primary_key]
            assignments = ", ".join(f"{quote(c)} = %s" for c in columns)
            # `IS NULL` keeps rows that were already there (allow_non_empty) as they were.
            where = " AND ".join(
                [*(f"{quote(c)} = %s" for c in table.primary_key), *(f"{quote(c)} IS NULL" for c in columns)]
            )
            sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {where}"
            rows = []
            for row in batch.rows:
                values = [row[i] for i in slots]
                if any(v is not None for v in values):
                    updates.append(Statement(sql, (*values, *(row[k] for k in keys))))
                    row = tuple(None if i in slots else v for i, v in enumerate(row))
                rows.append(row)
            batch.rows = rows
    return updates


def _table_rows(
    preview: PreviewData, table: Table, dialect: str, enums: dict[str, frozenset[str]], ignored: list[str]
) -> TableRows | None:
    source = preview.find_table(table.name)
    if source is None:
        return None
    available = preview.columns(source)
    wanted = {c.name for c in table.columns}
    columns = [c.name for c in table.columns if c.name in available]
    ignored.extend(f"{table.name}.{c}" for c in available if c not in wanted)
    if not columns:
        return None
    if dialect != "postgresql":  # SQLite and libSQL take the preview's values exactly as stored
        rows = PreviewTable(preview, source, [quote(c) for c in columns])
        return TableRows(table.name, tuple(columns), rows)
    scalars = {c: table.column(c).scalar for c in columns}
    profiles = preview.profile(
        source,
        columns,
        ranges=frozenset(c for c in columns if scalars[c] in ("Boolean", "DateTime")),
        json=frozenset(c for c in columns if scalars[c] == "Json"),
    )
    select: list[str] = []
    converters: list[Converter | None] = []
    for name, profile in zip(columns, profiles, strict=True):
        column = table.column(name)
        allowed = enums.get(column.enum or "")
        if allowed is not None and preview.distinct(source, name) <= {*allowed, None}:
            allowed = None  # every value is known to be valid: nothing to check row by row
        expression, converter = postgres_column_plan(column, profile, quote(name), allowed)
        select.append(expression)
        converters.append(converter)
    rows = PreviewTable(preview, source, select, _row_converter(converters))
    return TableRows(table.name, tuple(columns), rows)


def _explain_conversion(
    preview: PreviewData, table: Table, columns: tuple[str, ...], enums: dict[str, frozenset[str]]
) -> None:
    """Find the value that failed and raise a DataError naming table, column and row."""
    source = preview.find_table(table.name) or table.name
    converters = [postgres_converter(table.column(c), enums.get(table.column(c).enum or "")) for c in columns]
    for number, row in enumerate(preview.rows(source, list(columns)), start=1):
        for column, converter, value in zip(columns, converters, row, strict=True):
            if converter is None:
                continue
            try:
                converter(value)
            except ConversionError as exc:
                raise DataError(
                    f"preview row {number} of {table.name}, column {column}: {exc}; "
                    f"fix the value in the preview data"
                ) from None


def _sequence_resets(table: Table) -> list[Statement]:
    column = table.autoincrement_column
    if column is None:
        return []
    name = quote(column.name)
    sequence = f"pg_get_serial_sequence({string_literal(quote(table.name))}, {string_literal(column.name)})"
    return [
        Statement(f"SELECT setval({sequence}, COALESCE(MAX({name}), 0) + 1, false) FROM {quote(table.name)}")
    ]


def _already_imported(executor: Executor, checksum: str) -> bool:
    if IMPORTS_TABLE not in executor.table_names():
        return False
    mark = "%s" if executor.dialect == "postgresql" else "?"
    return bool(executor.query(f"SELECT 1 FROM {IMPORTS_TABLE} WHERE checksum = {mark}", (checksum,)))


def _non_empty(executor: Executor, tables: list[TableRows]) -> list[str]:
    return [t.table for t in tables if t.rows and executor.query(f"SELECT 1 FROM {quote(t.table)} LIMIT 1")]


def _load(
    executor: Executor, layout: Layout, order: list[Table], batches: list[TableRows], checksum: str
) -> None:
    """One transaction: the rows, the sequences moved past them, and the record of this import."""
    dialect = executor.dialect
    after: list[Statement] = []
    if dialect == "postgresql":
        after.extend(_break_cycles(layout, order, batches))
        for batch in batches:
            after.extend(_sequence_resets(layout.table(batch.table)))
    total = sum(len(b.rows) for b in batches)
    mark = "%s" if dialect == "postgresql" else "?"
    after.append(
        Statement(
            f"INSERT INTO {IMPORTS_TABLE} (checksum, row_count) VALUES ({mark}, {mark})", (checksum, total)
        )
    )
    try:
        executor.bulk_load(
            [b for b in batches if b.rows], before=[Statement(IMPORTS_TABLE_DDL[dialect])], after=after
        )
    except StatementFailed as exc:
        problem = without_tokens(exc.message)
        raise DataError(f"preview data could not be imported, nothing was kept: {problem}") from None


def import_preview(
    executor: Executor,
    schema: PrismaSchema,
    data: Path | PreviewData,
    *,
    allow_non_empty: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import the preview data (a `.sql` dump, a `.sqlite` file, or opened PreviewData) into the
    migrated database behind `executor`."""
    say = progress or (lambda _: None)
    started = time.perf_counter()
    preview = data if isinstance(data, PreviewData) else open_preview(data, schema)
    try:
        if _already_imported(executor, preview.checksum):
            say("this preview data was imported before; nothing to do")
            return ImportReport((), preview.checksum, True, time.perf_counter() - started)
        dialect = executor.dialect
        layout = build_layout(schema, dialect)
        enums = _enum_values(schema)
        ignored: list[str] = []
        batches: list[TableRows] = []
        preview_rows: dict[str, int] = {}
        order = foreign_key_order(layout)
        for table in order:
            batch = _table_rows(preview, table, dialect, enums, ignored)
            if batch is not None:
                batches.append(batch)
                preview_rows[batch.table] = len(batch.rows)
        known = {preview.find_table(t.name) for t in layout.tables}
        ignored.extend(t for t in preview.tables() if t not in known and t not in BOOKKEEPING_TABLES)
        if ignored:
            say(f"not in the schema, so not imported: {', '.join(ignored)}")
        present = executor.table_names()
        missing = [b.table for b in batches if b.table not in present]
        if missing:
            raise ImportRefused(
                f"the database has no table {', '.join(missing)}; migrate it first "
                f"(`oneclick db migrate`, or migrate() before import_preview())"
            )
        occupied = _non_empty(executor, batches)
        if occupied and not allow_non_empty:
            raise ImportRefused(
                f"the database already holds rows in {', '.join(occupied)}; preview data is only "
                f"imported into empty tables. To add just the preview rows whose keys are missing, "
                f"allow it explicitly (--allow-non-empty, or allow_non_empty=True)"
            )
        for batch in batches:
            batch.skip_existing = batch.table in occupied
        say(f"importing {sum(len(b.rows) for b in batches)} preview rows into {len(batches)} tables")
        try:
            _load(executor, layout, order, batches, preview.checksum)
        except ConversionError:
            for batch in batches:
                _explain_conversion(preview, layout.table(batch.table), batch.columns, enums)
            raise
        counts = tuple(TableCount(b.table, b.inserted, preview_rows[b.table]) for b in batches)
        for count in counts:
            say(f"  {count.table}: {count.rows} rows")
        return ImportReport(counts, preview.checksum, False, time.perf_counter() - started, tuple(ignored))
    finally:
        if not isinstance(data, PreviewData):
            preview.close()
