"""`@neondatabase/serverless` 1.2.0 (Node), unpatched, against the sandbox's SQL-over-HTTP endpoint.

The driver gets a connection string exactly as the Neon API handed it out and the sandbox's `/sql`
URL through its documented `neonConfig.fetchEndpoint`, nothing else. Checked: tagged templates and
`sql.query` with parameters, types parsed from the text output (integers, numeric, arrays, JSON,
timestamps, bigint), `fullResults` and `arrayMode`, transactions (isolation level, atomic on
failure, read-only), SQL errors carrying PostgreSQL's code and position, a wrong password.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from automation.localpg import LocalPostgres
from sandbox import server
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint

NODE_MODULES = REPO_ROOT / ".tools" / "node" / "node_modules"
SCRIPT = Path(__file__).parent / "node" / "neon_serverless.cjs"


@pytest.fixture(scope="module")
def endpoint(
    tmp_path_factory: pytest.TempPathFactory, local_postgres: LocalPostgres
) -> Iterator[SandboxEndpoint]:
    assert (NODE_MODULES / "@neondatabase" / "serverless").is_dir(), (
        "run ./scripts/setup (installs tools/node)"
    )
    directory = tmp_path_factory.mktemp("neon-http") / "sbx"
    yield server.start(directory, port=0, postgres_url=local_postgres.url)
    server.stop(directory)


def connection_string(endpoint: SandboxEndpoint) -> str:
    created = httpx.post(
        f"{endpoint.url}/api/v2/projects",
        json={"project": {"name": "serverless"}},
        headers={"Authorization": f"Bearer {endpoint.api_token}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["connection_uris"][0]["connection_uri"])


def run_driver(config: dict[str, str]) -> dict[str, Any]:
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES), "ONECLICK_CLIENT_CONFIG": json.dumps(config)}
    done = subprocess.run(
        ["node", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_serverless_driver_over_http(endpoint: SandboxEndpoint) -> None:
    url = connection_string(endpoint)
    password = url.split(":", 2)[2].split("@", 1)[0]
    out = run_driver(
        {"url": url, "badUrl": url.replace(password, "npg_wrong"), "fetchEndpoint": f"{endpoint.url}/sql"}
    )
    ok = {key: value["ok"] for key, value in out.items() if "ok" in value}
    errors = {key: value["error"] for key, value in out.items() if "error" in value}

    assert ok["template"] == [{"n": 42, "s": "it's", "nothing": None}]
    assert ok["query"] == [{"shout": "hey!"}]
    assert ok["insert"]["command"] == "INSERT"
    assert ok["insert"]["rowCount"] == 2
    assert ok["insert"]["rows"] == [{"id": 1}, {"id": 2}]
    assert ok["insert"]["fields"] == [{"name": "id", "dataTypeID": 23}]
    lamp, desk = ok["select"]
    assert lamp == {
        "id": 1,
        "name": "lamp",
        "price": "19.50",
        "tags": ["home", "light"],
        "meta": {"watts": 40},
        "made": "2026-01-02T03:04:05.000Z",
        "madeIsDate": True,
        "big": "9007199254740993",
    }
    assert (desk["tags"], desk["meta"], desk["big"]) == ([], None, None)
    assert ok["arrayMode"] == [[1, "b"]]
    assert ok["transaction"] == [[], [{"n": 3}]]

    assert errors["failedTransaction"]["code"] == "23502"
    assert ok["afterFailed"] == [{"n": 0}], "a failed transaction leaves nothing behind"
    assert errors["readOnly"]["code"] == "25006"
    assert errors["sqlError"] == {
        "name": "NeonDbError",
        "message": 'column "nope" does not exist',
        "code": "42703",
        "position": "8",
    }
    assert errors["wrongPassword"]["code"] == "28P01"
    assert "password authentication failed" in errors["wrongPassword"]["message"]


def test_requests_the_driver_would_never_send_are_refused_in_neons_error_shape(
    endpoint: SandboxEndpoint,
) -> None:
    url = connection_string(endpoint)
    missing = httpx.post(f"{endpoint.url}/sql", json={"query": "SELECT 1", "params": []}, timeout=30)
    assert (missing.status_code, missing.json()["code"]) == (400, "08P01")
    unknown = httpx.post(
        f"{endpoint.url}/sql",
        json={"query": "SELECT 1", "params": []},
        headers={"Neon-Connection-String": "postgresql://neondb_owner:x@127.0.0.1:1/neondb"},
        timeout=30,
    )
    assert unknown.status_code == 400
    assert "no sandbox Neon endpoint" in unknown.json()["message"]
    bad_level = httpx.post(
        f"{endpoint.url}/sql",
        json={"queries": [{"query": "SELECT 1", "params": []}]},
        headers={"Neon-Connection-String": url, "Neon-Batch-Isolation-Level": "Chaos"},
        timeout=30,
    )
    assert bad_level.status_code == 400
    assert "Neon-Batch-Isolation-Level" in bad_level.json()["message"]
