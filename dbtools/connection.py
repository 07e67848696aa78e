"""Choosing an executor from a database URL: PostgreSQL, libSQL (Turso) or a SQLite file."""

from __future__ import annotations

from dbtools.errors import ConnectionFailed, redact_url
from dbtools.executor import Executor
from dbtools.executors import PostgresExecutor, SqliteExecutor
from dbtools.libsql_executor import LibsqlExecutor


def connect(url: str, auth_token: str | None = None, *, byo: bool = False) -> Executor:
    """An executor for `postgresql://…`, `libsql://…` / `http(s)://…` (Turso) or `file:PATH` (SQLite).

    `byo`: the URL is a tenant's own database (see PostgresExecutor.connect).
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in ("postgres", "postgresql"):
        return PostgresExecutor.connect(url, byo=byo)
    if scheme in ("libsql", "http", "https", "wss", "ws"):
        return LibsqlExecutor.connect(url, auth_token)
    if scheme == "file" or scheme == "sqlite":
        path = url.split(":", 1)[1].removeprefix("//")
        return SqliteExecutor(path)
    raise ConnectionFailed(
        f"database URL {redact_url(url)!r} is not one oneclick can use: give "
        f"postgresql://USER:PASSWORD@HOST/DB, libsql://DB-ORG.turso.io (with --auth-token) "
        f"or file:PATH for a SQLite file"
    )
