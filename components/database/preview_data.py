"""Preview data as the in-browser database exports it: a SQL dump (as sql.js / `sqlite3 .dump` write
it) or a SQLite database file. A dump is loaded into an in-memory SQLite database and read from there.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from components.database.ddl import quote, schema_ddl
from components.database.errors import DataError
from components.database.prisma_schema import PrismaSchema
from components.database.sql_split import split_statements
from components.database.sqlite_literals import sql_literal

SQLITE_MAGIC = b"SQLite format 3\x00"
_CREATE_TABLE = re.compile(r"\bCREATE\s+TABLE\b", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnProfile:
    """What one preview column holds, from one scan: SQLite's storage classes (dynamic typing lets a
    column mix them), the integer range, and whether any text holds NUL or is not JSON."""

    name: str
    types: frozenset[str]  # of "integer", "real", "text", "blob", "null"
    min_integer: int | None
    max_integer: int | None
    nul_in_text: bool
    invalid_json: int  # text values that are not JSON (counted for `json_columns` only)

    def only(self, *types: str) -> bool:
        return self.types <= {*types, "null"}


@dataclass
class PreviewData:
    """Read access to the preview tables; `checksum` identifies the data (sha256 of the file)."""

    connection: sqlite3.Connection
    checksum: str
    source: str

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> PreviewData:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def tables(self) -> list[str]:
        rows = self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY name"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def find_table(self, name: str) -> str | None:
        """The preview table for `name`: the same name, else the only one equal ignoring case."""
        tables = self.tables()
        if name in tables:
            return name
        folded = [t for t in tables if t.lower() == name.lower()]
        return folded[0] if len(folded) == 1 else None

    def columns(self, table: str) -> list[str]:
        return [str(row[1]) for row in self.connection.execute(f"PRAGMA table_info({quote(table)})")]

    def count(self, table: str) -> int:
        return int(self.connection.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0])

    def rows(self, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
        select = ", ".join(quote(c) for c in columns)
        return self.connection.execute(f"SELECT {select} FROM {quote(table)} ORDER BY rowid").fetchall()

    def profile(
        self,
        table: str,
        columns: list[str],
        *,
        ranges: frozenset[str] = frozenset(),
        json: frozenset[str] = frozenset(),
        nul: frozenset[str] = frozenset(),
    ) -> list[ColumnProfile]:
        """One scan of `table` describing each column (see ColumnProfile); the integer range, JSON
        validity and NUL search cost time, so they are computed only for the columns named."""
        parts: list[str] = []
        for column in columns:
            q = quote(column)
            integer = f"CASE WHEN typeof({q}) = 'integer' THEN {q} END"
            parts += [
                f"group_concat(DISTINCT typeof({q}))",
                f"min({integer})" if column in ranges else "NULL",
                f"max({integer})" if column in ranges else "NULL",
                f"max(typeof({q}) = 'text' AND instr({q}, char(0)) > 0)" if column in nul else "0",
                f"sum(typeof({q}) = 'text' AND NOT json_valid({q}))" if column in json else "0",
            ]
        row = self.connection.execute(f"SELECT {', '.join(parts)} FROM {quote(table)}").fetchone()
        profiles = []
        for i, column in enumerate(columns):
            types, low, high, has_nul, invalid = row[i * 5 : i * 5 + 5]
            kinds = frozenset(str(types).split(",")) if types else frozenset({"null"})
            profiles.append(ColumnProfile(column, kinds, low, high, bool(has_nul), int(invalid or 0)))
        return profiles

    def distinct(self, table: str, column: str) -> set[Any]:
        return {r[0] for r in self.connection.execute(f"SELECT DISTINCT {quote(column)} FROM {quote(table)}")}


class PreviewTable(Sequence[tuple[Any, ...]]):
    """One preview table's rows as an import sends them: read lazily (in the order stored), each
    column through its SELECT expression and, where SQLite cannot convert it, a Python function."""

    def __init__(
        self,
        preview: PreviewData,
        table: str,
        select: list[str],
        convert: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
    ) -> None:
        self.preview = preview
        self.table = table
        self.select = select
        self.convert = convert
        self._count = preview.count(table)
        self._rows: list[tuple[Any, ...]] | None = None

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        if self._rows is not None:
            yield from self._rows
            return
        cursor = self.preview.connection.execute(f"SELECT {', '.join(self.select)} FROM {quote(self.table)}")
        while batch := cursor.fetchmany(10_000):
            yield from (map(self.convert, batch) if self.convert else batch)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[Any, ...]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | Sequence[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = list(self)
        return self._rows[index]

    def sql_value_blocks(self, real_columns: frozenset[int] = frozenset()) -> Iterator[list[str]]:
        """The rows as SQL `(…)` tuples of literals, a block of rows at a time, written by SQLite's
        quote() (C, not Python). quote() is not exact for every REAL and stops text at a NUL, so the
        `real_columns` (by index) and any other column found holding a REAL are written by Python
        (repr() is exact), and a row with a NUL in its text is written by Python whole."""
        if self.convert is not None:
            raise ValueError("rows converted in Python have no SQLite literals")
        distinct_types = ", ".join(f"group_concat(DISTINCT typeof({e}))" for e in self.select)
        kinds = self.preview.connection.execute(
            f"SELECT {distinct_types} FROM {quote(self.table)}"
        ).fetchone()
        types = [set(str(k).split(",")) if k else set() for k in kinds]
        fragments: list[str] = []  # SQL giving the text between (and around) the REAL columns
        reals: list[str] = []
        run = ["'('"]
        for i, expression in enumerate(self.select):
            if i:
                run.append("','")
            if i in real_columns or "real" in types[i]:
                fragments.append(" || ".join(run))
                reals.append(expression)
                run = []
            else:
                run.append(f"quote({expression})")
        fragments.append(" || ".join([*run, "')'"]))
        columns = [fragments[0]]
        for real, fragment in zip(reals, fragments[1:], strict=True):
            columns += [real, fragment]
        flag = len(columns)
        nul = [f"instr({e}, char(0))" for e, t in zip(self.select, types, strict=True) if "text" in t]
        check = f"coalesce({' OR '.join(nul)}, 0)" if nul else "0"
        try:
            cursor = self.preview.connection.execute(
                f"SELECT {', '.join(columns)}, {check}, rowid FROM {quote(self.table)}"
            )
        except sqlite3.OperationalError:  # a WITHOUT ROWID table: Python writes every row
            yield from python_value_blocks(self)
            return
        literal = sql_literal
        exact_float = float.__repr__
        while block := cursor.fetchmany(10_000):
            if any(row[flag] for row in block):
                yield [text for row in block for text in self._exact(row, flag)]
            elif not reals:
                yield [row[0] for row in block]
            elif len(reals) == 1:  # the usual shape (one Float or Decimal column): the fast path
                yield [
                    row[0] + (exact_float(v) if type(v) is float and v - v == 0.0 else literal(v)) + row[2]
                    for row in block
                    for v in (row[1],)
                ]
            else:
                yield [
                    "".join(value if i % 2 == 0 else literal(value) for i, value in enumerate(row[:flag]))
                    for row in block
                ]

    def _exact(self, row: tuple[Any, ...], flag: int) -> list[str]:
        """One row's literal, by Python when SQLite's would not be exact."""
        if row[flag]:
            return [next(python_value_blocks(self._row(row[flag + 1])))[0]]
        literal = sql_literal
        return ["".join(value if i % 2 == 0 else literal(value) for i, value in enumerate(row[:flag]))]

    def _row(self, rowid: int) -> list[tuple[Any, ...]]:
        sql = f"SELECT {', '.join(self.select)} FROM {quote(self.table)} WHERE rowid = ?"
        return self.preview.connection.execute(sql, (rowid,)).fetchall()


def python_value_blocks(rows: Iterable[tuple[Any, ...]], size: int = 10_000) -> Iterator[list[str]]:
    """Rows as SQL `(…)` literal tuples written by Python, a block at a time."""
    block: list[str] = []
    for row in rows:
        block.append("(" + ",".join([sql_literal(v) for v in row]) + ")")
        if len(block) >= size:
            yield block
            block = []
    if block:
        yield block


def open_preview(path: Path, schema: PrismaSchema | None = None) -> PreviewData:
    """Open a `.sql` dump or a SQLite file. A dump without CREATE TABLE statements (data only) gets
    its tables from the schema first."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"preview data file {path} does not exist; pass the sql.js dump (.sql) or .sqlite file"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot read preview data {path}: {exc.strerror or exc}") from None
    checksum = hashlib.sha256(raw).hexdigest()
    if raw.startswith(SQLITE_MAGIC):
        connection = sqlite3.connect(
            f"file:{path.resolve()}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
        return PreviewData(connection, checksum, str(path))
    try:
        script = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path} is neither a SQLite database nor a UTF-8 SQL dump") from None
    prelude = ""
    if not _CREATE_TABLE.search(script):
        if schema is None:
            raise DataError(f"{path} holds no CREATE TABLE statements; give the Prisma schema too")
        prelude = schema_ddl(schema, "sqlite")
    return PreviewData(_load_dump(prelude, script, path), checksum, str(path))


def _load_dump(prelude: str, script: str, path: Path) -> sqlite3.Connection:
    # Read by one thread at a time, but not always the one that opened it (a libSQL import renders
    # its next request while the current one runs).
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    try:
        connection.executescript(prelude + script)
        return connection
    except sqlite3.Error:
        connection.close()
    # Load again statement by statement to say which one is at fault (the fast path cannot tell).
    connection = sqlite3.connect(":memory:", isolation_level=None)
    try:
        connection.executescript(prelude)
        for number, statement in enumerate(split_statements(script), start=1):
            try:
                connection.execute(statement)
            except sqlite3.Error as exc:
                shown = statement if len(statement) < 200 else statement[:200] + " …"
                raise DataError(
                    f"{path}: statement {number} cannot be loaded: {exc}\n  statement: {shown}"
                ) from None
    finally:
        connection.close()
    raise DataError(f"{path} cannot be loaded as a SQLite dump")
