"""Preview data as the in-browser database exports it: a SQL dump (as sql.js / `sqlite3 .dump` write
it) or a SQLite database file. A dump is loaded into an in-memory SQLite database and read from there.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import apsw

from core.files import PREVIEW_CAP, FileRefused, read_capped, shown
from dbtools.ddl import quote, schema_ddl, string_literal
from dbtools.errors import DataError, without_tokens
from dbtools.prisma_schema import PrismaSchema
from dbtools.sql_split import numbered_statements
from dbtools.sqlite_literals import sql_literal

SQLITE_MAGIC = b"SQLite format 3\x00"
FIELD = "database.previewData"  # the spec field naming the file, in errors
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
    """Read access to the preview tables; `checksum` identifies the data (sha256 of the file).
    `file` is the SQLite file the data was opened from (None for a dump loaded into memory)."""

    connection: sqlite3.Connection
    checksum: str
    source: str
    file: Path | None = None
    _renderer: apsw.Connection | None = field(default=None, init=False, repr=False)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
        self.connection.close()

    def renderer(self) -> apsw.Connection:
        """The same data through apsw's own SQLite, whose quote() writes every REAL exactly (the
        system's SQLite may be older than 3.43 and not): what writes SQL literals for libSQL."""
        if self._renderer is None:
            if self.file is not None:
                flags = apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
                self._renderer = apsw.Connection(_read_only_uri(self.file), flags=flags)
            else:
                self._renderer = apsw.Connection(":memory:")
                self._renderer.deserialize("main", self.connection.serialize())
        return self._renderer

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

    def sql_value_blocks(self) -> Iterator[list[str]]:
        """The rows as SQL `(…)` tuples of literals, a block of rows at a time, written by SQLite's
        printf() (C, not Python): `%d` for a column of integers only, `%Q` for one of text and
        NULLs, quote() for any other. Both stop text at a NUL, so a row with a NUL in its text is
        written by Python."""
        if self.convert is not None:
            raise ValueError("rows converted in Python have no SQLite literals")
        if not EXACT_QUOTE:
            yield from python_value_blocks(self)
            return
        db = self.preview.renderer()
        distinct_types = ", ".join(f"group_concat(DISTINCT typeof({e}))" for e in self.select)
        kinds = next(db.execute(f"SELECT {distinct_types} FROM {quote(self.table)}"))
        types = [set(str(k).split(",")) if k else set() for k in kinds]
        run: list[tuple[str, str]] = [("(", "")]  # (text or printf conversion, its argument)
        for i, expression in enumerate(self.select):
            if i:
                run.append((",", ""))
            if types[i] <= {"integer"}:
                run.append(("%d", expression))
            elif types[i] <= {"text", "null"}:
                run.append(("%Q", expression))
            else:
                run.append(("%s", f"quote({expression})"))
        run.append((")", ""))
        nul = [f"instr({e}, char(0))" for e, t in zip(self.select, types, strict=True) if "text" in t]
        check = f"coalesce({' OR '.join(nul)}, 0)" if nul else "0"
        try:
            cursor = db.execute(f"SELECT {_printf(run)}, {check}, rowid FROM {quote(self.table)}")
        except apsw.SQLError:  # a WITHOUT ROWID table: Python writes every row
            yield from python_value_blocks(self)
            return
        while block := list(itertools.islice(cursor, 10_000)):
            if any(row[1] for row in block):
                yield [self._python_literal(row) for row in block]
            else:
                yield [row[0] for row in block]

    def _python_literal(self, row: tuple[str, int, int]) -> str:
        """A rendered row's literal, or Python's when SQLite's stopped at a NUL."""
        if not row[1]:
            return row[0]
        sql = f"SELECT {', '.join(self.select)} FROM {quote(self.table)} WHERE rowid = ?"
        return next(python_value_blocks(self.preview.renderer().execute(sql, (row[2],))))[0]


# SQLite functions take at most 127 arguments (SQLITE_MAX_FUNCTION_ARG's default in older builds).
PRINTF_ARGUMENTS = 100
# quote() writes every REAL so that it reads back exactly since SQLite 3.43.
EXACT_QUOTE = tuple(int(n) for n in apsw.sqlite_lib_version().split(".")[:2]) >= (3, 43)


def _printf(run: list[tuple[str, str]]) -> str:
    """SQL that writes a run of (text or printf conversion, argument) pairs: printf() calls of at
    most PRINTF_ARGUMENTS arguments each, joined with ||."""
    parts: list[str] = []
    text: list[str] = []
    arguments: list[str] = []
    for piece, argument in run:
        text.append(piece)
        if argument:
            arguments.append(argument)
        if len(arguments) == PRINTF_ARGUMENTS:
            parts.append(f"printf({string_literal(''.join(text))}, {', '.join(arguments)})")
            text, arguments = [], []
    if arguments:
        parts.append(f"printf({string_literal(''.join(text))}, {', '.join(arguments)})")
    elif text:
        parts.append(string_literal("".join(text)))
    return " || ".join(parts)


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


def read_preview(path: Path, field: str = FIELD) -> tuple[bytes, str]:
    """The preview file's bytes and its sha256, read safely (a regular file of at most PREVIEW_CAP
    bytes), and checked to be a SQLite database or UTF-8 text; DataError otherwise."""
    try:
        raw = read_capped(path, field, PREVIEW_CAP)
    except FileRefused as exc:
        raise DataError(str(exc)) from None
    if not raw.startswith(SQLITE_MAGIC):
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise DataError(
                f"{field}: {shown(path)} is neither a SQLite database nor a UTF-8 SQL dump (line {line} "
                f"is not UTF-8); give the sql.js dump (.sql) or .sqlite file"
            ) from None
    return raw, hashlib.sha256(raw).hexdigest()


def open_preview(path: Path, schema: PrismaSchema | None = None, field: str = FIELD) -> PreviewData:
    """Open a `.sql` dump or a SQLite file. A dump without CREATE TABLE statements (data only) gets
    its tables from the schema first. Errors name `field`, lines and kinds, never the file's text."""
    raw, checksum = read_preview(path, field)
    if raw.startswith(SQLITE_MAGIC):
        # SQLite opens the path itself: read_preview has just checked it is a regular file in the cap.
        connection = sqlite3.connect(_read_only_uri(path), uri=True, check_same_thread=False)
        return PreviewData(_no_attach(connection), checksum, str(path), path)
    script = raw.decode("utf-8-sig")
    del raw
    prelude = ""
    if not _CREATE_TABLE.search(script):
        if schema is None:
            problem = "holds no CREATE TABLE statements; give the Prisma schema too"
            raise DataError(f"{field}: {shown(path)} {problem}")
        prelude = schema_ddl(schema, "sqlite")
    return PreviewData(_load_dump(prelude, script, path, field), checksum, str(path))


def _read_only_uri(path: Path) -> str:
    """A URI opening the SQLite file at `path` read-only; `immutable`: nothing else writes it."""
    return f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro&immutable=1"


def _no_attach(connection: sqlite3.Connection) -> sqlite3.Connection:
    """A dump is SQL from anywhere: `ATTACH '/other/tenant.sqlite'` would read any SQLite file of the
    host into the preview, and ATTACH or `VACUUM INTO` would write files. No database may be attached."""
    connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    return connection


def _load_dump(prelude: str, script: str, path: Path, field: str) -> sqlite3.Connection:
    # Read by one thread at a time, but not always the one that opened it (a libSQL import renders
    # its next request while the current one runs).
    connection = _no_attach(sqlite3.connect(":memory:", check_same_thread=False))
    try:
        connection.executescript(prelude + script)
        return connection
    except sqlite3.Error:
        connection.close()
    # Load again statement by statement to say which one is at fault (the fast path cannot tell).
    connection = _no_attach(sqlite3.connect(":memory:", isolation_level=None))
    try:
        connection.executescript(prelude)
        for number, (line, statement) in enumerate(numbered_statements(script), start=1):
            try:
                connection.execute(statement)
            except sqlite3.Error as exc:
                # Named by number and line, never quoted: the file may be anything but a dump.
                raise DataError(
                    f"{field}: {shown(path)} statement {number} (line {line}) cannot be loaded: "
                    f"{without_tokens(str(exc))}; fix that statement or export the preview data again"
                ) from None
    finally:
        connection.close()
    problem = "cannot be loaded as a SQLite dump; export the preview data again"
    raise DataError(f"{field}: {shown(path)} {problem}")
