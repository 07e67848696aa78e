"""One-click web deploys through the real Pulumi engine into the sandbox (and a real PostgreSQL)."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from automation import operations
from automation.localpg import LocalPostgres
from components.cloudflare.client import CloudflareClient
from components.neon.client import NeonClient
from components.spec import AppSpec
from components.turso.client import TursoClient
from core.http import VendorNotFound
from core.localhost import LoopbackTransport
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, TURSO_ORG, SandboxEndpoint
from tests.helpers import SHOP, STATIC_SITE, checkpoint_text, new_app, shop_database

pytestmark = pytest.mark.engine


def get(url: str) -> httpx.Response:
    with httpx.Client(transport=LoopbackTransport(), timeout=10) as http:
        return http.get(url)


def cloudflare(sandbox: SandboxEndpoint) -> CloudflareClient:
    return CloudflareClient(sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4")


def faults(sandbox: SandboxEndpoint, **fault: Any) -> None:
    httpx.post(f"{sandbox.url}/_admin/faults", json=fault).raise_for_status()


# How each kind of file can carry a mark that changes its bytes but not what it shows.
_MARKS = {".html": "<!-- {} -->", ".svg": "<!-- {} -->", ".css": "/* {} */", ".js": "// {}", ".txt": "{}"}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of the example's static export that a test may change. Every file carries this
    copy's own mark: the sandbox keeps one asset store for the account, and another test of the
    session may have uploaded the same site, so unmarked files would count as already there."""
    copy = Path(shutil.copytree(STATIC_SITE, tmp_path / "out"))
    mark = uuid.uuid4().hex
    for path in copy.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".json":
            data = json.loads(path.read_text())
            path.write_text(json.dumps({**data, "x_copy": mark}))
        elif path.suffix in _MARKS:
            path.write_text(path.read_text() + "\n" + _MARKS[path.suffix].format(mark) + "\n")
        else:
            path.write_bytes(path.read_bytes() + mark.encode())  # trailing bytes an icon reader ignores
    return copy


def web_spec(app: str, site: Path, **extra: Any) -> dict[str, Any]:
    return {
        "id": app,
        "database": shop_database(),
        "web": {
            "buildDir": str(site),
            "env": {"PUBLIC_MODE": "one"},
            "secretEnv": {"API_KEY": "key-s3cr3t-1"},
        },
        **extra,
    }


def test_turso_site_lifecycle(sandbox: SandboxEndpoint, site: Path, app_ids: list[str]) -> None:
    app = new_app(app_ids)
    spec = web_spec(app, site)
    first = operations.deploy(AppSpec.parse(spec))
    out = first.outputs
    assert first.health is not None
    assert first.health.checks == {"site": "ok", "database": "ok"}
    assert out["uploadedFiles"] == 48
    assert "8 tables" in out["schemaSummary"]
    assert "rows transferred from preview" in out["dataSummary"]
    assert 'provider = "sqlite"' in out["prismaSchema"] or "driverAdapters" in out["prismaSchema"]
    page = get(out["url"])
    assert page.status_code == 200
    assert "Welcome to Shop" in page.text
    steps = {s["key"]: s["state"] for s in (first.steps or {})["steps"]}
    assert steps == {"database": "done", "schema": "done", "data": "done", "site": "done", "health": "done"}

    # The deployment carries the database's and the spec's env vars; secrets never in plaintext.
    with cloudflare(sandbox) as cf:
        deployment = cf.get_deployment(app, out["deploymentId"])
        assert deployment.env_vars["PUBLIC_MODE"].value == "one"
        assert deployment.env_vars["TURSO_DATABASE_URL"].value is None  # secret_text: never returned
        assert {"TURSO_AUTH_TOKEN", "NEXTAUTH_SECRET", "NEXTAUTH_URL", "API_KEY"} <= set(deployment.env_vars)
    secrets = operations.outputs(app, show_secrets=True)
    state = checkpoint_text(app)
    for secret in (sandbox.api_token, secrets["databaseAuthToken"], "key-s3cr3t-1"):
        assert secret not in state

    # Nothing changed: nothing happens, nothing is uploaded, no new deployment.
    again = operations.deploy(AppSpec.parse(spec))
    assert again.changed == 0, again.changes
    assert again.outputs["deploymentId"] == out["deploymentId"]

    # An env var change updates in place and deploys again, uploading nothing.
    spec["web"]["env"]["PUBLIC_MODE"] = "two"
    env_change = operations.deploy(AppSpec.parse(spec))
    assert env_change.changes.get("update", 0) >= 1
    assert "replace" not in env_change.changes
    assert env_change.outputs["deploymentId"] != out["deploymentId"]
    assert env_change.outputs["uploadedFiles"] == 0

    # One changed file: one file uploaded; the site serves it.
    (site / "about.html").write_text("<h1>About, rewritten</h1>")
    file_change = operations.deploy(AppSpec.parse(spec))
    assert file_change.outputs["uploadedFiles"] == 1
    assert "rewritten" in get(out["url"] + "/about").text

    # Rollback serves the previous deployment again.
    rolled = operations.rollback(app)
    assert rolled.outputs["deploymentId"] == env_change.outputs["deploymentId"]
    assert "rewritten" not in get(out["url"] + "/about").text

    operations.destroy(app)
    with pytest.raises(VendorNotFound):
        TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url).get_database(app)
    with cloudflare(sandbox) as cf, pytest.raises(VendorNotFound):
        cf.get_project(app)
    assert app not in [a.app_id for a in operations.list_apps()]


def test_neon_and_byo_databases_are_real_postgresql(
    sandbox: SandboxEndpoint, local_postgres: LocalPostgres, app_ids: list[str]
) -> None:
    schema = str(SHOP / "prisma" / "schema.prisma")
    preview = str(SHOP / "prisma" / "preview.sql")
    neon_app = new_app(app_ids, "neon")
    neon = operations.deploy(
        AppSpec.parse(
            {"id": neon_app, "database": {"provider": "neon", "prismaSchema": schema, "previewData": preview}}
        )
    )
    assert neon.outputs["databaseUrl"] == operations.SECRET_MASK
    neon_url = operations.outputs(neon_app, show_secrets=True)["databaseUrl"]
    with psycopg.connect(neon_url) as conn:
        assert conn.execute('select count(*) from "Product"').fetchone()[0] > 0

    byo_app = new_app(app_ids, "byo")
    name = byo_app.replace("-", "_")
    with psycopg.connect(local_postgres.url, autocommit=True) as admin:
        admin.execute(f"create role {name} login password 'byo-pw-9'")
        admin.execute(f"create database {name} owner {name}")
    byo_url = f"postgresql://{name}:byo-pw-9@127.0.0.1:{local_postgres.port}/{name}"
    byo_spec = {
        "id": byo_app,
        "database": {"provider": "byo", "url": byo_url, "prismaSchema": schema, "previewData": preview},
    }
    byo = operations.deploy(AppSpec.parse(byo_spec))
    assert byo.outputs["databaseHost"] == "127.0.0.1"
    assert "byo-pw-9" not in checkpoint_text(byo_app)
    assert operations.deploy(AppSpec.parse(byo_spec)).changed == 0, "redeploy is a no-op"

    neon_project = NeonClient(sandbox.api_token, base_url=f"{sandbox.url}/api/v2").list_projects(
        search=neon_app
    )
    assert [p.name for p in neon_project] == [neon_app]
    operations.destroy(neon_app)
    operations.destroy(byo_app)
    assert (
        NeonClient(sandbox.api_token, base_url=f"{sandbox.url}/api/v2").list_projects(search=neon_app) == []
    )
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(neon_url, connect_timeout=3).close()
    with psycopg.connect(byo_url) as conn:  # the user's own database is never dropped
        assert conn.execute('select count(*) from "Product"').fetchone()[0] > 0


def test_custom_domain_add_and_remove(sandbox: SandboxEndpoint, site: Path, app_ids: list[str]) -> None:
    app = new_app(app_ids, "dom")
    domain = f"{app}.example.com"
    spec = {"id": app, "web": {"buildDir": str(site)}, "customDomain": domain}
    added = operations.deploy(AppSpec.parse(spec))
    assert added.outputs["customDomain"] == domain
    assert added.outputs["url"] == f"https://{domain}"
    with cloudflare(sandbox) as cf:
        zone = cf.find_zone(domain)
        assert zone is not None
        records = [r for r in cf.list_dns_records(zone.id) if r.name == domain]
        assert [(r.type, r.content) for r in records] == [("CNAME", f"{app}.pages.localhost")]
        assert [d.name for d in cf.list_domains(app)] == [domain]

    del spec["customDomain"]
    removed = operations.deploy(AppSpec.parse(spec))
    assert removed.changes.get("delete", 0) >= 1
    with cloudflare(sandbox) as cf:
        assert cf.list_domains(app) == []
        assert [r for r in cf.list_dns_records(zone.id) if r.name == domain] == []
    operations.destroy(app)


def test_vendor_errors_are_retried_and_a_persistent_failure_converges_later(
    sandbox: SandboxEndpoint, site: Path, app_ids: list[str]
) -> None:
    app = new_app(app_ids, "flaky")
    spec = AppSpec.parse({"id": app, "web": {"buildDir": str(site)}})
    faults(sandbox, path_prefix="/client/v4", status=500, count=2)
    assert operations.deploy(spec).health is not None  # two 500s, retried through

    app2 = new_app(app_ids, "down")
    spec2 = AppSpec.parse({"id": app2, "web": {"buildDir": str(site)}})
    faults(sandbox, path_prefix="/client/v4", status=503, count=200)
    with pytest.raises(operations.DeployError, match="Cloudflare API error 503"):
        operations.deploy(spec2)
    httpx.delete(f"{sandbox.url}/_admin/faults").raise_for_status()
    converged = operations.deploy(spec2)
    assert converged.health is not None
    assert converged.health.healthy
    for a in (app, app2):
        operations.destroy(a)


def test_a_locked_stack_is_a_typed_error_and_many_apps_deploy_at_once(
    sandbox: SandboxEndpoint, site: Path, app_ids: list[str]
) -> None:
    apps = [new_app(app_ids, "many") for _ in range(3)]
    errors: list[BaseException] = []

    def deploy(app: str) -> None:
        try:
            operations.deploy(AppSpec.parse({"id": app, "web": {"buildDir": str(site)}}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    # Hold one update open (a slow vendor answer) and start a second on the same app.
    faults(
        sandbox,
        path_prefix=f"/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/pages/projects/{apps[0]}",
        status=500,
        count=1,
        delay_seconds=4,
    )
    (site / "index.html").write_text("<h1>new</h1>")
    slow = threading.Thread(target=deploy, args=(apps[0],))
    slow.start()
    import time

    time.sleep(2)
    with pytest.raises(operations.StackLocked, match="locked by another update"):
        operations.deploy(AppSpec.parse({"id": apps[0], "web": {"buildDir": str(site)}}))
    slow.join()
    assert errors == []
    for app in apps:
        operations.destroy(app)
