"""PostgreSQL connection URLs as apps write them for Prisma, and connection failures explained.

Prisma URLs may carry parameters libpq refuses (`schema`, `connection_limit`, `pgbouncer` …);
`libpq_url` removes them (turning `schema=` into a search_path). `explain_connect_error` sorts a
failed connection into the failures a user can fix, each naming `database.url` and never the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import psycopg

from dbtools.errors import ConnectionFailed

FIELD = "database.url"
# Parameters of Prisma's PostgreSQL connector that libpq does not know.
PRISMA_ONLY_PARAMS = frozenset(
    {
        "schema",
        "connection_limit",
        "pool_timeout",
        "pgbouncer",
        "statement_cache_size",
        "socket_timeout",
        "sslaccept",
        "sslidentity",
    }
)


class ByoError(ConnectionFailed):
    """A bring-your-own database cannot be used; `kind` says why (one of the KIND_* values)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = FIELD


MALFORMED = "malformed"
UNREACHABLE = "unreachable"
AUTHENTICATION = "authentication"
NO_DATABASE = "no_database"
NOT_EMPTY = "not_empty"


@dataclass(frozen=True)
class PostgresTarget:
    host: str
    port: int
    user: str
    database: str

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_postgres_url(url: str) -> PostgresTarget:
    """Check the URL's shape; raises ByoError(MALFORMED) saying what is missing (never echoing it)."""
    example = "postgresql://USER:PASSWORD@HOST:5432/DATABASE"
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 5432
    except ValueError:
        raise ByoError(
            MALFORMED,
            f"{FIELD} is not a valid URL (check the port and any special characters; "
            f"percent-encode them in the password); use {example}",
        ) from None
    if parts.scheme not in ("postgres", "postgresql"):
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ByoError(
            MALFORMED,
            f"{FIELD} must be a PostgreSQL URL starting with postgresql:// (it has {shown}); use {example}",
        )
    if not parts.hostname:
        raise ByoError(MALFORMED, f"{FIELD} names no host; use {example}")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ByoError(MALFORMED, f"{FIELD} names no database; end it with /DATABASE, as in {example}")
    if not parts.username:
        raise ByoError(
            MALFORMED, f"{FIELD} names no user; put USER:PASSWORD@ before the host, as in {example}"
        )
    return PostgresTarget(parts.hostname, port, unquote(parts.username), database)


def libpq_url(url: str) -> str:
    """`url` without Prisma-only parameters; `?schema=x` becomes `options=-csearch_path=x`."""
    parts = urlsplit(url.strip())
    params = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in params if k not in PRISMA_ONLY_PARAMS]
    schema = next((v for k, v in params if k == "schema"), None)
    if schema and not any(k == "options" for k, _ in kept):
        kept.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))


def explain_connect_error(exc: psycopg.Error, url: str, *, opaque: bool = False) -> ByoError:
    """The user-fixable reason a connection failed; libpq's text is kept only where it has no secret.

    `opaque` (the deploy service): every failure to reach a server gets the same answer, so that
    a tenant cannot tell a closed port from a silent one or read another service's banner.
    """
    try:
        target = parse_postgres_url(url)
    except ByoError as malformed:
        return malformed
    text = str(exc)
    lower = text.lower()
    sqlstate = getattr(exc, "sqlstate", None)
    if (
        sqlstate in ("28P01", "28000")
        or "password authentication failed" in lower
        or "no password supplied" in lower
    ):
        reason = "no password was given" if "no password supplied" in lower else "authentication failed"
        return ByoError(
            AUTHENTICATION,
            f"{FIELD}: the server at {target.where} refused user {target.user!r} ({reason}); "
            f"check the user name and password in {FIELD}",
        )
    if sqlstate == "3D000" or ("database" in lower and "does not exist" in lower):
        return ByoError(
            NO_DATABASE,
            f"{FIELD}: database {target.database!r} does not exist on {target.where}; create it "
            f'(CREATE DATABASE "{target.database}") or fix the database name in {FIELD}',
        )
    if opaque:
        return ByoError(
            UNREACHABLE,
            f"{FIELD}: cannot connect to a PostgreSQL server at {target.where}; check the host and port "
            f"in {FIELD}, that the server runs and accepts connections from the internet, and its TLS "
            f"setting (?sslmode=require or disable)",
        )
    for marker, reason in (
        ("could not translate host name", "the host name does not resolve"),
        ("name or service not known", "the host name does not resolve"),
        ("connection refused", "connection refused: nothing listens on that port"),
        ("timeout expired", "no answer before the timeout"),
        ("no route to host", "no route to the host"),
        ("network is unreachable", "the network is unreachable"),
        ("server closed the connection unexpectedly", "the server closed the connection"),
    ):
        if marker in lower:
            return ByoError(
                UNREACHABLE,
                f"{FIELD}: cannot reach a PostgreSQL server at {target.where} ({reason}); check the host and "
                f"port in {FIELD}, that the server runs, and that it accepts connections from this machine",
            )
    if "ssl" in lower:
        return ByoError(
            UNREACHABLE,
            f"{FIELD}: the TLS handshake with {target.where} failed; set ?sslmode=require (or disable) "
            f"in {FIELD} to match the server",
        )
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if target.user and url:  # never let a password slip through libpq's text
        password = urlsplit(url).password
        if password:
            first_line = first_line.replace(password, "***")
    return ByoError(UNREACHABLE, f"{FIELD}: cannot connect to {target.where}: {first_line}")
