"""Apply Prisma migrations and record them the way `prisma migrate deploy` does.

A `prisma/migrations` folder (`<timestamp>_<name>/migration.sql`, applied in name order) is applied
as written; without one, a `0_init` migration is generated from the schema (Prisma's own baselining
name, so a later `prisma migrate` run sees the database as initialised). Each migration runs in one
transaction together with its `_prisma_migrations` row, so a failing statement leaves the database as
it was and nothing is recorded. Migrations already recorded are not applied again.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.files import (
    MIGRATION_CAP,
    MIGRATION_LOCK_CAP,
    MIGRATIONS_TOTAL_CAP,
    FileRefused,
    read_capped,
    shown,
    size_text,
)
from dbtools.ddl import render_migration
from dbtools.errors import DatabaseError, MigrationError
from dbtools.executor import Executor, Statement, StatementFailed
from dbtools.layout import build_layout
from dbtools.prisma_schema import PrismaSchema
from dbtools.sql_split import numbered_statements

FIELD = "database.migrations"  # the spec field naming the folder, in errors
MIGRATIONS_TABLE = "_prisma_migrations"
INIT_MIGRATION = "0_init"
# Prisma's advisory lock key for migrations on PostgreSQL: its own tools wait for us and we for them.
PRISMA_ADVISORY_LOCK = 72707369

# Exactly Prisma's bookkeeping table per connector (schema engine, `create_migrations_table`).
MIGRATIONS_TABLE_DDL = {
    "postgresql": """CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)""",
    "sqlite": """CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)""",
}
_PRAGMA_FK_OFF = re.compile(r"^PRAGMA\s+foreign_keys\s*=\s*(OFF|0|false)$", re.IGNORECASE)
_PRAGMA_FK_ON = re.compile(r"^PRAGMA\s+foreign_keys\s*=\s*(ON|1|true)$", re.IGNORECASE)
_LOCK_PROVIDER = re.compile(r'^\s*provider\s*=\s*"([^"]+)"', re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str
    checksum: str  # sha256 of migration.sql, hex, as Prisma records it
    generated: bool = False

    @staticmethod
    def from_text(name: str, sql: str, generated: bool = False) -> Migration:
        return Migration(name, sql, hashlib.sha256(sql.encode("utf-8")).hexdigest(), generated)


@dataclass(frozen=True)
class MigrationReport:
    applied: tuple[str, ...]
    already_applied: tuple[str, ...]
    tables: int
    indexes: int
    generated: bool  # the migration came from the schema, not a migrations folder
    note: str = ""

    @property
    def summary(self) -> str:
        done = f"{len(self.applied)} migration(s) applied" if self.applied else "nothing new to apply"
        return f"schema migrated: {self.tables} tables, {self.indexes} indexes ({done})"


def folder_provider(directory: Path, field: str = FIELD) -> str | None:
    """The provider a migrations folder was written for, from migration_lock.toml if present."""
    lock = directory / "migration_lock.toml"
    if os.path.lexists(lock):
        match = _LOCK_PROVIDER.search(_read(lock, field, MIGRATION_LOCK_CAP).decode("utf-8", "replace"))
        if match:
            return "postgresql" if match.group(1) in ("postgresql", "postgres") else match.group(1)
    return None


def read_migrations(directory: Path, field: str = FIELD) -> list[Migration]:
    """`<name>/migration.sql` of every subfolder, in name order (Prisma's order).

    Only regular files and folders are read (no links, FIFOs or devices), each migration.sql of at
    most MIGRATION_CAP bytes and all of them together at most MIGRATIONS_TOTAL_CAP."""
    try:
        is_folder = stat.S_ISDIR(os.stat(directory).st_mode)
    except (OSError, ValueError):
        is_folder = False
    if not is_folder:
        raise DatabaseError(
            f"{field}: {shown(directory)} is not a folder; pass prisma/migrations or leave it out"
        )
    migrations = []
    total = 0
    for folder in sorted(directory.iterdir()):
        mode = os.lstat(folder).st_mode
        if stat.S_ISLNK(mode):
            raise DatabaseError(
                f"{field}: {shown(folder)} is a symbolic link; copy the migration into the folder instead"
            )
        if not stat.S_ISDIR(mode):
            continue
        script = folder / "migration.sql"
        if not os.path.lexists(script):
            raise DatabaseError(
                f"{field}: migration {folder.name} has no migration.sql; add it or remove the folder {folder}"
            )
        raw = _read(script, field, MIGRATION_CAP)
        total += len(raw)
        if total > MIGRATIONS_TOTAL_CAP:
            raise DatabaseError(
                f"{field}: {shown(directory)} holds more than {size_text(MIGRATIONS_TOTAL_CAP)} of "
                f"migrations; squash them (prisma migrate diff) into fewer, smaller ones"
            )
        try:
            sql = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise DatabaseError(
                f"{field}: {shown(script)} is not UTF-8 text (line {line}); save it as UTF-8"
            ) from None
        migrations.append(Migration(folder.name, sql, hashlib.sha256(raw).hexdigest()))
    return migrations


def _read(path: Path, field: str, cap: int) -> bytes:
    try:
        return read_capped(path, field, cap)
    except FileRefused as exc:
        raise DatabaseError(str(exc)) from None


def generated_migration(schema: PrismaSchema, dialect: str) -> Migration:
    """The `0_init` migration for `schema` on `dialect` (what `prisma migrate diff --from-empty` writes)."""
    return Migration.from_text(
        INIT_MIGRATION, render_migration(build_layout(schema, dialect)), generated=True
    )


def plan_migrations(
    schema: PrismaSchema, dialect: str, migrations_dir: Path | None
) -> tuple[list[Migration], str]:
    """The migrations to deploy to a `dialect` database, and a note when the folder could not be used."""
    if migrations_dir is None:
        return [generated_migration(schema, dialect)], ""
    migrations = read_migrations(migrations_dir)
    if not migrations:
        return [generated_migration(schema, dialect)], ""
    written_for = folder_provider(migrations_dir)
    if written_for is not None and (written_for == "sqlite") != (dialect == "sqlite"):
        if dialect == "postgresql":
            # SQLite SQL does not run on PostgreSQL: deploy the schema as a PostgreSQL init migration.
            note = (
                f"{migrations_dir} was written for {written_for}; applied {INIT_MIGRATION} generated "
                f"from the schema for postgresql instead"
            )
            return [generated_migration(schema, dialect)], note
        raise DatabaseError(
            f"{migrations_dir} was written for {written_for} (migration_lock.toml) and cannot run "
            f"on SQLite/libSQL; leave --migrations out to generate the tables from the schema"
        )
    return migrations, ""


def _sqlite_statement(statement: str) -> str | None:
    """SQLite ignores `PRAGMA foreign_keys` inside a transaction; deferring the checks to COMMIT keeps
    the intent of Prisma's table-redefinition migrations (which switch them off around the copy)."""
    if _PRAGMA_FK_OFF.match(statement):
        return "PRAGMA defer_foreign_keys = ON"
    if _PRAGMA_FK_ON.match(statement):
        return None
    return statement


def migration_statements(migration: Migration, dialect: str) -> list[tuple[int, str]]:
    """(line in migration.sql, statement) for each statement the migration runs on `dialect`."""
    statements = numbered_statements(migration.sql)
    if dialect != "sqlite":
        return statements
    converted = ((line, _sqlite_statement(x)) for line, x in statements)
    return [(line, s) for line, s in converted if s is not None]


def _record_statement(migration: Migration, dialect: str, started_ms: int) -> Statement:
    if dialect == "postgresql":
        return Statement(
            "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, "
            "applied_steps_count) VALUES (%s, %s, %s, to_timestamp(%s / 1000.0), now(), 1)",
            (str(uuid.uuid4()), migration.checksum, migration.name, started_ms),
        )
    # As `prisma migrate deploy` through the libSQL driver adapter (how Turso apps run it) writes them.
    return Statement(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, '
        "applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)",
        (
            str(uuid.uuid4()),
            migration.checksum,
            migration.name,
            _iso(started_ms),
            _iso(int(time.time() * 1000)),
        ),
    )


def _iso(millis: int) -> str:
    """`2025-01-01T12:00:00.000+00:00`, the text Prisma's SQLite adapters store for a DateTime."""
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    return moment.isoformat(timespec="milliseconds")


def applied_migrations(executor: Executor) -> dict[str, tuple[str, bool]]:
    """Recorded migrations: name → (checksum, finished). Rolled-back rows are not applied."""
    if MIGRATIONS_TABLE not in executor.table_names():
        return {}
    rows = executor.query(
        "SELECT migration_name, checksum, finished_at FROM _prisma_migrations WHERE rolled_back_at IS NULL"
    )
    recorded: dict[str, tuple[str, bool]] = {}
    for name, checksum, finished_at in rows:
        done = finished_at is not None
        if str(name) not in recorded or done:
            recorded[str(name)] = (str(checksum), done)
    return recorded


def migrate(
    executor: Executor,
    schema: PrismaSchema,
    migrations_dir: Path | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Bring the database up to `schema` (or `migrations_dir`), recording each migration as Prisma does."""
    say = progress or (lambda _: None)
    dialect = executor.dialect
    migrations, note = plan_migrations(schema, dialect, migrations_dir)
    if note:
        say(note)
    locked = dialect == "postgresql"
    if locked:
        executor.query("SELECT pg_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK,))
    try:
        executor.run_transaction([Statement(MIGRATIONS_TABLE_DDL[dialect])])
        recorded = applied_migrations(executor)
        _check_recorded(recorded, migrations)
        applied: list[str] = []
        already: list[str] = []
        for migration in migrations:
            if migration.name in recorded:
                already.append(migration.name)
                continue
            say(f"applying migration {migration.name}")
            _apply(executor, migration)
            applied.append(migration.name)
    finally:
        if locked:
            executor.query("SELECT pg_advisory_unlock(%s)", (PRISMA_ADVISORY_LOCK,))
    layout = build_layout(schema, dialect)
    return MigrationReport(
        tuple(applied), tuple(already), len(layout.tables), layout.index_count, migrations[0].generated, note
    )


def _check_recorded(recorded: dict[str, tuple[str, bool]], migrations: list[Migration]) -> None:
    failed = [name for name, (_, done) in recorded.items() if not done]
    if failed:
        raise DatabaseError(
            f"migration {failed[0]} is recorded in _prisma_migrations as started but not finished (a "
            f"failed `prisma migrate deploy`); fix the database, then run "
            f"`prisma migrate resolve --rolled-back {failed[0]}`"
        )
    if migrations[0].generated and migrations[0].name in recorded:
        checksum = recorded[migrations[0].name][0]
        if checksum != migrations[0].checksum:
            raise DatabaseError(
                f"the schema changed since this database was created from it ({INIT_MIGRATION} differs); "
                f"changing deployed tables needs a migration: add prisma/migrations (`prisma migrate dev`) "
                f"and deploy with it"
            )
    elif migrations[0].generated and recorded:
        raise DatabaseError(
            f"the database was migrated with a migrations folder ({', '.join(sorted(recorded)[:3])} …); "
            f"pass that prisma/migrations folder instead of generating the tables from the schema"
        )


def _apply(executor: Executor, migration: Migration) -> None:
    dialect = executor.dialect
    statements = migration_statements(migration, dialect)
    record = _record_statement(migration, dialect, int(time.time() * 1000))
    try:
        executor.run_transaction([*(Statement(s) for _, s in statements), record])
    except StatementFailed as exc:
        if exc.index < len(statements):
            source = "the generated migration" if migration.generated else "migration.sql"
            where = f"statement {exc.index + 1} ({source} line {statements[exc.index][0]})"
            raise MigrationError(migration.name, where, exc.message) from None
        raise MigrationError(
            migration.name, "recording the migration in _prisma_migrations", exc.message
        ) from None
