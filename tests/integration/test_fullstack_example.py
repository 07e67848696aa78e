"""The example Next.js shop deployed from source (`web.source` + `framework: nextjs`) through the real
engine into the sandbox, whose workerd runs its server half against the app's own Turso database:
the API answers from the database through Prisma, writes need a NextAuth session, 16 concurrent
clients are served, an unchanged app is neither rebuilt nor redeployed, a changed API route rebuilds
and ships only what changed, rollback serves the previous server half, and a build that fails stops
the deploy with the build's own lines while the last deployment keeps serving.

The first build installs the app's packages (npm ci) and builds it (OpenNext): minutes on 2 cores.
Set ONECLICK_BUILD_CACHE to a folder kept between runs to reuse both."""

from __future__ import annotations

import secrets
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from automation import operations
from automation.localpg import LocalPostgres
from components.spec import AppSpec
from core.localhost import LoopbackTransport
from libsql.client import LibsqlClient
from sandbox.endpoint import SandboxEndpoint
from tests.helpers import SHOP, destroyed_afterwards, shop_database

pytestmark = [pytest.mark.engine, pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")]

LEFT_OUT = shutil.ignore_patterns("node_modules", ".next", ".open-next", ".wrangler", "generated")
HEALTH_ROUTE = Path("app") / "api" / "health" / "route.ts"
PASSWORD = secrets.token_urlsafe(12)


def web(timeout: float = 30) -> httpx.Client:
    return httpx.Client(transport=LoopbackTransport(), timeout=timeout)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHOP, tmp_path / "shop", ignore=LEFT_OUT))


@pytest.fixture
def app_id() -> Iterator[str]:
    with destroyed_afterwards("shop") as app:
        yield app


def shop_spec(app: str, source: Path, provider: str = "turso") -> AppSpec:
    return AppSpec.parse(
        {
            "id": app,
            "database": shop_database(provider),
            "web": {
                "source": str(source),
                "framework": "nextjs",
                "secretEnv": {"SHOP_ADMIN_PASSWORD": PASSWORD},
            },
        }
    )


def steps(result: operations.OperationResult) -> dict[str, dict[str, Any]]:
    return {step["key"]: step for step in (result.steps or {})["steps"]}


def sign_in(http: httpx.Client, url: str) -> None:
    """NextAuth's credentials flow: a CSRF token, then the callback, which sets the session cookie."""
    csrf = http.get(f"{url}/api/auth/csrf").json()["csrfToken"]
    answer = http.post(
        f"{url}/api/auth/callback/credentials",
        data={"csrfToken": csrf, "name": "tester", "password": PASSWORD, "json": "true"},
    )
    assert answer.status_code in (200, 302), answer.text
    assert any("session-token" in name for name in http.cookies), "no session cookie was set"


def new_product(sku: str) -> dict[str, Any]:
    return {"sku": sku, "name": f"Test {sku}", "priceCents": 1234, "categoryId": 1, "inStock": True}


def test_the_example_shop_runs_its_api_against_its_database(
    sandbox: SandboxEndpoint, source: Path, app_id: str
) -> None:
    spec = shop_spec(app_id, source)
    first = operations.deploy(spec)
    out = first.outputs
    url = str(out["url"])
    assert steps(first)["build"]["state"] == "done"
    assert first.health is not None
    assert first.health.checks["app"] == "ok", first.health.summary
    assert "GET /api/health → 200" in first.health.details["app"]

    secret_outputs = operations.outputs(app_id, show_secrets=True)
    with LibsqlClient(secret_outputs["databaseUrl"], secret_outputs["databaseAuthToken"]) as db:
        count = db.execute('SELECT count(*) FROM "Product"').scalar()
        names = [row[0] for row in db.execute('SELECT name FROM "Product" ORDER BY id').rows]
    with web() as http:
        listed = http.get(f"{url}/api/products").json()
        assert listed["total"] == count
        assert [p["name"] for p in listed["products"]] == names, "the app's rows are the database's"

        refused = http.post(f"{url}/api/products", json=new_product("NOPE-1"))
        assert refused.status_code == 401, refused.text
        sign_in(http, url)
        created = http.post(f"{url}/api/products", json=new_product("TEST-1"))
        assert created.status_code == 201, created.text
    with LibsqlClient(secret_outputs["databaseUrl"], secret_outputs["databaseAuthToken"]) as db:
        assert db.execute("SELECT name FROM \"Product\" WHERE sku = 'TEST-1'").scalar() == "Test TEST-1"
        assert db.execute("SELECT count(*) FROM \"Product\" WHERE sku = 'NOPE-1'").scalar() == 0

    with ThreadPoolExecutor(16) as pool, web(60) as http:
        codes = list(pool.map(lambda _: http.get(f"{url}/api/products").status_code, range(16)))
    assert codes == [200] * 16

    again = operations.deploy(spec)
    assert again.changed == 0, again.changes
    assert again.outputs["deploymentId"] == out["deploymentId"], "an unchanged app makes no deployment"
    assert "reused" in steps(again)["build"]["detail"], "an unchanged app is not rebuilt"

    # A release no earlier run built, so a build cache kept between runs cannot hold it.
    release = uuid.uuid4().hex[:12]
    route = source / HEALTH_ROUTE
    route.write_text(route.read_text().replace('status: "ok", ', f'status: "ok", release: "{release}", ', 1))
    changed = operations.deploy(spec)
    assert "made in" in steps(changed)["build"]["detail"]
    assert changed.outputs["deploymentId"] != out["deploymentId"]
    assert int(changed.outputs["uploadedFiles"]) < int(out["uploadedFiles"]), "only what changed is sent"
    with web() as http:
        assert http.get(f"{url}/api/health").json().get("release") == release

    operations.rollback(app_id)
    with web() as http:
        assert "release" not in http.get(f"{url}/api/health").json(), "rollback serves the old server half"


def test_a_failing_build_stops_the_deploy_and_the_last_deployment_keeps_serving(
    sandbox: SandboxEndpoint, source: Path, app_id: str
) -> None:
    spec = shop_spec(app_id, source)
    good = operations.deploy(spec)
    route = source / HEALTH_ROUTE
    route.write_text(route.read_text() + "\nexport const broken: number = 'not a number';\n")
    with pytest.raises(operations.DeployError, match=r"building web\.source failed") as failed:
        operations.deploy(spec)
    assert "broken" in str(failed.value) or "not assignable" in str(failed.value), "the build's own lines"
    assert operations.status(app_id)["outputs"]["deploymentId"] == good.outputs["deploymentId"]
    with web() as http:
        assert http.get(f"{good.outputs['url']}/api/health").status_code == 200


def test_the_example_shop_on_neon_reaches_postgresql_through_neons_http_driver(
    sandbox: SandboxEndpoint, local_postgres: LocalPostgres, source: Path, app_id: str
) -> None:
    """The same app built for PostgreSQL: Prisma's Neon adapter sends SQL over HTTP (the sandbox's
    `/sql`, named by NEON_HTTP_ENDPOINT there) to the project's real PostgreSQL database."""
    spec = shop_spec(app_id, source, provider="neon")
    deployed = operations.deploy(spec)
    assert deployed.health is not None
    assert deployed.health.checks["app"] == "ok", deployed.health.summary
    assert '"database":"postgresql"' in deployed.health.details["app"]
    url = str(deployed.outputs["url"])
    database_url = operations.outputs(app_id, show_secrets=True)["databaseUrl"]
    with psycopg.connect(database_url) as conn:
        count = conn.execute('SELECT count(*) FROM "Product"').fetchone()
    assert count is not None
    with web() as http:
        assert http.get(f"{url}/api/products").json()["total"] == count[0]
        assert http.post(f"{url}/api/products", json=new_product("PG-0")).status_code == 401
        sign_in(http, url)
        created = http.post(f"{url}/api/products", json=new_product("PG-1"))
        assert created.status_code == 201, created.text
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT name FROM \"Product\" WHERE sku = 'PG-1'").fetchone() == ("Test PG-1",)
    with ThreadPoolExecutor(16) as pool, web(60) as http:
        codes = list(pool.map(lambda _: http.get(f"{url}/api/products").status_code, range(16)))
    assert codes == [200] * 16
