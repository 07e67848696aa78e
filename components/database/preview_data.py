"""Preview data as the in-browser database exports it: a SQL dump (as sql.js / `sqlite3 .dump` write
it) or a SQLite database file. A dump is loaded into an in-memory SQLite database and read from there.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.database.ddl import quote, schema_ddl
from components.database.errors import DataError
from components.database.prisma_schema import PrismaSchema
from components.database.sql_split import split_statements

SQLITE_MAGIC = b"SQLite format 3\x00"
_CREATE_TABLE = re.compile(r"\bCREATE\s+TABLE\b", re.IGNORECASE)


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

    def iter_rows(
        self, table: str, columns: list[str], size: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        select = ", ".join(quote(c) for c in columns)
        cursor = self.connection.execute(f"SELECT {select} FROM {quote(table)}")
        while batch := cursor.fetchmany(size):
            yield batch


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
        connection = sqlite3.connect(f"file:{path.resolve()}?mode=ro&immutable=1", uri=True)
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
    connection = sqlite3.connect(":memory:")
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
