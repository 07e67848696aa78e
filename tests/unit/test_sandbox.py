import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from components.turso.client import TursoClient
from core.http import VendorAuthError, VendorConflict, VendorError, VendorNotFound
from sandbox import server
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint
from tests.contract import Contract, ContractTransport

CONTRACT = REPO_ROOT.parent / "shared" / "contracts" / "turso-platform-api.json"


@pytest.fixture
def private_sandbox(tmp_path: Path) -> SandboxEndpoint:
    endpoint = server.start(tmp_path / "sbx", port=0)
    yield endpoint
    server.stop(tmp_path / "sbx")


def test_turso_database_lifecycle_and_state_survives_restart(
    tmp_path: Path, private_sandbox: SandboxEndpoint
) -> None:
    with TursoClient(private_sandbox.api_token, "org1", base_url=private_sandbox.url) as turso:
        created = turso.create_database("shop", "default")
        token = turso.create_database_token("shop")
        assert created.name == "shop"
        assert created.group == "default"
        assert token.startswith("sbxdb_")
        with pytest.raises(VendorConflict, match="already exists"):
            turso.create_database("shop", "default")
        with pytest.raises(VendorError, match="group not found"):
            turso.create_database("other", "no-such-group")

    sqlite_file = tmp_path / "sbx" / "turso" / "org1" / "shop.sqlite"
    with sqlite3.connect(sqlite_file) as real_db:  # a real SQLite database file
        assert real_db.execute("pragma integrity_check").fetchone() == ("ok",)
    state = json.loads((tmp_path / "sbx" / "state.json").read_text())
    assert token not in json.dumps(state), "only token hashes are stored"

    assert server.stop(tmp_path / "sbx")
    assert not server.status(tmp_path / "sbx").running
    restarted = server.start(tmp_path / "sbx", port=0)
    with TursoClient(restarted.api_token, "org1", base_url=restarted.url) as turso:
        assert turso.get_database("shop").db_id == created.db_id
        turso.delete_database("shop")
        with pytest.raises(VendorNotFound):
            turso.get_database("shop")
    assert not sqlite_file.exists()


def test_start_is_idempotent_and_a_busy_port_is_refused(
    tmp_path: Path, private_sandbox: SandboxEndpoint
) -> None:
    assert server.start(tmp_path / "sbx", port=0) == private_sandbox
    port = int(private_sandbox.url.rsplit(":", 1)[1])
    with pytest.raises(server.SandboxError, match=f"port {port} .* already in use"):
        server.start(tmp_path / "other", port=port)


def test_wrong_token_is_refused(private_sandbox: SandboxEndpoint) -> None:
    with (
        TursoClient("wrong", "org1", base_url=private_sandbox.url) as turso,
        pytest.raises(VendorAuthError, match="401"),
    ):
        turso.list_databases()


def test_invalid_database_name_is_refused_by_the_api(private_sandbox: SandboxEndpoint) -> None:
    with (
        TursoClient(private_sandbox.api_token, "org1", base_url=private_sandbox.url) as turso,
        pytest.raises(VendorError, match="400"),
    ):
        turso.create_database("Bad_Name", "default")


@pytest.mark.skipif(not CONTRACT.exists(), reason="vendor contracts are not beside this checkout")
def test_sandbox_database_objects_match_the_turso_contract(private_sandbox: SandboxEndpoint) -> None:
    schemas = json.loads(CONTRACT.read_text())["components"]["schemas"]
    headers = {"Authorization": f"Bearer {private_sandbox.api_token}"}
    base = f"{private_sandbox.url}/v1/organizations/org1/databases"
    created = httpx.post(base, json={"name": "c1", "group": "default"}, headers=headers).json()
    assert set(created) == {"database"}
    assert set(created["database"]) <= set(schemas["CreateDatabaseOutput"]["properties"])
    fetched = httpx.get(f"{base}/c1", headers=headers).json()["database"]
    database_schema = schemas["Database"]["properties"]
    assert set(fetched) <= set(database_schema)
    for key, value in fetched.items():
        expected = database_schema[key].get("type")
        python_type = {"string": str, "boolean": bool, "array": list, "object": (dict, type(None))}[expected]
        assert isinstance(value, python_type), key
    token = httpx.post(f"{base}/c1/auth/tokens", headers=headers).json()
    assert set(token) == {"jwt"}
    missing = httpx.get(f"{base}/nope", headers=headers)
    assert missing.status_code == 404
    assert set(missing.json()) == {"error"}


@pytest.mark.skipif(
    not Contract.available("turso-platform-api.json"), reason="contracts not beside this checkout"
)
def test_turso_client_traffic_with_the_sandbox_agrees_with_the_contract(
    private_sandbox: SandboxEndpoint,
) -> None:
    transport = ContractTransport(Contract.of("turso-platform-api.json"))
    with TursoClient(
        private_sandbox.api_token, "org1", base_url=private_sandbox.url, transport=transport
    ) as turso:
        turso.create_database("agree", "default")
        turso.create_database_token("agree")
        turso.list_databases()
        with pytest.raises(VendorNotFound):
            turso.get_database("missing")
        turso.rotate_database_tokens("agree")
        turso.delete_database("agree")
        assert "aws-eu-west-1" in turso.list_locations()
        group = turso.create_group("agreeing", "aws-eu-west-1")
        assert (group.name, group.primary, group.locations) == (
            "agreeing",
            "aws-eu-west-1",
            ("aws-eu-west-1",),
        )
        assert turso.get_group("agreeing") == group
        assert {g.name for g in turso.list_groups()} == {"default", "agreeing"}
        turso.create_group_token("agreeing", authorization="read-only", expiration="1h")
        turso.rotate_group_tokens("agreeing")
        with pytest.raises(VendorConflict, match="group already exists"):
            turso.create_group("agreeing", "aws-eu-west-1")
        turso.delete_group("agreeing")
        with pytest.raises(VendorNotFound):
            turso.get_group("agreeing")
    assert len(transport.seen) == 16
    assert transport.contract.problems == []


def test_groups_locations_and_hostnames_that_carry_the_sandbox_port(private_sandbox: SandboxEndpoint) -> None:
    port = private_sandbox.tls_port  # libsql:// is TLS to every client: the hostname names the TLS port
    assert port
    assert port != int(private_sandbox.url.rsplit(":", 1)[1])
    with TursoClient(private_sandbox.api_token, "org1", base_url=private_sandbox.url) as turso:
        assert turso.create_database("shop", "default").hostname == f"shop-org1.turso.localhost:{port}"
        with pytest.raises(VendorError, match="invalid location: mars-1"):
            turso.create_group("far", "mars-1")
        with pytest.raises(VendorError, match="Invalid expiration format"):
            turso.create_group_token("default", expiration="soon")
        with pytest.raises(VendorNotFound, match="group not found"):
            turso.create_group_token("nope")
        with pytest.raises(VendorNotFound):
            turso.rotate_database_tokens("nope")
        turso.delete_group("default")  # as with the vendor, the default group can go, with its databases
        assert turso.list_groups() == []
        assert turso.list_databases() == []


@pytest.mark.skipif(
    not Contract.available("turso-platform-api.json"), reason="contracts not beside this checkout"
)
def test_the_contract_check_catches_a_wrong_shape() -> None:
    contract = Contract.of("turso-platform-api.json")
    request = httpx.Request("GET", "http://x/v1/organizations/o/databases/d")
    wrong = httpx.Response(200, json={"database": {"Name": 5}}, request=request)
    assert any("Name" in problem for problem in contract.check(request, wrong))
    unknown = httpx.Request("GET", "http://x/v1/nowhere")
    assert contract.check(unknown, httpx.Response(200, json={}, request=unknown))
