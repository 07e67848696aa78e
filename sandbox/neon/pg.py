"""The real PostgreSQL server behind sandbox Neon projects.

Neon scopes role and database names to a branch, but PostgreSQL roles are cluster-wide and every
project lives on the one local cluster. So each Neon role or database gets a *physical* name: its
Neon name (cut to 54 bytes) + "_" + 8 random lowercase letters/digits, e.g. `neondb_owner_k3j9x2ab`.
The API and its connection URIs show Neon names only; the endpoint proxy (proxy.py) maps them to
the physical ones when a client logs in.

Isolation mirrors Neon's: roles log in with a SCRAM password, hold no superuser/CREATEDB/CREATEROLE,
and may connect only to the databases of their own branch (CONNECT is revoked from PUBLIC).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

PHYSICAL_PREFIX_BYTES = 54  # 54 + "_" + 8 = 63, PostgreSQL's identifier limit
_ALPHABET = string.ascii_lowercase + string.digits


def physical_name(neon_name: str) -> str:
    """A cluster-unique physical name that still shows the Neon name it stands for."""
    prefix = neon_name.encode()[:PHYSICAL_PREFIX_BYTES].decode(errors="ignore")
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(8))}"


def new_password() -> str:
    # Neon's own format: "npg_" and random letters and digits.
    return "npg_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))


class SandboxPostgres:
    """Superuser access to the cluster, for the DDL a Neon control plane would run."""

    def __init__(self, url: str) -> None:
        self.url = url
        params = conninfo_to_dict(url)
        self.host = str(params.get("host") or "127.0.0.1")
        self.port = int(params.get("port") or 5432)

    @property
    def address(self) -> str:
        """`host:port`: what the sandbox reports as an endpoint's host, so composed URIs work."""
        return f"{self.host}:{self.port}"

    def uri(self, role: str, password: str, database: str) -> str:
        user, secret, db = (quote(part, safe="") for part in (role, password, database))
        return f"postgresql://{user}:{secret}@{self.address}/{db}"

    def _connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        # dbname=None keeps the URL's own database.
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10, dbname=dbname)

    def create_role(self, role: str, password: str) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )

    def set_password(self, role: str, password: str) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
            )

    def create_database(self, database: str, owner: str, members: Iterable[str]) -> None:
        """A database owned by `owner` that only `members` (the branch's roles) may connect to."""
        db = sql.Identifier(database)
        with self._connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, sql.Identifier(owner)))
            conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
            for role in members:
                conn.execute(self._grant(database, role))

    def grant_connect(self, databases: Iterable[str], role: str) -> None:
        with self._connect() as conn:
            for database in databases:
                conn.execute(self._grant(database, role))

    @staticmethod
    def _grant(database: str, role: str) -> sql.Composed:
        return sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(database), sql.Identifier(role)
        )

    def drop_database(self, database: str) -> None:
        with self._connect() as conn:
            # FORCE: open sessions must not keep a deleted Neon database alive.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))

    def drop_role(self, role: str, databases: Iterable[tuple[str, str]] = ()) -> None:
        """Drop a role; objects it made in `databases` ((database, owner) pairs) pass to their owner."""
        name = sql.Identifier(role)
        for database, owner in databases:
            with self._connect(database) as conn:
                conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(name, sql.Identifier(owner)))
                conn.execute(sql.SQL("DROP OWNED BY {}").format(name))
        with self._connect() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(name))
