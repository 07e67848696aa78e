"""The deploy service's PostgreSQL: where it is, its schema, its connection pool, key rotation.

The schema is ours (plain-SQL files in service/migrations, applied by service/migrate.py) plus the
job queue's own (procrastinate's), installed once by `migrate` when absent.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from core.errors import OneclickError
from core.settings import settings
from service import database_url
from service.migrate import apply_migrations
from service.vault import Binding, Vault


class StoreError(OneclickError, RuntimeError):
    """The service's database cannot be reached or prepared; the message says what to do."""


def resolve_database_url(given: str | None = None) -> str:
    """--database-url, else ONECLICK_SERVICE_DATABASE_URL / DATABASE_URL, else the local database."""
    return database_url.resolve_database_url(given or settings().service.database_url)


def migrate(conninfo: str) -> list[str]:
    """Apply the service's migrations and install the job queue's schema; returns what was applied."""
    applied = apply_migrations(conninfo)
    from service.jobs import install_queue_schema

    if install_queue_schema(conninfo):
        applied.append("procrastinate (job queue schema)")
    return applied


def open_pool(conninfo: str, *, max_size: int = 8, name: str = "oneclick-service") -> ConnectionPool:
    """A pool of autocommit connections; the caller closes it."""
    pool = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True},
        name=name,
        open=False,
    )
    pool.open(wait=True, timeout=30)
    return pool


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    id_column: str = "id"


# Every column that holds vault envelopes; key rotation walks them all.
ENCRYPTED_COLUMNS = (
    EncryptedColumn("deployed_apps", "database_url_encrypted"),
    EncryptedColumn("user_credentials", "value_encrypted"),
    EncryptedColumn("deployments", "secrets_encrypted"),
)


def rotate_keys(conn: psycopg.Connection, vault: Vault, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every stored envelope with the vault's current key; counts per column.

    Each row is rewritten only if it still holds the envelope that was read, so a value written
    meanwhile (already under the current key) is never overwritten with an older one.
    """
    counts: dict[str, int] = {}
    # Envelopes under the current key start with exactly this header (service/vault.py).
    header = bytes([1, len(vault.current.encode())]) + vault.current.encode()
    for target in ENCRYPTED_COLUMNS:
        names = {
            "id": sql.Identifier(target.id_column),
            "col": sql.Identifier(target.column),
            "table": sql.Identifier(target.table),
        }
        select = sql.SQL(
            "SELECT {id}::text, {col} FROM {table} WHERE {col} IS NOT NULL "
            "AND substring({col} from 1 for %s) <> %s ORDER BY {id} LIMIT %s"
        ).format(**names)
        update = sql.SQL("UPDATE {table} SET {col} = %s WHERE {id} = %s::uuid AND {col} = %s").format(**names)
        done = 0
        while rows := conn.execute(select, [len(header), header, batch]).fetchall():
            for row_id, envelope in rows:
                fresh = vault.reencrypt(bytes(envelope), Binding(target.table, row_id, target.column))
                if fresh is not None and conn.execute(update, [fresh, row_id, envelope]).rowcount:
                    done += 1
        counts[f"{target.table}.{target.column}"] = done
    return counts
