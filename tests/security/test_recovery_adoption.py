"""Issue 13, item 4 and the vendor-name squatting item: recovery must never adopt another tenant's
resource, and no tenant may name its resources like another's.

The attack: B asks for a Turso database named like A's; B's deploy is killed while the create is
in flight; on retry, recovery found a database of that name and adopted it as B's pending create,
and B's destroy then deleted A's production database. Now the service refuses any vendor name
other than the one derived from the app id (which stays its first owner's forever, even after a
destroy), and `recover` adopts nothing else, however the stack got it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from automation import operations, recover
from automation.workspace import DeployError
from components.spec import AppSpec
from components.turso.client import TursoClient
from libsql.client import LibsqlClient
from sandbox.endpoint import TURSO_ORG, SandboxEndpoint
from tests.databases import query
from tests.integration.killed_deploys import held_deploy, pending_operations
from tests.service.conftest import (
    Deploys,
    database_spec,
    web_spec,
)

pytestmark = pytest.mark.engine

ROWS = [(1, "order one"), (2, "order two")]


def turso(sandbox: SandboxEndpoint) -> TursoClient:
    return TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url)


def fill(sandbox: SandboxEndpoint, name: str) -> None:
    """The victim's production rows, written with a token of the victim's database."""
    with turso(sandbox) as api:
        db = api.get_database(name)
        token = api.create_database_token(name)
    with LibsqlClient(f"libsql://{db.hostname}", token, timeout=10) as sql:
        sql.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
        for row in ROWS:
            sql.execute("INSERT INTO orders (id, item) VALUES (?, ?)", list(row))


def rows(sandbox: SandboxEndpoint, name: str) -> list[tuple[Any, ...]]:
    with turso(sandbox) as api:
        db = api.get_database(name)
        token = api.create_database_token(name)
    with LibsqlClient(f"libsql://{db.hostname}", token, timeout=10) as sql:
        return [tuple(row) for row in sql.execute("SELECT id, item FROM orders ORDER BY id").rows]


def database_names(sandbox: SandboxEndpoint) -> set[str]:
    with turso(sandbox) as api:
        return {db.name for db in api.list_databases()}


def recorded(service_db: str, app: str) -> tuple[int, int]:
    """How many deployments and app rows the service holds for `app`."""
    (deployments,) = query(service_db, "SELECT count(*) FROM deployments WHERE app_id = %s", [app])[0]
    (apps,) = query(service_db, "SELECT count(*) FROM deployed_apps WHERE app_id = %s", [app])[0]
    return int(deployments), int(apps)


# -- through the service -------------------------------------------------------------------------


class Tenants(NamedTuple):
    victim_user: str
    victim_token: str
    thief_token: str
    victim: str  # A's app, its database deployed
    thief: str  # B's app id, nothing deployed


def victim_and_thief(deploys: Deploys) -> Tenants:
    """Two pro tenants: A (the victim) with a deployed database, and B (the thief)."""
    victim_user, victim_token = deploys.user("pro")
    _, thief_token = deploys.user("pro")
    victim, thief = deploys.new_app("victim"), deploys.new_app("thief")
    deploys.start_worker()
    with deploys.client(victim_token) as http:
        deployed = http.post("/api/deploy/database", json=database_spec(victim)).json()
        deploys.succeeded(http, deployed["deploymentId"])
    return Tenants(victim_user, victim_token, thief_token, victim, thief)


def squat_database(http: httpx.Client, thief: str, victim: str) -> httpx.Response:
    """B's deploy of a database named like A's: refused, naming the field."""
    squat = database_spec(thief)
    squat["database"]["name"] = victim
    refused = http.post("/api/deploy/database", json=squat)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "database.name"
    return refused


def test_a_tenant_cannot_name_its_database_or_site_like_another_tenants(
    sandbox: SandboxEndpoint, deploys: Deploys
) -> None:
    victim_user, _, thief_token, victim, thief = victim_and_thief(deploys)
    fill(sandbox, victim)

    with deploys.client(thief_token) as http:
        # B asks for a database named like A's (the precondition of the recovery attack).
        refused = squat_database(http, thief, victim)
        assert f"omit database.name (the name is {thief!r})" in refused.json()["error"]["fix"]
        assert "Traceback" not in refused.text

        # ... and a Pages project named like A's app (its site's name, were it a web app).
        site = web_spec(thief)
        site["web"]["projectName"] = victim
        refused_site = http.post("/api/deploy/web", json=site)
        assert refused_site.status_code == 422, refused_site.text
        assert refused_site.json()["error"]["field"] == "web.projectName"

    # Refused before anything was recorded or queued; A's database and rows are as they were.
    assert recorded(deploys.db, thief) == (0, 0)
    assert victim in database_names(sandbox)
    assert rows(sandbox, victim) == ROWS
    assert query(deploys.db, "SELECT user_id, status FROM deployed_apps WHERE app_id = %s", [victim]) == [
        (victim_user, "active")
    ]


def test_a_destroyed_tenants_names_stay_its_own(sandbox: SandboxEndpoint, deploys: Deploys) -> None:
    victim_user, victim_token, thief_token, victim, thief = victim_and_thief(deploys)
    with deploys.client(victim_token) as http:
        deploys.succeeded(http, http.delete(f"/api/apps/{victim}").json()["deploymentId"])
    assert victim not in database_names(sandbox)
    before = recorded(deploys.db, victim)

    with deploys.client(thief_token) as http:
        # The destroyed app's id stays A's: B cannot deploy under it ...
        taken = http.post("/api/deploy/database", json=database_spec(victim))
        assert taken.status_code == 403, taken.text
        assert taken.json()["error"]["field"] == "id"
        # ... nor name its own database after it.
        squat_database(http, thief, victim)

    assert recorded(deploys.db, thief) == (0, 0)
    assert recorded(deploys.db, victim) == before
    assert victim not in database_names(sandbox)
    assert query(deploys.db, "SELECT user_id FROM deployed_apps WHERE app_id = %s", [victim]) == [
        (victim_user,)
    ]


# -- recovery itself -----------------------------------------------------------------------------


def deploy_killed_while_creating(sandbox: SandboxEndpoint, spec: dict[str, Any], tmp_path: Path) -> None:
    """`oneclick deploy SPEC`, SIGKILLed (with its engine and plugins) while its Turso create is
    held by the vendor: the stack keeps its lock and a pending create of that database."""
    fault = {
        "path_prefix": f"/v1/organizations/{TURSO_ORG}/databases",
        "method": "POST",
        "status": 500,
        "count": 1,
        "delay_seconds": 45,
    }
    httpx.post(f"{sandbox.url}/_admin/faults", json=fault).raise_for_status()
    try:
        with held_deploy(sandbox, spec, tmp_path):
            time.sleep(0.5)
    finally:
        httpx.delete(f"{sandbox.url}/_admin/faults")


def test_recovery_never_adopts_a_same_named_database_of_another_app(
    sandbox: SandboxEndpoint, app_ids: list[str], tmp_path: Path
) -> None:
    """Below the service (the CLI, the Automation API, a stack from before names were checked), a
    stack may still ask for any name: recovery must not take the same-named database of another
    tenant, so that a destroy of the stack cannot delete it."""
    victim = f"victim-{uuid.uuid4().hex[:8]}"
    thief = f"thief-{uuid.uuid4().hex[:8]}"
    app_ids.append(thief)
    with turso(sandbox) as api:
        api.create_database(victim, "default")  # another tenant's production database
    fill(sandbox, victim)
    squat = {"id": thief, "database": {"provider": "turso", "name": victim}}

    deploy_killed_while_creating(sandbox, squat, tmp_path)
    assert [op["type"] for op in pending_operations(thief)] == ["creating"]

    report = recover.recover(thief)
    assert report.lock_removed
    assert report.adopted == [], report.as_dict()
    assert report.dropped == [f"{thief}-db"]
    assert any(repr(victim) in w and "not adopted" in w for w in report.warnings), report.warnings
    assert pending_operations(thief) == []
    assert operations.outputs(thief, show_secrets=True) == {}  # nothing of the victim's in the state

    # A deploy asking for that name again is refused by the vendor, and nothing is taken over.
    with pytest.raises(DeployError, match="already exists"):
        operations.deploy(AppSpec.parse(squat))
    operations.destroy(thief)

    assert victim in database_names(sandbox)
    assert rows(sandbox, victim) == ROWS
    with turso(sandbox) as api:
        api.delete_database(victim)
