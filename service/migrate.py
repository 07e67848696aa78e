"""Plain-SQL migrations for the service's PostgreSQL database.

Files named `NNNN_<what>.sql` in `service/migrations/` are applied in name order, each in its own
transaction together with its row in `schema_migrations`, so a file is either wholly applied and
recorded or not at all. Running again applies only what is new; an advisory lock lets several
processes start at once. A recorded file whose text changed afterwards is an error: add a new file
instead of editing an applied one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from core.errors import OneclickError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
# Any fixed number shared by every runner of this project: pg_advisory_lock's key for "migrating".
_LOCK_KEY = 0x6F6E65636C69636B  # "oneclick"


class ServiceMigrationError(OneclickError, RuntimeError):
    """A migration file is misnamed, was changed after being applied, or failed; the message says which."""


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        if not _NAME.match(path.name):
            raise ServiceMigrationError(
                f"{path}: migration files are named NNNN_what.sql (four digits, lower case), "
                "e.g. 0002_deploys.sql"
            )
        found.append(Migration(path.name, path.read_text()))
    return found


def apply_migrations(conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now (empty when up to date)."""
    migrations = load_migrations(directory)
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, checksum TEXT NOT NULL,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            recorded: dict[str, str] = dict(
                conn.execute("SELECT name, checksum FROM schema_migrations").fetchall()
            )
            for migration in migrations:
                if migration.name in recorded:
                    if recorded[migration.name] != migration.checksum:
                        raise ServiceMigrationError(
                            f"{migration.name} changed after it was applied; "
                            "put the change in a new migration file"
                        )
                    continue
                try:
                    with conn.transaction():
                        conn.execute(migration.sql.encode())  # no parameters: the whole file in one go
                        conn.execute(
                            "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                            [migration.name, migration.checksum],
                        )
                except psycopg.Error as exc:
                    raise ServiceMigrationError(f"{migration.name} failed: {exc}") from exc
                applied_now.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
    return applied_now
