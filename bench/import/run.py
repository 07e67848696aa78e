"""Preview import speed: oneclick's import against the raw bulk path, on the same rows, in one run.

100,000 preview rows (1,000 authors and 99,000 posts: integers, text, booleans, DateTime in Prisma's
milliseconds, Json, Decimal, a foreign key) sit in a `.sqlite` preview file. Measured:

- turso: `import_preview` into a fresh Turso database of the sandbox, over libSQL HTTP (reading the
  preview, one transactional batch, the server writing its SQLite file), against sqlite3's
  `executemany` of the already-read rows into a SQLite file of the same kind, in one transaction;
- pg: `import_preview` into a fresh PostgreSQL database (reading, converting, COPY, moving the
  sequences on), against a bare COPY of rows already converted to PostgreSQL's types.

Each is the best of a few runs. It starts its own PostgreSQL (a free port, a temporary directory)
and its own sandbox. Last line:

    import: turso_rows_s=<n> pg_rows_s=<n> turso_ratio=<ours/raw> pg_ratio=<ours/raw>

Run: .venv/bin/python bench/import/run.py [--rows N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from automation.localpg import LocalPostgres
from components.turso.client import TursoClient
from dbtools import import_preview, migrate, parse_schema
from dbtools.ddl import schema_ddl
from dbtools.executors import PostgresExecutor
from dbtools.libsql_executor import LibsqlExecutor
from sandbox import server as sandbox_server
from tests.helpers import free_port

SCHEMA = parse_schema(
    """
datasource db {
  provider = "sqlite"
  url      = "file:./dev.db"
}

model Author {
  id        Int      @id @default(autoincrement())
  email     String   @unique
  name      String
  joinedAt  DateTime @default(now())
  posts     Post[]
}

model Post {
  id        Int      @id @default(autoincrement())
  authorId  Int
  author    Author   @relation(fields: [authorId], references: [id])
  title     String
  body      String?
  published Boolean  @default(false)
  views     Int      @default(0)
  rating    Decimal
  meta      Json?
  createdAt DateTime @default(now())

  @@index([authorId, createdAt])
}
"""
)
EPOCH = datetime(1970, 1, 1)
T0 = 1_714_550_400_000


def make_preview(path: Path, rows: int) -> dict[str, list[tuple[Any, ...]]]:
    """The preview file (Prisma's SQLite representation); returns its rows as read back."""
    rng = random.Random(42)
    authors = max(rows // 100, 1)
    data = {
        "Author": [
            (i, f"author{i}@example.com", f"Author {i}", T0 + i * 1000) for i in range(1, authors + 1)
        ],
        "Post": [
            (
                i,
                rng.randint(1, authors),
                f"Post number {i} — it's here",
                None if i % 7 == 0 else "Lorem ipsum dolor sit amet " * rng.randint(1, 4),
                i % 2,
                rng.randint(0, 100_000),
                round(rng.uniform(0, 5), 2),
                None if i % 5 == 0 else json.dumps({"tags": ["a", "b"], "n": i}, separators=(",", ":")),
                T0 + i * 61_000,
            )
            for i in range(1, rows - authors + 1)
        ],
    }
    with sqlite3.connect(path) as db:
        db.executescript(schema_ddl(SCHEMA, "sqlite"))
        db.executemany('INSERT INTO "Author" VALUES (?, ?, ?, ?)', data["Author"])
        db.executemany('INSERT INTO "Post" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', data["Post"])
        read = {t: db.execute(f'SELECT * FROM "{t}" ORDER BY id').fetchall() for t in data}  # noqa: S608
    db.close()
    return read


def best_of(repeat: int, prepare: Callable[[], Any], run: Callable[[Any], None]) -> float:
    """The fastest of `repeat` timed runs; `prepare` (untimed) gives each run a fresh target."""
    times = []
    for _ in range(repeat):
        target = prepare()
        started = time.perf_counter()
        run(target)
        times.append(time.perf_counter() - started)
    return min(times)


@contextmanager
def services(work: Path) -> Iterator[tuple[LocalPostgres, TursoClient]]:
    work.chmod(0o755)  # the PostgreSQL server runs as the postgres user and must reach its directory
    cluster = LocalPostgres(work / "postgres", free_port())
    cluster.start()
    endpoint = None
    try:
        endpoint = sandbox_server.start(work / "sandbox", port=0, postgres_url=cluster.url)
        with TursoClient(endpoint.api_token, "sandbox", base_url=endpoint.url) as turso:
            yield cluster, turso
    finally:
        if endpoint is not None:
            sandbox_server.stop(work / "sandbox")
        cluster.stop()


def run(rows: int, repeat: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="oneclick-bench-import-"))
    counter = iter(range(1000))
    try:
        preview = work / "preview.sqlite"
        source = make_preview(preview, rows)
        total = sum(len(v) for v in source.values())
        with services(work) as (cluster, turso):
            # --- Turso: ours over libSQL HTTP, raw executemany into a local SQLite file ---------
            def fresh_turso() -> LibsqlExecutor:
                name = f"bench-{next(counter)}"
                created = turso.create_database(name, "default")
                executor = LibsqlExecutor.connect(
                    f"libsql://{created.hostname}", turso.create_database_token(name)
                )
                migrate(executor, SCHEMA)
                return executor

            def ours(executor: Any) -> None:
                report = import_preview(executor, SCHEMA, preview)
                assert report.rows == total, report
                executor.close()

            turso_ours = best_of(repeat, fresh_turso, ours)

            def fresh_file() -> sqlite3.Connection:
                path = work / f"raw-{next(counter)}.sqlite"
                db = sqlite3.connect(path, isolation_level=None)
                db.executescript(schema_ddl(SCHEMA, "sqlite"))
                return db

            def raw_sqlite(db: sqlite3.Connection) -> None:
                db.execute("BEGIN")
                db.executemany('INSERT INTO "Author" VALUES (?, ?, ?, ?)', source["Author"])
                db.executemany('INSERT INTO "Post" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', source["Post"])
                db.execute("COMMIT")
                db.close()

            turso_raw = best_of(repeat, fresh_file, raw_sqlite)

            # --- PostgreSQL: ours (read, convert, COPY, sequences), raw COPY of converted rows ---
            converted = {
                "Author": [(i, e, n, EPOCH + timedelta(milliseconds=t)) for i, e, n, t in source["Author"]],
                "Post": [
                    (i, a, ti, b, p == 1, v, Decimal(repr(r)), m, EPOCH + timedelta(milliseconds=c))
                    for i, a, ti, b, p, v, r, m, c in source["Post"]
                ],
            }

            def fresh_pg() -> PostgresExecutor:
                name = f"bench_{next(counter)}"
                with psycopg.connect(cluster.url, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{name}"')
                executor = PostgresExecutor.connect(cluster.url.rsplit("/", 1)[0] + "/" + name)
                migrate(executor, SCHEMA)
                return executor

            pg_ours = best_of(repeat, fresh_pg, ours)

            def raw_copy(executor: PostgresExecutor) -> None:
                connection = executor.connection
                with connection.transaction(), connection.cursor() as cursor:
                    for table, table_rows in converted.items():
                        with cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
                            for row in table_rows:
                                copy.write_row(row)
                executor.close()

            pg_raw = best_of(repeat, fresh_pg, raw_copy)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rate(seconds: float) -> int:
        return round(total / seconds)

    print(f"rows: {total} (best of {repeat})", file=sys.stderr)
    print(
        f"turso: ours {turso_ours:.3f}s ({rate(turso_ours)} rows/s), raw executemany {turso_raw:.3f}s "
        f"({rate(turso_raw)} rows/s)",
        file=sys.stderr,
    )
    print(
        f"pg:    ours {pg_ours:.3f}s ({rate(pg_ours)} rows/s), "
        f"raw COPY {pg_raw:.3f}s ({rate(pg_raw)} rows/s)",
        file=sys.stderr,
    )
    return (
        f"import: turso_rows_s={rate(turso_ours)} pg_rows_s={rate(pg_ours)} "
        f"turso_ratio={turso_raw / turso_ours:.2f} pg_ratio={pg_raw / pg_ours:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="preview rows in all (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    args = parser.parse_args()
    os.environ.setdefault("ONECLICK_SANDBOX_STREAM_IDLE_SECONDS", "60")
    print(run(args.rows, args.repeat), flush=True)


if __name__ == "__main__":
    main()
