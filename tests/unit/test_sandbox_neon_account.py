"""The sandbox's Neon account routes that neonctl reads: `/users/me`, its organizations, shared projects."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from automation.localpg import LocalPostgres
from sandbox import server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, local_postgres: LocalPostgres) -> Iterator[httpx.Client]:
    directory = tmp_path_factory.mktemp("neon-account") / "sbx"
    endpoint = server.start(directory, port=0, postgres_url=local_postgres.url)
    headers = {"Authorization": f"Bearer {endpoint.api_token}"}
    with httpx.Client(base_url=f"{endpoint.url}/api/v2", headers=headers, timeout=30) as client:
        yield client
    server.stop(directory)


def test_current_user_and_its_organizations(api: httpx.Client) -> None:
    me = api.get("/users/me")
    assert me.status_code == 200
    assert {"id", "email", "login", "name", "projects_limit", "auth_accounts"} <= set(me.json())
    assert me.json()["email"] == "sandbox@localhost"
    assert api.get("/users/me/organizations").json() == {"organizations": []}


def test_shared_projects_is_not_a_project_id(api: httpx.Client) -> None:
    created = api.post("/projects", json={"project": {"name": "mine"}})
    assert created.status_code == 201
    shared = api.get("/projects/shared")
    assert shared.status_code == 200
    assert shared.json()["projects"] == [], "nothing is shared with the sandbox account"
    assert [p["name"] for p in api.get("/projects").json()["projects"]] == ["mine"]
    assert api.get(f"/projects/{created.json()['project']['id']}").status_code == 200
    assert api.get("/projects/no-such-project").status_code == 404


def test_account_routes_need_the_api_key(api: httpx.Client) -> None:
    response = api.get("/users/me", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
