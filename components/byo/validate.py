"""Checking a bring-your-own PostgreSQL URL before anything uses it.

Each failure is its own exception with a message that names `database.url` and the fix, and never
repeats the URL (it carries a password).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg

from components.errors import SpecError

CONNECT_TIMEOUT_S = 5


class ByoDatabaseError(SpecError):
    """The BYO database cannot be used as given."""

    def __init__(self, message: str) -> None:
        super().__init__([("database.url", message)])


class MalformedUrl(ByoDatabaseError):
    pass


class Unreachable(ByoDatabaseError):
    pass


class AuthenticationFailed(ByoDatabaseError):
    pass


class NotEmpty(ByoDatabaseError):
    pass


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}/{parts.path.lstrip('/')}"


def validate_byo_url(url: str, *, allow_non_empty: bool = False) -> list[str]:
    """Connect and look around; returns the user tables found (empty unless consented to)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a non-numeric port
    except ValueError:
        raise MalformedUrl(
            "is malformed (bad port?); use postgresql://user:password@host:5432/database"
        ) from None
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname or not parts.path.strip("/"):
        raise MalformedUrl("is not a PostgreSQL URL; use postgresql://user:password@host:5432/database")
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            rows = conn.execute(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema not in ('pg_catalog', 'information_schema') "
                "and table_name <> '_prisma_migrations' order by 1"
            ).fetchall()
    except psycopg.OperationalError as exc:
        text = str(exc)
        if "password authentication failed" in text or "authentication" in text.lower():
            raise AuthenticationFailed(
                f"authentication failed at {_where(url)}; check the user name and password in the URL"
            ) from None
        if "does not exist" in text and "database" in text:
            raise Unreachable(
                f"database {parts.path.lstrip('/')!r} does not exist on {parts.hostname}; create it first"
            ) from None
        raise Unreachable(
            f"cannot reach {_where(url)}; check the host and port, and that it accepts connections from here"
        ) from None
    tables = [str(row[0]) for row in rows]
    if tables and not allow_non_empty:
        shown = ", ".join(tables[:5]) + (" …" if len(tables) > 5 else "")
        raise NotEmpty(
            f"the database already holds {len(tables)} table(s) ({shown}); use an empty database, or set "
            "database.allow_non_empty: true to migrate into it anyway"
        )
    return tables
