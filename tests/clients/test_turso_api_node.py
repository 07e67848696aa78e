"""`@tursodatabase/api` 2.0.5 (Turso's Platform API client), unpatched, against the sandbox.

It is pointed at the sandbox only by its documented `baseUrl` option (`<sandbox>/v1/`), with the
sandbox's API token. Groups and databases are created, read, listed, given tokens, rotated and
deleted; the hostname it returns is then used by @libsql/client as is, and errors come back as the
client's own TursoClientError with the HTTP status.
"""

from __future__ import annotations

from typing import Any

from tests.clients.turso_sandbox import ORG, TursoSandbox, run_node, turso_sandbox

__all__ = ["turso_sandbox"]


def test_platform_api_client_manages_databases_whose_hostnames_work(turso_sandbox: TursoSandbox) -> None:
    endpoint = turso_sandbox.endpoint
    config: dict[str, Any] = {
        "baseUrl": f"{endpoint.url}/v1/",
        "org": ORG,
        "token": endpoint.api_token,
        "database": "api-made",
    }
    out = run_node("turso_api.cjs", {**config, "phase": "manage"}, endpoint.ca_file)
    ok = {key: value["ok"] for key, value in out.items() if "ok" in value}
    assert "aws-us-east-1" in ok["locations"]
    assert "default" in ok["groupsBefore"]
    assert ok["groupCreate"]["name"] == "analytics"
    assert ok["groupCreate"]["primary"] == "aws-eu-west-1"
    assert ok["groupGet"]["locations"] == ["aws-eu-west-1"]
    assert ok["groupToken"] == "string"
    assert "groupRotate" in ok, out["groupRotate"]
    assert ok["groupDelete"] == "analytics"
    for failed, status in [("groupGone", 404), ("badLocation", 400), ("duplicate", 409), ("missing", 404)]:
        assert out[failed]["isTursoClientError"], out[failed]
        assert out[failed]["status"] == status, out[failed]
    assert out["badApiToken"]["status"] == 401, out["badApiToken"]
    created = ok["create"]
    assert created["name"] == "api-made"
    assert created["hostname"] == f"api-made-{ORG}.turso.localhost:{endpoint.tls_port}"
    assert "api-made" in ok["list"]
    assert ok["get"]["id"] == created["id"]
    assert ok["get"]["group"] == "default"
    assert ok["get"]["primaryRegion"] == "aws-us-east-1"

    turso_sandbox.install_hosts()  # the new database's name, as a user would after creating it
    out = run_node(
        "turso_api.cjs", {**config, "phase": "use", "dbToken": ok["token"]["jwt"]}, endpoint.ca_file
    )
    assert out["query"] == {"ok": 42}
    assert "ok" in out["rotate"]
    assert out["afterRotate"]["code"] == "AUTH_JWT_INVALID", "rotating ends every token issued before"
    assert out["delete"] == {"ok": {"database": "api-made"}}
    assert out["afterDelete"]["status"] == 404
