"""`wrangler pages deploy` (4.86.0, unpatched) into a private sandbox, whose workerd runs the server half.

wrangler is pointed at the sandbox only through the variables it documents: CLOUDFLARE_API_TOKEN,
CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_BASE_URL. Sites are reached as `http://<project>.pages.localhost`
(the Host header) on the sandbox's port. The sandbox runs with a 3 s per-request worker timeout so the
hung-worker case is quick. Latency figures are printed (run with -s to see them).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import ssl
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.turso.client import TursoClient
from libsql.client import LibsqlClient
from sandbox import server
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, REPO_ROOT, TURSO_ORG, SandboxEndpoint

WRANGLER = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "wrangler"
NODE_MODULES = REPO_ROOT / ".tools" / "node" / "node_modules"
WORKER_TIMEOUT = 3
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="module")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    assert WRANGLER.exists(), "run ./scripts/setup (installs tools/node: wrangler and workerd)"
    directory: Path = tmp_path_factory.mktemp("pages-workers") / "sbx"
    before = os.environ.get("ONECLICK_SANDBOX_WORKER_TIMEOUT")
    os.environ["ONECLICK_SANDBOX_WORKER_TIMEOUT"] = str(WORKER_TIMEOUT)
    try:
        server.start(directory, port=0)
    finally:
        if before is None:
            del os.environ["ONECLICK_SANDBOX_WORKER_TIMEOUT"]
        else:
            os.environ["ONECLICK_SANDBOX_WORKER_TIMEOUT"] = before
    yield directory
    server.stop(directory)
    assert workerd_processes(str(directory)) == [], "stopping the sandbox stops its workers"
    if FIGURES:
        print("\nPages workers in the sandbox:", ", ".join(f"{k}={v}" for k, v in FIGURES.items()))


@pytest.fixture
def endpoint(sandbox_dir: Path) -> SandboxEndpoint:
    return server.start(sandbox_dir, port=0)  # already running: the same endpoint


def workerd_processes(marker: str) -> list[int]:
    """Pids of workerd processes whose command line mentions `marker` (a deployment id or directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "workerd serve" in command and marker in command:
                found.append(int(entry.name))
    return found


def wrangler(endpoint: SandboxEndpoint, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CLOUDFLARE_", "CF_"))}
    env.update(
        CLOUDFLARE_API_TOKEN=endpoint.api_token,
        CLOUDFLARE_ACCOUNT_ID=CLOUDFLARE_ACCOUNT_ID,
        CLOUDFLARE_API_BASE_URL=f"{endpoint.url}/client/v4",
        WRANGLER_SEND_METRICS="false",
        XDG_CONFIG_HOME=str(workdir / ".config"),  # never a developer's own wrangler login
        PATH=f"{NODE_MODULES / '.bin'}:{env.get('PATH', '')}",
    )
    return subprocess.run(
        [str(WRANGLER), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def deploy(endpoint: SandboxEndpoint, workdir: Path, project: str, directory: str) -> str:
    """`wrangler pages deploy`; returns the deployment id (asserting success)."""
    done = wrangler(
        endpoint, workdir, "pages", "deploy", directory, "--project-name", project, "--branch", "main",
        "--commit-dirty=true", "--commit-hash", "c0ffee",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Deployment complete" in done.stdout, done.stdout
    return str(latest(endpoint, project)["id"])


def api(endpoint: SandboxEndpoint, method: str, path: str, **kwargs: Any) -> httpx.Response:
    url = f"{endpoint.url}/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/pages/projects{path}"
    headers = {"Authorization": f"Bearer {endpoint.api_token}"}
    return httpx.request(method, url, headers=headers, timeout=60, **kwargs)


def latest(endpoint: SandboxEndpoint, project: str) -> dict[str, Any]:
    found: dict[str, Any] = api(endpoint, "GET", f"/{project}").json()["result"]["canonical_deployment"]
    return found


def create_project(endpoint: SandboxEndpoint, env_vars: dict[str, Any] | None = None) -> str:
    name = f"wp-{uuid.uuid4().hex[:8]}"
    production = {
        "compatibility_date": "2024-09-23",
        "compatibility_flags": ["nodejs_compat"],
        "env_vars": env_vars or {},
    }
    body = {"name": name, "production_branch": "main", "deployment_configs": {"production": production}}
    answer = api(endpoint, "POST", "", json=body)
    assert answer.status_code == 200, answer.text
    return name


HTTP = httpx.Client(timeout=30)  # one connection pool: a client per request would time its own set-up


def site(
    endpoint: SandboxEndpoint, project: str, path: str, method: str = "GET", **kwargs: Any
) -> httpx.Response:
    port = endpoint.url.rsplit(":", 1)[1]
    headers = {"Host": f"{project}.pages.localhost:{port}", **kwargs.pop("headers", {})}
    return HTTP.request(method, endpoint.url + path, headers=headers, **kwargs)


def bundle(main: str, modules: dict[str, str]) -> bytes:
    """A `_worker.bundle` body shaped like undici's (what wrangler uploads)."""
    boundary = "----formdata-undici-0123456789"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
             + json.dumps({"main_module": main}) + "\r\n"]  # fmt: skip
    for name, source in modules.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            f"Content-Type: application/javascript+module\r\n\r\n{source}\r\n"
        )
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


def raw_deploy(endpoint: SandboxEndpoint, project: str, worker: bytes, **files: str) -> httpx.Response:
    """A deployment through the API directly (wrangler checks some of these inputs itself first)."""
    upload = {"_worker.bundle": ("_worker.bundle", worker, "application/octet-stream")}
    for name, text in files.items():
        upload[name] = (name, text.encode(), "application/octet-stream")
    return api(endpoint, "POST", f"/{project}/deployments", data={"manifest": "{}"}, files=upload)


# -- a functions/ project ----------------------------------------------------------------------

HELLO = """
export async function onRequest({ request, env }) {
  return Response.json({
    greeting: env.GREETING, key: env.API_KEY, pages: env.CF_PAGES, branch: env.CF_PAGES_BRANCH,
    sha: env.CF_PAGES_COMMIT_SHA, pagesUrl: env.CF_PAGES_URL, url: request.url,
  });
}
"""

ECHO = """
import { createHash } from "node:crypto";
export async function onRequest({ request }) {
  const body = new Uint8Array(await request.arrayBuffer());
  return Response.json(
    { method: request.method, length: body.length, sha256: createHash("sha256").update(body).digest("hex"),
      header: request.headers.get("x-custom") },
    { status: request.method === "POST" ? 201 : 200, headers: { "x-from": "function" } },
  );
}
"""


@pytest.fixture(scope="module")
def functions_site(sandbox_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    endpoint = server.start(sandbox_dir, port=0)
    root: Path = tmp_path_factory.mktemp("functions-project")
    (root / "functions" / "api").mkdir(parents=True)
    (root / "functions" / "api" / "hello.js").write_text(HELLO)
    (root / "functions" / "api" / "echo.js").write_text(ECHO)
    (root / "public").mkdir()
    (root / "public" / "index.html").write_text("<h1>static half</h1>")
    (root / "public" / "_headers").write_text("/*\n  X-Frame-Options: DENY\n")
    (root / "public" / "_redirects").write_text("/old /index.html 301\n")
    project = create_project(
        endpoint,
        {
            "GREETING": {"type": "plain_text", "value": "hello"},
            "API_KEY": {"type": "secret_text", "value": "k-1"},
        },
    )
    started = time.monotonic()
    deploy(endpoint, root, project, "public")
    FIGURES["wrangler_functions_deploy_s"] = f"{time.monotonic() - started:.2f}"
    return project, root


def test_functions_project_answers_through_its_pages_host(
    endpoint: SandboxEndpoint, functions_site: tuple[str, Path], sandbox_dir: Path
) -> None:
    project, _ = functions_site
    assert "k-1" not in (sandbox_dir / "state.json").read_text(), "secret values stay out of state.json"
    secrets_file = sandbox_dir / "cloudflare" / "secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    for config in (sandbox_dir / "cloudflare" / "workers").glob("*/config.capnp"):
        assert "k-1" not in config.read_text(), "nor in a worker's config"
    deployment = latest(endpoint, project)
    port = endpoint.url.rsplit(":", 1)[1]
    hello = site(endpoint, project, "/api/hello")
    assert hello.status_code == 200, hello.text
    assert hello.json() == {
        "greeting": "hello",
        "key": "k-1",
        "pages": "1",
        "branch": "main",
        "sha": "c0ffee",
        "pagesUrl": f"http://{deployment['short_id']}.{project}.pages.localhost:{port}",
        "url": f"http://{project}.pages.localhost:{port}/api/hello",
    }, "env vars, secrets and CF_PAGES* from deployment_configs; the request keeps the site's URL"
    assert "X-Frame-Options" not in hello.headers, "_headers apply to static responses only"

    payload = os.urandom(1024 * 1024)
    echoed = site(endpoint, project, "/api/echo", "POST", content=payload, headers={"x-custom": "v"})
    assert echoed.status_code == 201, echoed.text
    assert echoed.headers["x-from"] == "function"
    assert echoed.json()["length"] == len(payload)
    assert echoed.json()["header"] == "v"
    assert echoed.json()["sha256"] == hashlib.sha256(payload).hexdigest(), (
        "the body arrives whole (nodejs_compat)"
    )
    for method in ("PUT", "PATCH", "DELETE", "GET"):
        answer = site(endpoint, project, "/api/echo", method)
        assert answer.status_code == 200, (method, answer.text)
        assert answer.json()["method"] == method

    page = site(endpoint, project, "/")
    assert page.text == "<h1>static half</h1>", "paths outside the functions' routes are assets"
    assert page.headers["x-frame-options"] == "DENY", "_headers on static responses"
    moved = site(endpoint, project, "/old?x=1")
    assert (moved.status_code, moved.headers["location"]) == (301, "/index.html?x=1"), "_redirects first"
    assert endpoint.tls_port, "the sandbox serves sites on its TLS port too"
    with httpx.Client(verify=ssl.create_default_context(cafile=endpoint.ca_file), timeout=30) as tls:
        host = f"{project}.pages.localhost:{endpoint.tls_port}"
        over_tls = tls.get(f"https://127.0.0.1:{endpoint.tls_port}/api/hello", headers={"Host": host})
    assert over_tls.json()["url"] == f"https://{host}/api/hello", "the worker sees the scheme it was asked by"
    short = httpx.get(
        endpoint.url + "/api/hello", headers={"Host": f"{deployment['short_id']}.{project}.pages.localhost"}
    )
    assert short.json()["greeting"] == "hello", "the deployment's own URL runs the same worker"

    timings = []
    for _ in range(50):
        started = time.perf_counter()
        assert site(endpoint, project, "/api/hello").status_code == 200
        timings.append((time.perf_counter() - started) * 1000)
    FIGURES["function_p50_ms"] = f"{statistics.median(timings):.1f}"
    FIGURES["function_p95_ms"] = f"{statistics.quantiles(timings, n=20)[-1]:.1f}"


def test_bad_inputs_leave_the_previous_deployment_serving(
    endpoint: SandboxEndpoint, functions_site: tuple[str, Path], tmp_path: Path
) -> None:
    project, _ = functions_site
    before = latest(endpoint, project)["id"]
    count = len(api(endpoint, "GET", f"/{project}/deployments").json()["result"])

    def still_serving() -> None:
        assert latest(endpoint, project)["id"] == before
        assert len(api(endpoint, "GET", f"/{project}/deployments").json()["result"]) == count, "none was made"
        assert site(endpoint, project, "/api/hello").json()["greeting"] == "hello"

    missing = raw_deploy(endpoint, project, bundle("index.js", {"other.js": "export default {}"}))
    assert missing.status_code == 400
    error = missing.json()["errors"][0]
    assert error["code"] == 10021
    assert 'Main module name is not present in bundle: main_module is "index.js"' in error["message"]
    still_serving()

    routes = json.dumps({"version": 1, "include": ["/api/*", "/api/hello"], "exclude": []})
    refused = raw_deploy(
        endpoint, project, bundle("w.js", {"w.js": "export default {}"}), **{"_routes.json": routes}
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == 8000057
    assert "'/api/hello' and '/api/*' overlap" in refused.json()["errors"][0]["message"]
    still_serving()

    throws = tmp_path / "throws"
    throws.mkdir()
    (throws / "_worker.js").write_text(
        "const config = {};\n"
        "if (!config.url) throw new Error('DATABASE_URL is not set');\n"
        "export default { fetch() { return new Response('never'); } };\n"
    )
    done = wrangler(
        endpoint, tmp_path, "pages", "deploy", "throws", "--project-name", project, "--branch", "main"
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Failed to publish your Function. Got error: Uncaught Error: DATABASE_URL is not set" in output
    # wrangler bundles _worker.js (with nodejs_compat's polyfills) first, so the line is in its bundle,
    # as Cloudflare reports it too.
    assert re.search(r"at bundledWorker-[\d.]+\.mjs:\d+:\d+ \[code: 10021\]", output), output
    assert "[code: 10021]" in output
    still_serving()


# -- advanced mode: _worker.js, ASSETS, _routes.json, Turso -------------------------------------

ADVANCED = """
import { createClient } from "@libsql/client/web";
import { randomUUID } from "node:crypto";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/api/rows") {
      // A client per request: a module-level one hangs under concurrency in workerd.
      const db = createClient({ url: env.TURSO_DATABASE_URL, authToken: env.TURSO_AUTH_TOKEN });
      try {
        const result = await db.execute("SELECT id, name FROM item ORDER BY id");
        return Response.json({ rows: result.rows.map((r) => [r.id, r.name]), request: randomUUID() });
      } finally {
        db.close();
      }
    }
    if (url.pathname === "/api/add" && request.method === "POST") {
      const db = createClient({ url: env.TURSO_DATABASE_URL, authToken: env.TURSO_AUTH_TOKEN });
      const { name } = await request.json();
      await db.execute({ sql: "INSERT INTO item (name) VALUES (?)", args: [name] });
      db.close();
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/api/version") return Response.json({ version: VERSION });
    if (url.pathname === "/api/throw") throw new Error("request-time failure");
    if (url.pathname === "/api/never") return new Promise(() => {});
    if (url.pathname === "/api/spin") { for (;;) {} }
    const asset = await env.ASSETS.fetch(request);
    const answer = new Response(asset.body, asset);
    answer.headers.set("x-through-worker", "1");
    return answer;
  },
};
"""


def advanced_project(root: Path, version: str) -> Path:
    directory = root / "dist"
    (directory / "static").mkdir(parents=True, exist_ok=True)
    (directory / "index.html").write_text("<h1>home</h1>")
    (directory / "static" / "app.css").write_text("body{}")
    (directory / "_routes.json").write_text(
        json.dumps({"version": 1, "include": ["/*"], "exclude": ["/static/*"]})
    )
    (directory / "_worker.js").write_text(f'const VERSION = "{version}";\n' + ADVANCED)
    if not (root / "node_modules").exists():
        (root / "node_modules").symlink_to(NODE_MODULES)  # @libsql/client, pinned in tools/node
    return directory


@pytest.fixture(scope="module")
def turso(sandbox_dir: Path) -> dict[str, str]:
    endpoint = server.start(sandbox_dir, port=0)
    name = f"wp-{uuid.uuid4().hex[:8]}"
    with TursoClient(endpoint.api_token, TURSO_ORG, base_url=endpoint.url) as client:
        database = client.create_database(name, "default")
        token = client.create_database_token(name)
    url = f"libsql://{database.hostname}"
    with LibsqlClient(url, token) as db:
        db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        db.executemany("INSERT INTO item (name) VALUES (?)", [[f"item {i}"] for i in range(1, 6)])
    return {"url": url, "token": token}


@pytest.fixture(scope="module")
def advanced(
    sandbox_dir: Path, turso: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    endpoint = server.start(sandbox_dir, port=0)
    root: Path = tmp_path_factory.mktemp("advanced-project")
    project = create_project(
        endpoint,
        {
            "TURSO_DATABASE_URL": {"type": "plain_text", "value": turso["url"]},
            "TURSO_AUTH_TOKEN": {"type": "secret_text", "value": turso["token"]},
        },
    )
    advanced_project(root, "1")
    deploy(endpoint, root, project, "dist")
    return project, root


def test_worker_reads_turso_through_the_unchanged_libsql_url(
    endpoint: SandboxEndpoint, advanced: tuple[str, Path], turso: dict[str, str]
) -> None:
    project, _ = advanced
    assert turso["url"].startswith("libsql://")
    assert ".turso.localhost:" in turso["url"]
    rows = site(endpoint, project, "/api/rows")
    assert rows.status_code == 200, rows.text
    assert rows.json()["rows"] == [[i, f"item {i}"] for i in range(1, 6)], "@libsql/client/web from workerd"
    added = site(endpoint, project, "/api/add", "POST", json={"name": "from the worker"})
    assert added.status_code == 204, added.text
    with LibsqlClient(turso["url"], turso["token"]) as db:
        assert db.execute("SELECT name FROM item WHERE id = 6").scalar() == "from the worker"

    async def concurrently(count: int) -> list[httpx.Response]:
        port = endpoint.url.rsplit(":", 1)[1]
        async with httpx.AsyncClient(
            timeout=30, headers={"Host": f"{project}.pages.localhost:{port}"}
        ) as client:
            return await asyncio.gather(*(client.get(endpoint.url + "/api/rows") for _ in range(count)))

    started = time.perf_counter()
    answers = asyncio.run(concurrently(16))
    elapsed = time.perf_counter() - started
    assert [a.status_code for a in answers] == [200] * 16, [
        a.text[:200] for a in answers if a.status_code != 200
    ]
    assert all(len(a.json()["rows"]) == 6 for a in answers)
    assert len({a.json()["request"] for a in answers}) == 16
    FIGURES["turso_16_concurrent_s"] = f"{elapsed:.2f}"
    timings = []
    for _ in range(30):
        started = time.perf_counter()
        assert site(endpoint, project, "/api/rows").status_code == 200
        timings.append((time.perf_counter() - started) * 1000)
    FIGURES["turso_query_p50_ms"] = f"{statistics.median(timings):.1f}"


def test_routes_send_excluded_paths_to_assets_and_the_worker_uses_assets(
    endpoint: SandboxEndpoint, advanced: tuple[str, Path]
) -> None:
    project, _ = advanced
    css = site(endpoint, project, "/static/app.css")
    assert css.text == "body{}"
    assert "x-through-worker" not in css.headers, "excluded by _routes.json: straight to assets"
    home = site(endpoint, project, "/")
    assert home.text == "<h1>home</h1>"
    assert home.headers["x-through-worker"] == "1", "the worker got it and answered through env.ASSETS"
    missing = site(endpoint, project, "/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["x-through-worker"] == "1"


def test_request_time_failures_affect_only_that_request(
    endpoint: SandboxEndpoint, advanced: tuple[str, Path]
) -> None:
    project, _ = advanced
    assert site(endpoint, project, "/api/throw").status_code == 500
    assert site(endpoint, project, "/api/never").status_code == 500, (
        "workerd sees a promise that never resolves"
    )
    started = time.monotonic()
    spin = site(endpoint, project, "/api/spin")
    assert spin.status_code == 503
    assert "did not answer within 3s" in spin.text
    assert time.monotonic() - started < WORKER_TIMEOUT + 2
    assert httpx.get(endpoint.url + "/healthz").status_code == 200, "the sandbox stays up"
    deployment = latest(endpoint, project)["id"]

    def recovered() -> bool:
        return site(endpoint, project, "/api/version").status_code == 200

    deadline = time.monotonic() + 10
    while not recovered() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert site(endpoint, project, "/api/version").json() == {"version": "1"}, "a fresh process serves again"
    assert len(workerd_processes(deployment)) == 1, "the stuck process was replaced, not kept"

    # A crashed workerd starts again on the next request; time that first request.
    for pid in workerd_processes(deployment):
        os.kill(pid, 9)
    started = time.perf_counter()
    assert site(endpoint, project, "/api/version").json() == {"version": "1"}
    FIGURES["cold_start_first_request_ms"] = f"{(time.perf_counter() - started) * 1000:.0f}"


def test_rollback_serves_the_previous_server_half_and_stops_the_superseded(
    endpoint: SandboxEndpoint, advanced: tuple[str, Path]
) -> None:
    project, root = advanced
    first = latest(endpoint, project)["id"]
    advanced_project(root, "2")
    started = time.monotonic()
    second = deploy(endpoint, root, project, "dist")
    FIGURES["wrangler_advanced_deploy_s"] = f"{time.monotonic() - started:.2f}"
    assert site(endpoint, project, "/api/version").json() == {"version": "2"}
    assert workerd_processes(first) == [], "the superseded deployment's worker is stopped"
    assert len(workerd_processes(second)) == 1, "the new one was started on deploy"

    rolled = api(endpoint, "POST", f"/{project}/deployments/{first}/rollback")
    assert rolled.status_code == 200, rolled.text
    assert site(endpoint, project, "/api/version").json() == {"version": "1"}, (
        "rollback serves v1's server half"
    )
    assert workerd_processes(second) == []
    assert len(workerd_processes(first)) == 1

    api_started = time.perf_counter()
    again = raw_deploy(
        endpoint,
        project,
        bundle("w.js", {"w.js": "export default { fetch() { return new Response('w'); } }"}),
    )
    FIGURES["api_deploy_with_start_ms"] = f"{(time.perf_counter() - api_started) * 1000:.0f}"
    assert again.status_code == 200, again.text
    assert site(endpoint, project, "/anything").text == "w"


def test_deleting_the_project_stops_its_workers(endpoint: SandboxEndpoint, tmp_path: Path) -> None:
    project = create_project(endpoint)
    made = raw_deploy(
        endpoint,
        project,
        bundle("w.js", {"w.js": "export default { fetch() { return new Response('x'); } }"}),
    )
    deployment = made.json()["result"]["id"]
    assert len(workerd_processes(deployment)) == 1
    assert api(endpoint, "DELETE", f"/{project}").status_code == 200
    assert workerd_processes(deployment) == []
    assert site(endpoint, project, "/").status_code == 404
    shutil.rmtree(tmp_path, ignore_errors=True)
