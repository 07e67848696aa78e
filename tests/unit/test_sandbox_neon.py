"""The sandbox's Neon API against a real PostgreSQL server, through the typed client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import psycopg
import pytest

from automation.localpg import LocalPostgres
from components.neon.client import NeonClient
from core.http import VendorAuthError, VendorConflict, VendorError, VendorNotFound
from sandbox import server
from sandbox.endpoint import SandboxEndpoint
from tests.contract import Contract, ContractTransport

CONTRACT = "neon-api-v2.json"


@pytest.fixture(scope="module")
def neon_sandbox(
    tmp_path_factory: pytest.TempPathFactory, local_postgres: LocalPostgres
) -> Iterator[SandboxEndpoint]:
    directory = tmp_path_factory.mktemp("neon") / "sbx"
    endpoint = server.start(directory, port=0, postgres_url=local_postgres.url)
    yield endpoint
    server.stop(directory)


def client(endpoint: SandboxEndpoint, **kwargs: Any) -> NeonClient:
    return NeonClient(endpoint.api_token, base_url=f"{endpoint.url}/api/v2", poll_interval=0.05, **kwargs)


def exists(superuser_url: str, catalog: str, name: str) -> bool:
    column = "rolname" if catalog == "pg_roles" else "datname"
    with psycopg.connect(superuser_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {catalog} WHERE {column} = %s", (name,)).fetchone()  # noqa: S608
    return bool(row and row[0])


def shown(uri: str) -> tuple[str, str]:
    """The role and database a URI names: Neon's names, as the API shows them."""
    parts = urlsplit(uri)
    return unquote(parts.username or ""), unquote(parts.path.lstrip("/"))


def physical(uri: str) -> tuple[str, str]:
    """The role and database on the PostgreSQL server that a URI's Neon names log in as."""
    with psycopg.connect(uri, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def with_password(uri: str, password: str) -> str:
    parts = urlsplit(uri)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def test_project_is_a_real_database_that_survives_a_restart_and_is_dropped_on_delete(
    tmp_path: Path, local_postgres: LocalPostgres
) -> None:
    directory = tmp_path / "sbx"
    endpoint = server.start(directory, port=0, postgres_url=local_postgres.url)
    try:
        with client(endpoint) as neon:
            created = neon.create_project(
                "shop", region_id="aws-eu-central-1", database_name="shop", role_name="shop_owner"
            )
            project_id = created.project.id
            assert (created.project.name, created.project.region_id) == ("shop", "aws-eu-central-1")
            assert [r.name for r in created.roles] == ["shop_owner"]
            assert [d.name for d in created.databases] == ["shop"]
            assert all(op.done for op in neon.list_operations(project_id)), "create waited for its operations"
            uri = neon.connection_uri(project_id, "shop", "shop_owner")
            assert uri == created.connection_uris[0].uri
            assert "password" not in repr(created)
        assert shown(uri) == ("shop_owner", "shop"), "the URI names what the API shows"
        role, database = physical(uri)
        assert role.startswith("shop_owner_")
        assert database.startswith("shop_")

        with psycopg.connect(uri) as conn:
            conn.execute("CREATE TABLE item (id serial PRIMARY KEY, name text)")
            conn.execute("INSERT INTO item (name) VALUES ('lamp')")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(with_password(uri, "wrong-password"), connect_timeout=5)

        state = json.loads((directory / "state.json").read_text())
        assert project_id in state["neon"]["projects"]
        assert server.stop(directory)
        endpoint = server.start(directory, port=0, postgres_url=local_postgres.url)

        with client(endpoint) as neon:
            assert neon.get_project(project_id).name == "shop"
            assert neon.connection_uri(project_id, "shop", "shop_owner") == uri
            with psycopg.connect(uri) as conn:
                assert conn.execute("SELECT name FROM item").fetchall() == [("lamp",)]
            neon.delete_project(project_id)
            with pytest.raises(VendorNotFound, match="not found"):
                neon.get_project(project_id)
        assert not exists(local_postgres.url, "pg_database", database)
        assert not exists(local_postgres.url, "pg_roles", role)
    finally:
        server.stop(directory)


def test_projects_are_isolated_from_each_other(
    neon_sandbox: SandboxEndpoint, local_postgres: LocalPostgres
) -> None:
    with client(neon_sandbox) as neon:
        first = neon.create_project("first")
        second = neon.create_project("second")
        assert first.roles[0].name == second.roles[0].name == "neondb_owner"
        first_uri, second_uri = first.connection_uris[0].uri, second.connection_uris[0].uri
        assert shown(first_uri) == shown(second_uri) == ("neondb_owner", "neondb")
        assert physical(first_uri) != physical(second_uri)
        # The second project's password at the first project's endpoint: refused.
        first_address = urlsplit(first_uri).netloc.rsplit("@", 1)[1]
        parts = urlsplit(second_uri)
        at_first = parts._replace(netloc=f"{parts.netloc.rsplit('@', 1)[0]}@{first_address}").geturl()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(at_first, connect_timeout=5)
        # On the server itself, the second project's role may not enter the first's database.
        second_role, _ = physical(second_uri)
        _, first_db = physical(first_uri)
        server_address = urlsplit(local_postgres.url).netloc.split("@")[1]
        password = str(urlsplit(second_uri).password)
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(
                f"postgresql://{second_role}:{password}@{server_address}/{first_db}", connect_timeout=5
            )
        neon.delete_project(first.project.id)
        neon.delete_project(second.project.id)


def test_roles_databases_and_branches_are_real(neon_sandbox: SandboxEndpoint) -> None:
    with client(neon_sandbox) as neon:
        created = neon.create_project("parts")
        project_id, main = created.project.id, created.branch.id
        app = neon.create_role(project_id, main, "app")
        assert app.password
        with pytest.raises(VendorConflict, match="already exists"):
            neon.create_role(project_id, main, "app")
        neon.create_database(project_id, main, "reports", "app")
        uri = neon.connection_uri(project_id, "reports", "app")
        with psycopg.connect(uri) as conn:
            conn.execute("CREATE TABLE r (x int)")
        reset = neon.reset_password(project_id, main, "app")
        assert reset.password
        assert reset.password != app.password
        assert neon.reveal_password(project_id, main, "app") == reset.password
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(uri, connect_timeout=5)
        with pytest.raises(VendorConflict, match="owns database reports"):
            neon.delete_role(project_id, main, "app")

        branch = neon.create_branch(project_id, name="preview")
        assert {r.name for r in branch.roles} == {"neondb_owner", "app"}
        assert branch.endpoints
        assert branch.branch.parent_id == main
        preview_uri = neon.connection_uri(project_id, "reports", "app", branch_id=branch.branch.id)
        main_uri = neon.connection_uri(project_id, "reports", "app")
        assert shown(preview_uri) == shown(main_uri) == ("app", "reports")
        assert urlsplit(preview_uri).port != urlsplit(main_uri).port, "each endpoint has its own host"
        # Same password as the parent's role, as on Neon, and a database of its own.
        assert physical(preview_uri) != physical(main_uri)
        with psycopg.connect(preview_uri) as conn:
            assert conn.execute("SELECT to_regclass('r')").fetchone() == (None,)
        neon.delete_branch(project_id, branch.branch.id)
        with pytest.raises(VendorError, match="default branch cannot be deleted"):
            neon.delete_branch(project_id, main)

        neon.delete_database(project_id, main, "reports")
        neon.delete_role(project_id, main, "app")
        assert [r.name for r in neon.list_roles(project_id, main)] == ["neondb_owner"]
        neon.delete_project(project_id)


def test_changes_wait_for_running_operations_which_answer_423(neon_sandbox: SandboxEndpoint) -> None:
    headers = {"Authorization": f"Bearer {neon_sandbox.api_token}"}
    base = f"{neon_sandbox.url}/api/v2"
    body = httpx.post(f"{base}/projects", json={"project": {"name": "busy"}}, headers=headers).json()
    project_id, branch_id = body["project"]["id"], body["branch"]["id"]
    assert {op["status"] for op in body["operations"]} == {"running"}
    assert body["branch"]["current_state"] == "init"
    locked = httpx.post(
        f"{base}/projects/{project_id}/branches/{branch_id}/roles",
        json={"role": {"name": "x"}},
        headers=headers,
    )
    assert locked.status_code == 423
    assert set(locked.json()) >= {"code", "message"}
    with client(neon_sandbox, sleep=lambda _: time.sleep(0.02), retries=100) as neon:
        # Retries 423 until the project's operations are done, then succeeds.
        assert neon.create_role(project_id, branch_id, "x").name == "x"
        neon.delete_project(project_id)


def test_invalid_names_and_regions_are_refused(neon_sandbox: SandboxEndpoint) -> None:
    with client(neon_sandbox) as neon:
        with pytest.raises(VendorError, match=r"400.*region 'mars-1' is not available"):
            neon.create_project("x", region_id="mars-1")
        with pytest.raises(VendorError, match=r"400.*reserved"):
            neon.create_project("x", role_name="pg_admin")
        with pytest.raises(VendorError, match=r"400.*1 to 63 bytes"):
            neon.create_project("x", database_name="d" * 64)
    bad_body = httpx.post(
        f"{neon_sandbox.url}/api/v2/projects",
        json={"project": {"pg_version": "new"}},
        headers={"Authorization": f"Bearer {neon_sandbox.api_token}"},
    )
    assert bad_body.status_code == 400
    assert set(bad_body.json()) == {"code", "message", "request_id"}, "Neon's error shape, not FastAPI's"
    assert "project.pg_version" in bad_body.json()["message"]


def test_admin_changes_behind_pulumis_back(
    neon_sandbox: SandboxEndpoint, local_postgres: LocalPostgres
) -> None:
    admin = f"{neon_sandbox.url}/_admin/neon/projects"
    with client(neon_sandbox) as neon:
        created = neon.create_project("drift")
        project_id = created.project.id
        old_uri = created.connection_uris[0].uri
        _, old_database = physical(old_uri)
        changed = httpx.post(f"{admin}/{project_id}/roles/neondb_owner/password")
        assert changed.status_code == 200
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(old_uri, connect_timeout=5)
        new_uri = neon.connection_uri(project_id, "neondb", "neondb_owner")
        assert new_uri != old_uri
        psycopg.connect(new_uri, connect_timeout=5).close()

        assert httpx.delete(f"{admin}/{project_id}").status_code == 200
        with pytest.raises(VendorNotFound):
            neon.get_project(project_id)
        assert not exists(local_postgres.url, "pg_database", old_database)
    assert httpx.delete(f"{admin}/{project_id}").status_code == 404


def test_wrong_token_is_refused(neon_sandbox: SandboxEndpoint) -> None:
    with (
        NeonClient("wrong", base_url=f"{neon_sandbox.url}/api/v2") as neon,
        pytest.raises(VendorAuthError, match="401"),
    ):
        neon.list_projects()


def test_without_postgres_neon_answers_503_saying_how_to_start_it(tmp_path: Path) -> None:
    endpoint = server.start(tmp_path / "sbx", port=0)
    try:
        with (
            NeonClient(endpoint.api_token, base_url=f"{endpoint.url}/api/v2", retries=0) as neon,
            pytest.raises(VendorError, match=r"503.*oneclick sandbox start"),
        ):
            neon.list_projects()
    finally:
        server.stop(tmp_path / "sbx")


@pytest.mark.skipif(not Contract.available(CONTRACT), reason="contracts not beside this checkout")
def test_neon_client_traffic_with_the_sandbox_agrees_with_the_contract(neon_sandbox: SandboxEndpoint) -> None:
    transport = ContractTransport(Contract.of(CONTRACT, base_path="/api/v2"))
    with client(neon_sandbox, transport=transport) as neon:
        created = neon.create_project("agree", region_id="aws-us-east-1", pg_version=16)
        project_id, main = created.project.id, created.branch.id
        neon.get_project(project_id)
        assert project_id in {p.id for p in neon.list_projects()}
        assert neon.update_project(project_id, "agreed").name == "agreed"
        assert [b.id for b in neon.list_branches(project_id)] == [main]
        assert neon.get_branch(project_id, main).default
        assert neon.list_endpoints(project_id) == neon.list_endpoints(project_id, main)
        branch = neon.create_branch(project_id, name="dev", parent_id=main)
        neon.create_role(project_id, main, "reader")
        assert neon.get_role(project_id, main, "reader").name == "reader"
        assert len(neon.list_roles(project_id, main)) == 2
        neon.reveal_password(project_id, main, "reader")
        neon.reset_password(project_id, main, "reader")
        neon.create_database(project_id, main, "extra", "reader")
        assert neon.get_database(project_id, main, "extra").owner_name == "reader"
        assert len(neon.list_databases(project_id, main)) == 2
        neon.connection_uri(project_id, "extra", "reader", branch_id=main, pooled=True)
        operations = neon.list_operations(project_id)
        assert neon.get_operation(project_id, operations[0].id) == operations[0]
        with pytest.raises(VendorNotFound):
            neon.get_database(project_id, main, "missing")
        neon.delete_database(project_id, main, "extra")
        neon.delete_role(project_id, main, "reader")
        neon.delete_branch(project_id, branch.branch.id)
        neon.delete_project(project_id)
    with (
        NeonClient("wrong", base_url=f"{neon_sandbox.url}/api/v2", transport=transport) as neon,
        pytest.raises(VendorAuthError),
    ):
        neon.get_project(project_id)
    assert len(transport.seen) > 25
    assert transport.contract.problems == []
