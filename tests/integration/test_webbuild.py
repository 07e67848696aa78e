"""The example shop built from source and run on the Workers runtime against a real libSQL database.

One build per session (by the same cache as the deploy, `ONECLICK_BUILD_CACHE`, so a CI cache makes
it warm); its `_worker.js/` is then served by `workerd` with a minimal config of our own: the modules,
the env vars Pages would bind, and outbound fetches to `*.localhost` sent to a private sandbox (the
egress trick in ../shared/notes/fullstack-runtime.md), so the unchanged `libsql://…turso.localhost`
URL works from inside the Worker.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from components.neon.client import NeonClient
from components.paths import build_cache_root
from components.turso.client import TursoClient
from dbtools import connect, import_preview, load_schema, migrate
from libsql.client import LibsqlClient
from sandbox import server
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint
from tests.databases import query
from tests.helpers import free_port, wait_for
from webbuild import BuildFailed, BuiltSite, build_site

pytestmark = pytest.mark.build

SHOP = REPO_ROOT / "examples" / "shop"
WORKERD = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "workerd"
ADMIN_PASSWORD = "shop-admin-test-password"
EGRESS = """export default {
  fetch(request, env) {
    const host = new URL(request.url).hostname;
    const local = host === "localhost" || host.endsWith(".localhost");
    return local ? env.SANDBOX.fetch(request) : env.INTERNET.fetch(request);
  },
};
"""
COPY_IGNORED = shutil.ignore_patterns("node_modules", ".next", ".open-next", "generated", ".wrangler")


@dataclass(frozen=True)
class Database:
    url: str
    token: str

    def rows(self, sql: str, *args: int) -> list[tuple[object, ...]]:
        with LibsqlClient(self.url, self.token, timeout=10) as client:
            return [tuple(row) for row in client.execute(sql, list(args)).rows]


@pytest.fixture(scope="session")
def built() -> BuiltSite:
    site = build_site(SHOP, framework="nextjs", database_provider="sqlite", cache_root=build_cache_root())
    print(f"\nshop build: {site.seconds:.1f} s, cached={site.cached}, key {site.key[:12]}")
    return site


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, SandboxEndpoint]]:
    directory = tmp_path_factory.mktemp("webbuild") / "sbx"
    endpoint = server.start(directory, port=0)
    try:
        with TursoClient(endpoint.api_token, "org1", base_url=endpoint.url) as turso:
            created = turso.create_database("shop", "default")
            db = Database(f"libsql://{created.hostname}", turso.create_database_token("shop"))
        schema = load_schema(SHOP / "prisma" / "schema.prisma")
        executor = connect(db.url, db.token)
        migrate(executor, schema, SHOP / "prisma" / "migrations")
        import_preview(executor, schema, SHOP / "prisma" / "preview.sql")
        yield db, endpoint
    finally:
        server.stop(directory)


def capnp(site: Path, env: dict[str, str], sandbox_port: int, port: int) -> str:
    worker = site / "_worker.js"
    modules = ['(name = "index.js", esModule = embed "site/_worker.js/index.js")'] + [
        f'(name = "{m.name}", wasm = embed "site/_worker.js/{m.name}")' for m in sorted(worker.glob("*.wasm"))
    ]
    env = {
        **env,
        "NEXTAUTH_SECRET": "a-test-secret-of-enough-length-0123456789",
        "NEXTAUTH_URL": f"http://127.0.0.1:{port}",
        "SHOP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    bindings = [f"(name = {json.dumps(k)}, text = {json.dumps(v)})" for k, v in env.items()]
    return f"""using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "app", worker = .app),
    (name = "egress", worker = .egress),
    (name = "assets", disk = (path = {json.dumps(str(site))}, writable = false)),
    (name = "sandbox", external = (address = "127.0.0.1:{sandbox_port}", http = (style = host))),
    (name = "internet", network = (allow = ["public"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "app")],
);
const app :Workerd.Worker = (
  modules = [{", ".join(modules)}],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
  bindings = [{", ".join(bindings)}, (name = "ASSETS", service = "assets")],
  globalOutbound = "egress",
);
const egress :Workerd.Worker = (
  modules = [(name = "egress.js", esModule = embed "egress.js")],
  compatibilityDate = "2025-09-01",
  bindings = [(name = "SANDBOX", service = "sandbox"), (name = "INTERNET", service = "internet")],
);
"""


@contextmanager
def serve(site: Path, env: dict[str, str], sandbox: SandboxEndpoint, here: Path) -> Iterator[str]:
    """`site`'s Worker in workerd with `env` bound; yields its URL once /api/health answers."""
    if not WORKERD.exists():
        pytest.fail(f"workerd is not installed at {WORKERD}; run scripts/setup")
    (here / "site").symlink_to(site)  # embed paths are relative to the config file
    (here / "egress.js").write_text(EGRESS)
    port = free_port()
    (here / "config.capnp").write_text(capnp(site, env, int(sandbox.url.rsplit(":", 1)[1]), port))
    with (here / "workerd.log").open("w") as log:
        child = subprocess.Popen(
            [str(WORKERD), "serve", "config.capnp", "--experimental"],
            cwd=here,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _answers(url), timeout=30)
            yield url
        finally:
            child.terminate()
            child.wait(timeout=10)
            # Shown by pytest with a failing test's output: the Worker's own errors are here.
            print("workerd log:", *(here / "workerd.log").read_text().splitlines()[-60:], sep="\n")


@pytest.fixture(scope="module")
def app_url(
    built: BuiltSite, database: tuple[Database, SandboxEndpoint], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    db, endpoint = database
    env = {"TURSO_DATABASE_URL": db.url, "TURSO_AUTH_TOKEN": db.token}
    with serve(built.out_dir, env, endpoint, tmp_path_factory.mktemp("workerd")) as url:
        yield url


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=5).status_code in (200, 503)
    except httpx.HTTPError:
        return False


@contextmanager
def signed_in(url: str) -> Iterator[httpx.Client]:
    """A client holding NextAuth's session cookie, signed in the way the sign-in form does it."""
    with httpx.Client(base_url=url, timeout=30) as client:
        csrf = client.get("/api/auth/csrf").json()["csrfToken"]
        answer = client.post(
            "/api/auth/callback/credentials",
            data={"csrfToken": csrf, "name": "alice", "password": ADMIN_PASSWORD, "json": "true"},
        )
        assert answer.status_code == 200, answer.text
        assert client.get("/api/auth/session").json()["user"] == {"name": "alice"}
        yield client


# --- the output ---


def test_the_output_is_a_pages_output_whose_entry_node_accepts(built: BuiltSite, tmp_path: Path) -> None:
    out = built.out_dir
    entry = out / "_worker.js" / "index.js"
    assert entry.is_file()
    assert list((out / "_worker.js").glob("*.wasm")), "Prisma's query compiler travels as a wasm module"
    module = tmp_path / "index.mjs"  # node reads a .js file as CommonJS; the entry is an ES module
    shutil.copyfile(entry, module)
    checked = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    rules = json.loads((out / "_routes.json").read_text())
    assert rules["version"] == 1
    assert rules["include"] == ["/*"]
    assert len(rules["include"]) + len(rules["exclude"]) <= 100
    assert all(len(rule) <= 100 for rule in rules["include"] + rules["exclude"])
    assert "/_next/static/*" in rules["exclude"]
    assert list((out / "_next" / "static").rglob("*.js")), "the browser's scripts are static assets"


def test_an_unchanged_source_is_not_built_again(built: BuiltSite) -> None:
    again = build_site(SHOP, framework="nextjs", database_provider="sqlite", cache_root=build_cache_root())
    assert again.cached
    assert (again.out_dir, again.key) == (built.out_dir, built.key)
    assert again.seconds < 1


# --- the app on workerd ---


def test_health_is_a_database_round_trip(app_url: str) -> None:
    answer = httpx.get(f"{app_url}/api/health", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ok"
    assert answer.json()["database"] == "turso"


def test_products_come_from_the_database(app_url: str, database: tuple[Database, SandboxEndpoint]) -> None:
    db, _ = database
    answer = httpx.get(f"{app_url}/api/products", timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = db.rows('SELECT id, sku, name, price_cents FROM "Product" ORDER BY id')
    assert len(expected) == 8  # the preview data's products
    assert body["total"] == len(expected)
    assert [(p["id"], p["sku"], p["name"], p["priceCents"]) for p in body["products"]] == expected
    one = httpx.get(f"{app_url}/api/products/{expected[0][0]}", timeout=30)
    assert one.json()["sku"] == expected[0][1]
    assert httpx.get(f"{app_url}/api/products/999999", timeout=30).status_code == 404
    page = httpx.get(f"{app_url}/", timeout=30)
    assert page.status_code == 200
    assert str(expected[0][2]) in page.text


def test_writes_need_a_session_and_land_in_the_database(
    app_url: str, database: tuple[Database, SandboxEndpoint]
) -> None:
    db, _ = database
    product = {"sku": "TEST-BUILD-1", "name": "Built and served", "priceCents": 1234}
    refused = httpx.post(f"{app_url}/api/products", json=product, timeout=30)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    with signed_in(app_url) as client:
        invalid = client.post("/api/products", json={"sku": "bad sku", "priceCents": -1, "color": "red"})
        assert invalid.status_code == 400
        assert set(invalid.json()["error"]["fields"]) == {"sku", "name", "priceCents", "color"}
        assert invalid.json()["error"]["fields"]["name"] == "required"
        created = client.post("/api/products", json=product)
        assert created.status_code == 201, created.text
        new_id = created.json()["id"]
        assert db.rows('SELECT sku, name, price_cents FROM "Product" WHERE id = ?', new_id) == [
            ("TEST-BUILD-1", "Built and served", 1234)
        ]
        assert client.post("/api/products", json=product).status_code == 409
        changed = client.patch(f"/api/products/{new_id}", json={"priceCents": 999, "inStock": False})
        assert changed.status_code == 200
        assert (changed.json()["priceCents"], changed.json()["inStock"]) == (999, False)
        assert client.delete(f"/api/products/{new_id}").status_code == 204
        assert client.delete(f"/api/products/{new_id}").status_code == 404
    assert db.rows('SELECT id FROM "Product" WHERE id = ?', new_id) == []


def test_sixteen_concurrent_requests_all_succeed(app_url: str) -> None:
    # A client per request: a module-level one would hang in workerd under concurrency.
    def fetch(_: int) -> int:
        return httpx.get(f"{app_url}/api/products", timeout=60).status_code

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(fetch, range(32))) == [200] * 32


# --- a broken app ---


def test_a_syntax_error_fails_the_build_with_the_compilers_lines(built: BuiltSite, tmp_path: Path) -> None:
    source = Path(shutil.copytree(SHOP, tmp_path / "shop", ignore=COPY_IGNORED))
    route = source / "app" / "api" / "health" / "route.ts"
    route.write_text(
        route.read_text().replace("export async function GET() {", "export async function GET( {")
    )
    started = time.monotonic()
    with pytest.raises(BuildFailed) as caught:
        build_site(source, framework="nextjs", database_provider="sqlite", cache_root=build_cache_root())
    message = str(caught.value)
    print(f"\nfailed build: {time.monotonic() - started:.1f} s\n{message}")
    assert message.startswith("opennextjs-cloudflare build failed")
    assert "app/api/health/route.ts" in message
    assert "Traceback" not in message
    assert caught.value.field == "web.source"


# --- the same app built for PostgreSQL, on a Neon project of the sandbox ---


@pytest.fixture(scope="session")
def built_for_postgresql() -> BuiltSite:
    site = build_site(SHOP, framework="nextjs", database_provider="postgresql", cache_root=build_cache_root())
    print(f"\nshop build for PostgreSQL: {site.seconds:.1f} s, cached={site.cached}")
    return site


@pytest.fixture(scope="module")
def neon(sandbox: SandboxEndpoint) -> str:
    """A Neon project's connection string, with the shop's schema and preview data."""
    with NeonClient(sandbox.api_token, base_url=f"{sandbox.url}/api/v2") as client:
        created = client.create_project(f"webbuild-{uuid.uuid4().hex[:8]}")
    url = created.connection_uris[0].uri
    schema = load_schema(SHOP / "prisma" / "schema.prisma")
    executor = connect(url)
    migrate(executor, schema, SHOP / "prisma" / "migrations")
    import_preview(executor, schema, SHOP / "prisma" / "preview.sql")
    return url


@pytest.fixture(scope="module")
def neon_app_url(
    built_for_postgresql: BuiltSite,
    neon: str,
    sandbox: SandboxEndpoint,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    # Neon's driver sends SQL over HTTP; the sandbox serves that at /sql on its own port, which the
    # Worker reaches through the egress as a *.localhost host.
    env = {
        "DATABASE_URL": neon,
        "NEON_HTTP_ENDPOINT": f"http://neon.localhost:{sandbox.url.rsplit(':', 1)[1]}/sql",
    }
    with serve(built_for_postgresql.out_dir, env, sandbox, tmp_path_factory.mktemp("workerd-neon")) as url:
        yield url


def test_the_postgresql_build_answers_from_neon(neon_app_url: str, neon: str) -> None:
    health = httpx.get(f"{neon_app_url}/api/health", timeout=30)
    assert health.status_code == 200, health.text
    assert health.json()["database"] == "postgresql"
    expected = query(neon, 'SELECT id, sku, name, price_cents FROM "Product" ORDER BY id')
    products = httpx.get(f"{neon_app_url}/api/products", timeout=30).json()
    assert [(p["id"], p["sku"], p["name"], p["priceCents"]) for p in products["products"]] == expected
    with signed_in(neon_app_url) as client:
        created = client.post(
            "/api/products", json={"sku": "PG-1", "name": "From the Worker", "priceCents": 5}
        )
        assert created.status_code == 201, created.text
        assert (
            client.post("/api/products", json={"sku": "PG-1", "name": "again", "priceCents": 5}).status_code
            == 409
        )
    assert query(neon, 'SELECT name FROM "Product" WHERE sku = %s', ("PG-1",)) == [("From the Worker",)]
