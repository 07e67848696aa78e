"""Per-app gateway keys: made once, stored as a SHA-256 hash, looked up through an in-process cache.

Keys are 32 random bytes, so a plain SHA-256 is as strong as a slow password hash would be and
costs a microsecond on the hot path. The cache keeps a key's record for `ttl` seconds (a revoked
key stops working within that time) and remembers unknown keys briefly, so a client retrying a
bad key does not cost a database round trip per request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import psycopg
from psycopg_pool import AsyncConnectionPool

KEY_PREFIX = "ocgw_"
MODES = ("platform", "byo")


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
    return value.startswith(KEY_PREFIX) and 20 <= len(value) <= 100


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


class KeyCache:
    """hash → record (or None for an unknown key), bounded, each entry valid for a while."""

    def __init__(
        self, pool: AsyncConnectionPool, ttl: float = 30.0, miss_ttl: float = 5.0, size: int = 100_000
    ):
        self._pool = pool
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._size = size
        self._entries: OrderedDict[bytes, tuple[float, GatewayKey | None]] = OrderedDict()

    async def lookup(self, key: str) -> GatewayKey | None:
        if not looks_like_key(key):
            return None
        digest = hash_key(key)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > now:
            return entry[1]
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT user_id, app_id, mode, key_prefix FROM gateway_keys "
                "WHERE key_hash = %s AND revoked_at IS NULL",
                [digest],
            )
            row = await cursor.fetchone()
        record = GatewayKey(*row) if row else None
        self._entries[digest] = (now + (self._ttl if record else self._miss_ttl), record)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return record

    def forget(self) -> None:
        self._entries.clear()
