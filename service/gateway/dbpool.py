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


async def alive(conn: AsyncConnection[Any]) -> bool:
    """Whether an idle connection still works; a dead one is closed (the pool then drops it)."""
    if quiet(conn):
        return True
    try:
        await conn.execute("")  # reads whatever arrived; fails on a closed connection
    except psycopg.Error:
        await conn.close()
        return False
    return True


class LivePool(AsyncConnectionPool):
    """A pool whose `getconn` (and so `connection()`) skips dead connections at once.

    psycopg_pool's own `check` waits with a growing back-off (1 s, 2 s, 4 s …) after each failed
    check, so after a restart a call waited through one back-off per dead connection. Here a dead
    connection goes back (closed: the pool discards it and opens a replacement) and the next is
    tried straight away.
    """

    async def getconn(self, timeout: float | None = None) -> AsyncConnection[Any]:
        for _ in range(self.max_size):
            conn: AsyncConnection[Any] = await super().getconn(timeout)
            if await alive(conn):
                return conn
            await self.putconn(conn)
        fresh: AsyncConnection[Any] = await super().getconn(timeout)
        return fresh


def create_pool(url: str, *, min_size: int, max_size: int) -> LivePool:
    return LivePool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True},
        open=False,
    )
