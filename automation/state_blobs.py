"""A DIY Pulumi backend seen as what it is: blobs under keys laid out like the file backend.

The file backend keeps `.pulumi/stacks/<project>/<stack>.json`, `.pulumi/history/<project>/<stack>/…`
and `.pulumi/locks/<org>/<project>/<stack>/<id>.json` under its directory; the PostgreSQL backend
keeps the very same keys (prefixed with the URL's database path) as rows of one table, each blob
stored as `{"data": "<base64>"}`. Reading both through one interface lets oneclick list stacks, see
locks from any host and move a stack with its whole history between backends without the CLI.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from automation.environment import is_postgres
from core.errors import UserError

DEFAULT_TABLE = "pulumi_state"  # Pulumi's default (`?table=` chooses another)
_SEARCH_PATH = re.compile(r"search_path\s*=\s*([A-Za-z_][A-Za-z0-9_]*)")
# Pulumi's own schema for the table (pkg/backend/diy/postgres/schema.sql), so a destination can be
# prepared before the CLI ever opened it.
_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, data JSON NOT NULL, "
    "updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now())"
)
_INDEX_SQL = "CREATE INDEX IF NOT EXISTS {index} ON {table} (key text_pattern_ops)"


class Blobs(Protocol):
    def keys(self, prefix: str) -> list[str]: ...
    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...


class FileBlobs:
    """A file backend's directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        # `.attrs` files are go-cloud's metadata beside each blob, not blobs of their own.
        found = (p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".attrs"))
        return sorted(str(p.relative_to(self.root)) for p in found)

    def read(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()


class PostgresBlobs:
    """A PostgreSQL backend's table (in the schema its URL's search_path names)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.table = next((v for k, v in query if k == "table"), DEFAULT_TABLE)
        rest = [(k, v) for k, v in query if k != "table"]
        self.conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))
        # go-cloud prefixes every key with the URL's path (the database name).
        path = unquote(parts.path).strip("/")
        self.prefix = f"{path}/" if path else ""
        found = _SEARCH_PATH.search(unquote(" ".join(v for k, v in query if k == "options")))
        self.schema = found.group(1) if found else None

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=15)
        except psycopg.OperationalError as exc:
            raise UserError(
                f"cannot reach the Pulumi state database: {_without_password(str(exc))}",
                fix="check the backend URL (PULUMI_BACKEND_URL, or --to/--from): host, port, user, password",
            ) from None
        with conn:
            yield conn

    def ensure(self) -> None:
        """The schema and table, as Pulumi would make them (idempotent, safe to race)."""
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext('oneclick-pulumi-state-schema'))")
            try:
                if self.schema:
                    schema = sql.Identifier(self.schema)
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
                table = sql.Identifier(self.table)
                conn.execute(sql.SQL(_TABLE_SQL).format(table=table))
                index = sql.Identifier(f"{self.table}_key_prefix_idx")
                conn.execute(sql.SQL(_INDEX_SQL).format(index=index, table=table))
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('oneclick-pulumi-state-schema'))")

    def _exists(self, conn: psycopg.Connection) -> bool:
        found = conn.execute("SELECT to_regclass(%s)", [self.table]).fetchone()
        return found is not None and found[0] is not None

    def keys(self, prefix: str) -> list[str]:
        with self.connect() as conn:
            if not self._exists(conn):
                return []
            query = sql.SQL("SELECT key FROM {} WHERE starts_with(key, %s) ORDER BY key")
            rows = conn.execute(query.format(sql.Identifier(self.table)), [self.prefix + prefix]).fetchall()
        return [str(r[0])[len(self.prefix) :] for r in rows]

    def read(self, key: str) -> bytes | None:
        with self.connect() as conn:
            if not self._exists(conn):
                return None
            query = sql.SQL("SELECT data::text FROM {} WHERE key = %s")
            row = conn.execute(query.format(sql.Identifier(self.table)), [self.prefix + key]).fetchone()
        return base64.b64decode(json.loads(row[0])["data"]) if row else None

    def write(self, key: str, data: bytes) -> None:
        blob = json.dumps({"data": base64.b64encode(data).decode()})
        query = sql.SQL(
            "INSERT INTO {} (key, data) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()"
        )
        with self.connect() as conn:
            conn.execute(query.format(sql.Identifier(self.table)), [self.prefix + key, blob])

    def exists(self, key: str) -> bool:
        with self.connect() as conn:
            if not self._exists(conn):
                return False
            query = sql.SQL("SELECT 1 FROM {} WHERE key = %s")
            return (
                conn.execute(query.format(sql.Identifier(self.table)), [self.prefix + key]).fetchone()
                is not None
            )

    def delete(self, key: str) -> None:
        with self.connect() as conn:
            if self._exists(conn):
                query = sql.SQL("DELETE FROM {} WHERE key = %s")
                conn.execute(query.format(sql.Identifier(self.table)), [self.prefix + key])


def _without_password(message: str) -> str:
    return re.sub(r"password=\S+|://[^@/\s]*@", "***", message)


def blobs_for(url: str) -> Blobs | None:
    """The backend at `url` as blobs; None for backends oneclick cannot read directly (s3://, cloud)."""
    if url.startswith("file://"):
        return FileBlobs(Path(urlsplit(url).path).expanduser())
    if is_postgres(url):
        return PostgresBlobs(url)
    return None


def stack_names(blobs: Blobs, project: str) -> list[str]:
    """The stacks of `project` in the backend (app ids have no dots; backups and attrs do)."""
    folder = f".pulumi/stacks/{project}/"
    names = {k[len(folder) :].removesuffix(".gz").removesuffix(".json") for k in blobs.keys(folder)}
    return sorted(n for n in names if n and "." not in n and "/" not in n)


def has_stack(blobs: Blobs, project: str, name: str) -> bool:
    """Whether the stack's checkpoint is in the backend (one lookup, no CLI run)."""
    folder = f".pulumi/stacks/{project}/{name}"
    return blobs.exists(f"{folder}.json") or blobs.exists(f"{folder}.json.gz")


def read_checkpoint(blobs: Blobs, project: str, name: str) -> bytes | None:
    """The stack's checkpoint JSON as stored (plain or gzipped); None when there is none."""
    key = f".pulumi/stacks/{project}/{name}.json"
    data = blobs.read(key)
    if data is None and (data := blobs.read(f"{key}.gz")) is not None:
        data = gzip.decompress(data)
    return data


def lock_keys(blobs: Blobs, stack: str) -> list[str]:
    """The stack's lock blobs (`.pulumi/locks/<org>/<project>/<stack>/<id>.json`)."""
    return [k for k in blobs.keys(".pulumi/locks/") if k.endswith(".json") and k.split("/")[-2] == stack]
