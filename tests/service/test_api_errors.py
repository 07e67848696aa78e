"""The deploy API's answers to requests it cannot carry out: JSON naming the field and the fix."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from sandbox.endpoint import REPO_ROOT
from tests.service.conftest import ApiServer, client, database_spec, make_user, web_spec


@pytest.fixture(scope="module")
def token(service_db: str) -> str:
    return make_user(service_db, "pro")[1]


def test_invalid_specs_name_each_field(api: ApiServer, token: str) -> None:
    with client(api, token) as http:
        response = http.post(
            "/api/deploy/web",
            json={
                "id": "Bad_Id",
                "web": {"buildDir": "/nope"},
                "database": {"provider": "mysql"},
                "extra": 1,
            },
        )
    assert response.status_code == 422
    error = response.json()["error"]
    fields = {p["field"] for p in error["problems"]}
    assert {"id", "web.buildDir", "database.provider", "extra"} <= fields, error
    messages = " ".join(p["message"] for p in error["problems"])
    assert "lowercase letters" in messages
    assert "not a known field" in messages
    assert error["fix"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/deploy/web", database_spec("no-site"), "web"),
        ("/api/deploy/database", web_spec("with-site"), "web"),
        ("/api/deploy/migrate-data", {"appId": "not-deployed", "previewData": "/etc/hostname"}, None),
        ("/api/domains/check", {"domain": "not a domain"}, "domain"),
        ("/api/domains/configure", {"appId": "UPPER", "domain": "a.example.com"}, "appId"),
        ("/api/deploy/web", "not json", "(body)"),
    ],
)
def test_requests_that_cannot_be_carried_out(
    api: ApiServer, token: str, path: str, body: object, field: str | None
) -> None:
    with client(api, token) as http:
        if isinstance(body, str):
            response = http.post(path, content=body, headers={"Content-Type": "application/json"})
        else:
            response = http.post(path, json=body)
    assert response.status_code in (404, 409, 422), response.text
    error = response.json()["error"]
    assert error["message"]
    assert error["fix"]
    if field is not None:
        assert error["field"] == field, error


@pytest.mark.parametrize("platform", ["ios", "android", "desktop"])
def test_native_builds_need_a_deployed_app(api: ApiServer, token: str, platform: str) -> None:
    with client(api, token) as http:
        unknown = http.post(f"/api/deploy/{platform}", json={"appId": "app-1"})
        no_id = http.post(f"/api/deploy/{platform}", json={"id": "app-1"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["fix"] == "deploy it first, or check the app id"
    assert no_id.status_code == 422
    assert no_id.json()["error"]["field"] == "appId"


def test_unknown_routes_and_deployments(api: ApiServer, token: str) -> None:
    with client(api, token) as http:
        assert http.get("/api/deploy/status/00000000-0000-0000-0000-000000000000").status_code == 404
        missing = http.get("/api/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        assert http.get("/api/deploy/history", params={"limit": 0}).status_code == 422
        assert http.get("/api/deploy/history", params={"appId": "a\x00b"}).status_code == 422
    openapi = httpx.get(f"{api.url}/openapi.json").json()
    assert {
        "/api/deploy/web",
        "/api/deploy/database",
        "/api/deploy/ios",
        "/api/deploy/android",
        "/api/deploy/desktop",
        "/api/deploy/status/{deployment_id}",
        "/api/deploy/status/{deployment_id}/events",
        "/api/deploy/migrate-data",
        "/api/domains/check",
        "/api/domains/configure",
        "/api/turso/databases",
        "/api/turso/databases/{database_id}",
        "/api/deploy/history",
    } <= set(openapi["paths"])


def test_migrate_is_idempotent_and_recorded(service_db: str) -> None:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "from cli.main import main; main()",
                "service",
                "migrate",
                "--database-url",
                service_db,
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "database is up to date"  # the fixture migrated it already
