"""Per-app gateway keys: made once, stored as a SHA-256 hash, looked up through an in-process cache.

Keys are 32 random bytes, so a plain SHA-256 is as strong as a slow password hash would be and
costs a microsecond on the hot path. The cache keeps a key's record for `ttl` seconds (a revoked
key stops working within that time) and remembers unknown keys briefly, so a client retrying a
bad key does not cost a database round trip per request. A client that keeps presenting new
unknown keys is answered 429 without a query once it has had `FailedLookups.limit` of them in a
window: guessing keys cannot become a load on the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool

from service.gateway.errors import TooManyFailedKeys

KEY_PREFIX = "ocgw_"
MODES = ("platform", "byo")
# What create_key makes: the prefix and token_urlsafe(32), always 43 characters.
_KEY_SHAPE = re.compile(r"ocgw_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class GatewayKey:
    user_id: str
    app_id: str
    mode: str  # "platform" | "byo"
    key_prefix: str

    @property
    def byo(self) -> bool:
        return self.mode == "byo"


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def looks_like_key(value: str) -> bool:
    return _KEY_SHAPE.fullmatch(value) is not None


def create_key(
    conn: psycopg.Connection[tuple[object, ...]], user_id: str, app_id: str, mode: str = "platform"
) -> str:
    """Make a key for `app_id` of `user_id`; returns it (the only time it is visible)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not user_id or not app_id:
        raise ValueError("user_id and app_id are required")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO gateway_keys (key_hash, key_prefix, user_id, app_id, mode) VALUES (%s, %s, %s, %s, %s)",
        [hash_key(key), key[:12], user_id, app_id, mode],
    )
    return key


def revoke_key(conn: psycopg.Connection[tuple[object, ...]], key_or_prefix: str) -> int:
    """Revoke a key given whole or by the prefix people see (`ocgw_abcdefg`); returns how many."""
    if looks_like_key(key_or_prefix) and len(key_or_prefix) > 12:
        cursor = conn.execute(
            "UPDATE gateway_keys SET revoked_at = now() WHERE key_hash = %s AND revoked_at IS NULL",
            [hash_key(key_or_prefix)],
        )
    else:
        cursor = conn.execute(
            "UPDATE gateway_keys SET revoked_at = now() WHERE key_prefix = %s AND revoked_at IS NULL",
            [key_or_prefix],
        )
    return cursor.rowcount


class FailedLookups:
    """Unknown keys per client address in fixed windows, for as many addresses as `size`."""

    def __init__(self, limit: int = 20, window: float = 60.0, size: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self._size = size
        self._clients: OrderedDict[str, list[float]] = OrderedDict()  # address → [window start, count]

    def retry_after(self, client: str, now: float) -> float | None:
        """Seconds until `client` may try unknown keys again, or None if it may now."""
        entry = self._clients.get(client)
        if entry is None or now - entry[0] >= self.window or entry[1] < self.limit:
            return None
        return entry[0] + self.window - now

    def failed(self, client: str, now: float) -> None:
        entry = self._clients.get(client)
        if entry is None or now - entry[0] >= self.window:
            self._clients[client] = [now, 1]
        else:
            entry[1] += 1
        self._clients.move_to_end(client)
        while len(self._clients) > self._size:
            self._clients.popitem(last=False)

    def refund(self, client: str) -> None:
        """Take back a lookup counted in advance that found a key."""
        entry = self._clients.get(client)
        if entry is not None and entry[1] > 0:
            entry[1] -= 1


class KeyCache:
    """hash → record (or None for an unknown key), bounded, each entry valid for a while."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        ttl: float = 30.0,
        miss_ttl: float = 5.0,
        size: int = 100_000,
        failed: FailedLookups | None = None,
    ):
        self._pool = pool
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._size = size
        self._entries: OrderedDict[bytes, tuple[float, GatewayKey | None]] = OrderedDict()
        self.failed = failed or FailedLookups()
        self.queries = 0  # database lookups made (the rest were answered from memory)
        self._pending: dict[bytes, asyncio.Future[GatewayKey | None]] = {}

    async def lookup(self, key: str, client: str = "") -> GatewayKey | None:
        """The key's record, None if unknown; TooManyFailedKeys if `client` guessed too often."""
        if not looks_like_key(key):
            return None
        digest = hash_key(key)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > now:
            return entry[1]
        pending = self._pending.get(digest)
        if pending is not None:  # the same key is being looked up: share that answer
            return await asyncio.shield(pending)
        wait = self.failed.retry_after(client, now)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise TooManyFailedKeys(
                f"too many unrecognised gateway keys from this address; try again in {seconds} s "
                "with a valid key (create one for the app if it was revoked)",
                retry_after_seconds=seconds,
            )
        # Counted before the query, so concurrent guesses cannot all pass the check first.
        self.failed.failed(client, now)
        self.queries += 1
        pending = self._pending[digest] = asyncio.get_running_loop().create_future()
        try:
            record = await self._query(digest)
        except BaseException as exc:
            self.failed.refund(client)  # the database failed, not the key
            if isinstance(exc, Exception):
                pending.set_exception(exc)
                pending.exception()  # retrieved here: nobody else may be waiting
            else:
                pending.cancel()
            raise
        finally:
            del self._pending[digest]
        if record is not None:
            self.failed.refund(client)
        self._entries[digest] = (now + (self._ttl if record else self._miss_ttl), record)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        pending.set_result(record)
        return record

    async def _query(self, digest: bytes) -> GatewayKey | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT user_id, app_id, mode, key_prefix FROM gateway_keys "
                "WHERE key_hash = %s AND revoked_at IS NULL",
                [digest],
            )
            row = await cursor.fetchone()
        return GatewayKey(*row) if row else None

    def forget(self) -> None:
        self._entries.clear()
