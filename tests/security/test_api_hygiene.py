"""The Medium and low items about the deploy API's answers: no size is unbounded, nothing answers in
plain text or with a traceback or a host path, and another tenant's app looks exactly like none."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from automation.localpg import LocalPostgres
from service.store import migrate
from service.vault import Vault
from tests.databases import create_database
from tests.service.conftest import ApiServer, client, database_spec, make_user


def test_someone_elses_app_answers_like_an_unknown_one(api: ApiServer, service_db: str) -> None:
    owner, _ = make_user(service_db, "pro")
    _, token = make_user(service_db, "pro")
    app = f"owned-{uuid.uuid4().hex[:6]}"
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO deployed_apps (app_id, user_id, status) VALUES (%s, %s, 'active')", [app, owner]
        )
    with client(api, token) as http:
        theirs = http.delete(f"/api/apps/{app}")
        unknown = http.delete("/api/apps/nobody-has-this")
        theirs_status = http.get(f"/api/deploy/status/{app}")
        unknown_status = http.get("/api/deploy/status/nobody-has-this")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["error"]["message"].replace(app, "X") == unknown.json()["error"]["message"].replace(
        "nobody-has-this", "X"
    )
    assert theirs_status.status_code == unknown_status.status_code == 404


def test_request_sizes_are_bounded(api: ApiServer, service_db: str) -> None:
    _, token = make_user(service_db, "pro", max_apps=5)
    with client(api, token) as http:
        huge_id = http.post("/api/deploy/database", json={"id": "a" * (10 << 20)})
        many_env = http.post(
            "/api/deploy/web",
            json={
                "id": "envs",
                "web": {"buildDir": "upload:" + "0" * 64, "env": {f"V{n}": "x" for n in range(5000)}},
            },
        )
        long_value = http.post(
            "/api/deploy/web",
            json={"id": "envs", "web": {"buildDir": "upload:" + "0" * 64, "env": {"BIG": "x" * 6000}}},
        )
        nested = http.post(
            "/api/deploy/database", content=b'{"id": "n", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        )
    assert huge_id.status_code == 413, huge_id.text[:200]
    assert len(huge_id.content) < 1000  # the id is not echoed back
    assert many_env.status_code == 422
    assert many_env.json()["error"]["field"] == "web.env"
    assert long_value.status_code == 422
    assert "x" * 100 not in long_value.text
    assert 400 <= nested.status_code < 500, nested.text[:200]
    for response in (huge_id, many_env, long_value, nested):
        assert response.headers["content-type"].startswith("application/json")
        assert "Traceback" not in response.text
        assert "/work/" not in response.text
        assert "site-packages" not in response.text


@pytest.fixture
def doomed_db(local_postgres: LocalPostgres) -> str:
    url = create_database(local_postgres.url, "svc_doomed")
    migrate(url)
    return url  # the test drops it itself


def test_a_database_outage_is_a_json_503(doomed_db: str, local_postgres: LocalPostgres, vault: Vault) -> None:
    server = ApiServer(doomed_db, vault, pool_size=1).start()
    try:
        _, token = make_user(doomed_db, "pro")
        with client(server, token) as http:
            assert http.get("/api/apps").status_code == 200
            name = doomed_db.rsplit("/", 1)[1]
            with psycopg.connect(local_postgres.url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)".encode())
            down = http.post("/api/deploy/database", json=database_spec("outage"))
    finally:
        server.stop()
    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "unavailable"
    assert down.headers.get("retry-after")
