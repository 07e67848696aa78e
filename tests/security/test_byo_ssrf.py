"""Issue 13, item 5: SSRF through bring-your-own database URLs.

The attack: an Enterprise tenant's `database.url` pointed the worker at any host and port (the
platform's own PostgreSQL on 127.0.0.1, the cloud metadata address, private networks, unix
sockets, libpq's `?host=`/`?port=`/`?hostaddr=` overrides); the worker connected as the
passwordless superuser and created tables there, and its error texts told open ports from closed
ones. Now the API refuses such URLs with a 422 naming `database.url` before anything is recorded,
the worker checks again and connects only to the address it checked, and the platform's
PostgreSQL refuses every login without a password.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from automation.localpg import LocalPostgres
from dbtools.byo_policy import ALLOWED_NETWORKS_ENV
from sandbox.endpoint import SandboxEndpoint
from tests.databases import query
from tests.helpers import free_port
from tests.service.conftest import ApiServer, Workers, client, make_user, new_app, wait_finished

SECRET = "pw-s3cret-byo"


@pytest.fixture
def victim(local_postgres: LocalPostgres) -> Iterator[str]:
    """A database on the platform's own PostgreSQL that an attack would write into."""
    name = f"victim_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    yield name
    with psycopg.connect(local_postgres.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())


def tables(local_postgres: LocalPostgres, database: str) -> list[str]:
    url = local_postgres.url.rsplit("/", 1)[0] + f"/{database}"
    rows = query(url, "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN "
                 "('pg_catalog', 'information_schema') ORDER BY 1")  # fmt: skip
    return [str(row[0]) for row in rows]


def recorded(service_db: str, user: str) -> int:
    rows = query(
        service_db,
        "SELECT (SELECT count(*) FROM deployments WHERE user_id = %(u)s) "
        "+ (SELECT count(*) FROM deployed_apps WHERE user_id = %(u)s)",
        {"u": user},
    )
    return int(rows[0][0])


def byo_spec(app: str, url: str) -> dict[str, Any]:
    return {"id": app, "database": {"provider": "byo", "url": url}}


def attack_urls(pg: LocalPostgres, db: str) -> dict[str, str]:
    port = pg.port
    socket_dir = str(pg.data_dir)
    return {
        "platform postgres, superuser": f"postgresql://postgres@127.0.0.1:{port}/{db}",
        "platform postgres by name": f"postgresql://postgres:{SECRET}@localhost:{port}/{db}",
        "decimal loopback": f"postgresql://postgres:{SECRET}@2130706433:{port}/{db}",
        "unspecified": f"postgresql://postgres:{SECRET}@0.0.0.0:{port}/{db}",
        "ipv6 loopback": f"postgresql://postgres:{SECRET}@[::1]:{port}/{db}",
        "ipv4-mapped loopback": f"postgresql://postgres:{SECRET}@[::ffff:127.0.0.1]:{port}/{db}",
        "private network": f"postgresql://u:{SECRET}@10.0.0.5:5432/app",
        "cgnat": f"postgresql://u:{SECRET}@100.64.0.1:5432/app",
        "cloud metadata": f"postgresql://u:{SECRET}@169.254.169.254:80/latest",
        "unix socket host": f"postgresql://postgres:{SECRET}@{quote(socket_dir, safe='')}:{port}/{db}",
        "no host": f"postgresql://postgres:{SECRET}@/{db}",
        "?host= socket": f"postgresql://postgres:{SECRET}@8.8.8.8/{db}?host={socket_dir}&port={port}",
        "?host= loopback": f"postgresql://postgres:{SECRET}@8.8.8.8/{db}?host=127.0.0.1",
        "?hostaddr=": f"postgresql://postgres:{SECRET}@8.8.8.8:{port}/{db}?hostaddr=127.0.0.1",
        "?port=": f"postgresql://postgres:{SECRET}@8.8.8.8/{db}?port={port}",
        "?service=": f"postgresql://postgres:{SECRET}@8.8.8.8/{db}?service=platform",
        "?sslkey= host file": f"postgresql://postgres:{SECRET}@8.8.8.8/{db}?sslkey=/proc/self/environ",
        "two hosts": f"postgresql://postgres:{SECRET}@8.8.8.8,127.0.0.1:5432,{port}/{db}",
    }


def test_internal_addresses_sockets_and_libpq_overrides_get_a_422_and_nothing_happens(
    api: ApiServer,
    workers: Workers,
    service_db: str,
    local_postgres: LocalPostgres,
    victim: str,
    app_ids: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ALLOWED_NETWORKS_ENV, raising=False)  # the API runs in this process
    workers.env.pop(ALLOWED_NETWORKS_ENV, None)
    workers.start(tmp_path)  # would run anything that got through
    platform_tables = tables(local_postgres, "postgres")
    user, token = make_user(service_db, "enterprise")
    with client(api, token) as http:
        for attack, url in attack_urls(local_postgres, victim).items():
            response = http.post("/api/deploy/database", json=byo_spec(new_app(app_ids, "ssrf"), url))
            assert response.status_code == 422, (attack, response.text)
            error = response.json()["error"]
            assert error["field"] == "database.url", (attack, error)
            assert error["fix"], attack
            assert SECRET not in response.text, attack
            assert "Traceback" not in response.text, attack
            assert local_postgres.password_file.read_text().strip() not in response.text

        # No port scanning: a refused host gets the same answer whether anything listens there.
        open_port, closed_port = local_postgres.port, free_port()
        answers = {
            http.post(
                "/api/deploy/database",
                json=byo_spec("ssrf-scan", f"postgresql://u:{SECRET}@127.0.0.1:{port}/postgres"),
            ).text
            for port in (open_port, closed_port)
        }
        assert len(answers) == 1, answers

    assert recorded(service_db, user) == 0
    assert tables(local_postgres, victim) == []
    assert tables(local_postgres, "postgres") == platform_tables
    assert "ssrf-" not in workers.output()


@pytest.mark.engine
def test_a_worker_checks_again_and_never_connects_to_an_internal_address(
    sandbox: SandboxEndpoint,
    api: ApiServer,
    workers: Workers,
    service_db: str,
    local_postgres: LocalPostgres,
    victim: str,
    app_ids: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What DNS rebinding does: the address passed the API's check, but by the time the worker
    connects it is internal. Here the API's allow-list lets 127.0.0.1 in and the worker's does not;
    even with the superuser's real password, the worker refuses before connecting, and an open
    and a closed port fail alike."""
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "127.0.0.1/32")  # the API only (it runs in this process)
    workers.env.pop(ALLOWED_NETWORKS_ENV, None)
    workers.start(tmp_path)
    superuser = f"{local_postgres.url.rsplit('/', 1)[0]}/{victim}"  # the real password
    closed = superuser.replace(f":{local_postgres.port}/", f":{free_port()}/")
    user, token = make_user(service_db, "enterprise")
    errors = []
    with client(api, token) as http:
        for url in (superuser, closed):
            app = new_app(app_ids, "rebind")
            accepted = http.post("/api/deploy/database", json=byo_spec(app, url))
            assert accepted.status_code == 202, accepted.text
            result = wait_finished(http, accepted.json()["deploymentId"], timeout=180)
            assert result["status"] == "failed", (result, workers.output())
            errors.append(str(result["error"]).replace(app, "APP"))
    password = local_postgres.password_file.read_text().strip()
    for error in errors:
        assert "database.url" in error, error
        assert "public internet address" in error, error
        assert password not in error
    # The same refusal whether something listens there or not.
    assert errors[0] == errors[1], errors
    assert tables(local_postgres, victim) == []
    assert recorded(service_db, user) > 0  # the check that refused it was the worker's


def test_the_platform_postgres_refuses_logins_without_a_password(local_postgres: LocalPostgres) -> None:
    tcp = f"postgresql://postgres@127.0.0.1:{local_postgres.port}/postgres"
    socket = f"host={local_postgres.data_dir} port={local_postgres.port} user=postgres dbname=postgres"
    for conninfo in (tcp, socket, tcp.replace("postgres@", "postgres:wrong@")):
        with pytest.raises(psycopg.OperationalError) as refused:
            psycopg.connect(conninfo, connect_timeout=5)
        assert "password" in str(refused.value), str(refused.value)
    hba = (local_postgres.data_dir / "pg_hba.conf").read_text()
    assert not [line for line in hba.splitlines() if line.split()[-1:] == ["trust"]], hba
    # The superuser's URL carries the generated password, kept readable only by the cluster's owner.
    assert local_postgres.password_file.stat().st_mode & 0o077 == 0
    with psycopg.connect(local_postgres.url, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
