"""Per-user API tokens for the deploy API: made once, shown once, kept only as a SHA-256.

A token is `oc_<8 hex prefix>_<43 url-safe chars>` (256 random bits), so a fast hash is as good as
a slow one and a lookup is one indexed read. The prefix is kept in clear to tell tokens apart.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import psycopg

from core.errors import OneclickError

TOKEN = re.compile(r"^oc_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_token(conn: psycopg.Connection, user_id: str, name: str = "") -> str:
    """A new token for `user_id`; the only time its value is available."""
    prefix = secrets.token_hex(4)
    token = f"oc_{prefix}_{secrets.token_urlsafe(32)}"
    conn.execute(
        "INSERT INTO api_tokens (token_hash, token_prefix, user_id, name) VALUES (%s, %s, %s, %s)",
        [hash_token(token), prefix, user_id, name],
    )
    return token


def revoke_token(conn: psycopg.Connection, prefix: str) -> int:
    """Revoke the tokens with this prefix; how many were revoked."""
    return conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_prefix = %s AND revoked_at IS NULL", [prefix]
    ).rowcount


@dataclass(frozen=True)
class Caller:
    user_id: str
    token_prefix: str


class AuthError(OneclickError):
    """Why a request is not authenticated; the message is safe to show (it never holds the token)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def authenticate(conn: psycopg.Connection, authorization: str | None) -> Caller:
    """The caller of an `Authorization: Bearer <token>` header, or AuthError."""
    if not authorization:
        raise AuthError(
            "no API token",
            "send `Authorization: Bearer <token>`; make one with `oneclick service token USER`",
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError(
            "the Authorization header is not a bearer token", "use `Authorization: Bearer <token>`"
        )
    if not TOKEN.match(token):
        raise AuthError(
            "the API token is malformed", "tokens look like oc_<8 hex>_<43 characters>; copy it whole"
        )
    row = conn.execute(
        "UPDATE api_tokens SET last_used_at = now() WHERE token_hash = %s RETURNING user_id, revoked_at",
        [hash_token(token)],
    ).fetchone()
    if row is None:
        raise AuthError("the API token is not known", "check the token, or make a new one")
    if row[1] is not None:
        raise AuthError("the API token was revoked", "make a new one with `oneclick service token USER`")
    match = TOKEN.match(token)
    assert match is not None
    return Caller(str(row[0]), match.group(1))
