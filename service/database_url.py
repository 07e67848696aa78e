"""Where the service's and the gateway's PostgreSQL is: one rule for both commands."""

from __future__ import annotations

import psycopg
from psycopg import sql

LOCAL_DATABASE = "oneclick"


def resolve_database_url(url: str | None) -> str:
    """`url` (--database-url, else the server's setting), else the local cluster's `oneclick`
    database (the cluster is started and the database made if need be)."""
    if url:
        return url
    from automation.localpg import LocalPostgres  # only when no URL was given: it may start a cluster

    server = LocalPostgres.default().start()
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [LOCAL_DATABASE]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(LOCAL_DATABASE)))
    return server.rsplit("/", 1)[0] + f"/{LOCAL_DATABASE}"
