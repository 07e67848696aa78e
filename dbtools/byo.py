"""Checking a bring-your-own PostgreSQL database before anything is deployed into it.

In order, each failure with its own message that names `database.url` and the fix: a malformed
URL, a server that cannot be reached, refused credentials (or a missing database), and a database
that already holds tables this app does not define, unless the user consented
(`database.allow_non_empty`). Tables the app's own schema makes, Prisma's `_prisma_migrations` and
the preview-import record do not count: a redeploy finds them and goes ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbtools.executors import PostgresExecutor
from dbtools.importer import IMPORTS_TABLE
from dbtools.layout import build_layout
from dbtools.migrations import MIGRATIONS_TABLE
from dbtools.postgres_url import FIELD, NOT_EMPTY, ByoError, parse_postgres_url
from dbtools.prisma_schema import PrismaSchema


@dataclass(frozen=True)
class ByoCheck:
    host: str
    port: int
    database: str
    user: str
    server_version: str
    tables: tuple[str, ...]  # every table in the database's default schema
    foreign_tables: tuple[str, ...]  # those the app does not define


def validate_byo_url(
    url: str,
    allow_non_empty: bool = False,
    *,
    schema: PrismaSchema | None = None,
    connect_timeout: int = 5,
) -> ByoCheck:
    """Connect to `url` and check it can take this app; raises ByoError (`kind` says which failure)."""
    target = parse_postgres_url(url)
    executor = PostgresExecutor.connect(url, connect_timeout=connect_timeout, byo=True)
    try:
        version = str(executor.query("SHOW server_version")[0][0])
        tables = sorted(executor.table_names())
    finally:
        executor.close()
    ours = {MIGRATIONS_TABLE, IMPORTS_TABLE}
    if schema is not None:
        ours.update(t.name for t in build_layout(schema, "postgresql").tables)
    foreign = [t for t in tables if t not in ours]
    if foreign and not allow_non_empty:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ByoError(
            NOT_EMPTY,
            f"{FIELD}: database {target.database!r} on {target.where} is not empty: it holds "
            f"tables this app does not define ({shown}). Point {FIELD} at an empty database, or "
            f"consent to deploying next to them with database.allow_non_empty: true (CLI: --allow-non-empty)",
        )
    return ByoCheck(
        target.host, target.port, target.database, target.user, version, tuple(tables), tuple(foreign)
    )
