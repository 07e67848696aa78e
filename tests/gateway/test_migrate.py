"""The service's migration runner: ordered, recorded, idempotent, safe to start twice at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from automation.localpg import LocalPostgres
from service.migrate import MIGRATIONS_DIR, ServiceMigrationError, apply_migrations


@pytest.fixture
def empty_db(local_postgres: LocalPostgres) -> Iterator[str]:
    name = f"mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(local_postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    yield local_postgres.url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(local_postgres.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def _recorded(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]


def test_applies_in_order_once_and_records_each_file(empty_db: str, tmp_path: Path) -> None:
    (tmp_path / "0002_more.sql").write_text("CREATE TABLE b (id int REFERENCES a (id));")
    (tmp_path / "0001_first.sql").write_text(
        "CREATE TABLE a (id int PRIMARY KEY);\nINSERT INTO a VALUES (1);"
    )
    assert apply_migrations(empty_db, tmp_path) == ["0001_first.sql", "0002_more.sql"]
    assert apply_migrations(empty_db, tmp_path) == []
    (tmp_path / "0003_later.sql").write_text("ALTER TABLE b ADD COLUMN note text;")
    assert apply_migrations(empty_db, tmp_path) == ["0003_later.sql"]
    assert _recorded(empty_db) == ["0001_first.sql", "0002_more.sql", "0003_later.sql"]


def test_a_failing_file_leaves_nothing_half_done(empty_db: str, tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id int);\nSELECT no_such_function();")
    with pytest.raises(ServiceMigrationError, match=r"0002_broken\.sql failed"):
        apply_migrations(empty_db, tmp_path)
    assert _recorded(empty_db) == ["0001_ok.sql"]
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('half')").fetchone() == (None,)


def test_an_applied_file_that_changed_is_an_error(empty_db: str, tmp_path: Path) -> None:
    migration = tmp_path / "0001_a.sql"
    migration.write_text("CREATE TABLE a (id int);")
    apply_migrations(empty_db, tmp_path)
    migration.write_text("CREATE TABLE a (id bigint);")
    with pytest.raises(
        ServiceMigrationError, match="changed after it was applied; put the change in a new migration"
    ):
        apply_migrations(empty_db, tmp_path)


def test_misnamed_files_are_refused(empty_db: str, tmp_path: Path) -> None:
    (tmp_path / "1_Gateway.sql").write_text("SELECT 1;")
    with pytest.raises(ServiceMigrationError, match=r"NNNN_what\.sql"):
        apply_migrations(empty_db, tmp_path)


def test_two_runners_at_once_apply_the_service_migrations_once(empty_db: str) -> None:
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(apply_migrations(empty_db))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert sorted(results, key=len) == [[], names]
    assert _recorded(empty_db) == names
