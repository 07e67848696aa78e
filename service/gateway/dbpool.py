"""The gateway's PostgreSQL pool, which hands out only live connections.

After PostgreSQL restarts (or an operator terminates backends), every pooled connection is dead
but looks idle; without a check each one failed one call before the pool replaced it. Checking
costs a round trip only when it can matter: an idle connection has nothing to read, while a server
that went away leaves its goodbye (or the end of the stream) on the socket, which one
non-blocking `select` sees.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


def quiet(conn: AsyncConnection[Any]) -> bool:
    """True if the idle connection has nothing waiting to be read (the usual, healthy case)."""
    if conn.closed or conn.broken:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return False
    return not readable


async def check_connection(conn: AsyncConnection[Any]) -> None:
    """The pool's check before handing a connection out: raises if it is dead (the pool then
    discards it and takes or opens another)."""
    if not quiet(conn):
        await conn.execute("")  # reads whatever arrived; fails on a closed connection


def create_pool(url: str, *, min_size: int, max_size: int) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True},
        check=check_connection,
        open=False,
    )
