"""The workerd config the sandbox generates for a Pages deployment, and the processes that run it.

The config tests read the generated text; the process tests run the real `workerd` (installed by
scripts/setup) against a stand-in for the sandbox's HTTP port, so egress and ASSETS are seen from the
receiving end.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from sandbox.cloudflare.workerd_config import (
    DEFAULT_COMPATIBILITY_DATE,
    ModuleFile,
    WorkerPlan,
    capnp_text,
    render_config,
)
from sandbox.cloudflare.workers import WorkerPool, WorkerStartError, error_lines, workerd_binary
from sandbox.endpoint import REPO_ROOT


def plan(directory: Path, modules: dict[str, tuple[str, str | bytes]], **overrides: object) -> WorkerPlan:
    """A plan over module files written into `directory/modules` (the config lives in `directory/w`)."""
    (directory / "modules").mkdir(parents=True, exist_ok=True)
    files = []
    for name, (kind, source) in modules.items():
        path = directory / "modules" / name.replace("/", "_")
        if isinstance(source, bytes):
            path.write_bytes(source)
        else:
            path.write_text(source)
        files.append(ModuleFile(name, kind, f"../../modules/{path.name}"))
    values: dict[str, object] = {
        "deployment_id": "w",
        "modules": tuple(files),
        "compatibility_date": DEFAULT_COMPATIBILITY_DATE,
        "compatibility_flags": ("nodejs_compat",),
        "text_bindings": (("GREETING", 'say "hi"\\ é\n'), ("CF_PAGES", "1")),
        "json_bindings": (("LIMITS", '{"max": 3}'),),
        "secret_bindings": (("API_KEY", "s3cr3t-value"),),
        "sandbox_port": 1,
        "assets_host": "w.pages-assets.localhost",
    }
    values.update(overrides)
    return WorkerPlan(**values)  # type: ignore[arg-type]


def test_capnp_text_escapes_everything_that_could_end_the_literal() -> None:
    assert capnp_text('a"b\\c') == '"a\\"b\\\\c"'
    assert capnp_text("line\nnext\ttab") == '"line\\nnext\\ttab"'
    assert capnp_text("é\x00\x7f") == '"\\xc3\\xa9\\x00\\x7f"'


def test_config_names_modules_bindings_and_services(tmp_path: Path) -> None:
    text, environment = render_config(
        plan(tmp_path, {"index.js": ("esModule", ""), "q.wasm": ("wasm", ""), "t.txt": ("text", "")})
    )
    assert '(name = "index.js", esModule = embed "../../modules/index.js")' in text
    assert '(name = "q.wasm", wasm = embed "../../modules/q.wasm")' in text
    assert text.index('"index.js"') < text.index('"q.wasm"'), "the entry module first"
    assert 'compatibilityFlags = ["nodejs_compat"]' in text
    assert '(name = "GREETING", text = "say \\"hi\\"\\\\ \\xc3\\xa9\\n")' in text
    assert '(name = "LIMITS", json = "{\\"max\\": 3}")' in text
    assert '(name = "API_KEY", fromEnvironment = "ONECLICK_BINDING_0")' in text
    assert "s3cr3t-value" not in text, "secret values never reach the config file"
    assert environment == {"ONECLICK_BINDING_0": "s3cr3t-value"}
    assert 'globalOutbound = "egress"' in text
    assert 'external = (address = "127.0.0.1:1", http = (style = host))' in text
    assert '(name = "ASSETS", service = "assets")' in text
    assert '(name = "ASSETS_HOST", text = "w.pages-assets.localhost")' in text


def test_error_lines_keep_the_script_error_and_its_location() -> None:
    log = "workerd/io/worker.c++:1: info: noise\nservice main: Uncaught Error: boom\n  at index.js:2:7\n"
    assert error_lines(log) == "Uncaught Error: boom\n  at index.js:2:7"
    assert error_lines("") == "workerd exited without saying why"


# -- running the generated config ------------------------------------------------------------


class StandIn(http.server.BaseHTTPRequestHandler):
    """The sandbox's port as the worker's egress and ASSETS reach it: echoes what arrived."""

    def answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "host": self.headers.get("host"),
                "body": self.rfile.read(length).decode(),
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(autouse=True)
def _needs_workerd() -> None:
    try:
        workerd_binary()
    except WorkerStartError as exc:
        pytest.fail(str(exc))  # scripts/setup installs it: its absence is a broken set-up


WORKER = """
import { Buffer } from "node:buffer";
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/env") {
      return Response.json({
        greeting: env.GREETING, limits: env.LIMITS, key: env.API_KEY, pages: env.CF_PAGES,
        b64: Buffer.from("hi").toString("base64"), url: request.url,
      });
    }
    if (url.pathname === "/egress") {
      const target = url.searchParams.get("to");
      const answer = await fetch(target, { method: "POST", body: "ping" });
      return new Response(await answer.text(), { status: answer.status });
    }
    if (url.pathname === "/asset") {
      return env.ASSETS.fetch(new Request(new URL("/logo.png?v=1", request.url)));
    }
    return new Response("not here", { status: 404 });
  },
};
"""


T = TypeVar("T")


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


def test_worker_runs_with_bindings_node_compat_egress_and_assets(tmp_path: Path, stand_in: int) -> None:
    worker_plan = plan(tmp_path, {"index.js": ("esModule", WORKER)}, sandbox_port=stand_in)
    pool = WorkerPool(tmp_path / "workers")

    async def scenario() -> dict[str, Any]:
        worker = await pool.ensure("w", lambda: worker_plan)
        client = pool.client
        site = {"host": "shop.pages.localhost:8787"}
        env = (await client.get(f"{worker.url}/env", headers=site)).json()
        egress = {}
        for target in (
            "libsql://db-org.turso.localhost:8787/v2/pipeline",  # what @libsql/client/web turns into https
            "https://db-org.turso.localhost:4443/v2/pipeline",
            "http://localhost:9/x",
        ):
            url = target.replace("libsql://", "https://")
            egress[target] = (
                await client.get(f"{worker.url}/egress", params={"to": url}, headers=site)
            ).json()
        asset = (await client.get(f"{worker.url}/asset", headers=site)).json()
        ping = await pool.responsive(worker)
        await client.aclose()
        return {"env": env, "egress": egress, "asset": asset, "ping": ping, "start": worker.start_seconds}

    try:
        result = run(scenario)
    finally:
        pool.stop_all()
    assert result["env"] == {
        "greeting": 'say "hi"\\ é\n',
        "limits": {"max": 3},
        "key": "s3cr3t-value",
        "pages": "1",
        "b64": "aGk=",
        "url": "http://shop.pages.localhost:8787/env",
    }, "text, JSON and secret bindings, nodejs_compat, and the site's own URL"
    egress = result["egress"]
    assert egress["libsql://db-org.turso.localhost:8787/v2/pipeline"] == {
        "method": "POST",
        "path": "/v2/pipeline",
        "host": "db-org.turso.localhost:8787",
        "body": "ping",
    }, "https to a *.localhost host reaches the sandbox's plain-HTTP port with its hostname"
    assert egress["https://db-org.turso.localhost:4443/v2/pipeline"]["host"] == "db-org.turso.localhost:4443"
    assert egress["http://localhost:9/x"]["path"] == "/x", "any port"
    assert result["asset"] == {
        "method": "GET",
        "path": "/logo.png?v=1",
        "host": f"w.pages-assets.localhost:{stand_in}",
        "body": "",
    }, "ASSETS goes to the deployment's assets-only host, not back through the router"
    assert result["ping"] is True
    assert pool.running() == []


EVERY_KIND = """
import wasm from "./lib/empty.wasm";
import text from "./schema.txt";
import data from "./blob.bin";
import config from "./config.json";
import legacy from "./legacy.cjs";
export default {
  async fetch() {
    const instance = await WebAssembly.instantiate(wasm);
    return Response.json({
      wasm: instance instanceof WebAssembly.Instance, text, data: [...new Uint8Array(data)], config, legacy,
    });
  },
};
"""


def test_every_module_kind_loads(tmp_path: Path) -> None:
    modules: dict[str, tuple[str, str | bytes]] = {
        "index.js": ("esModule", EVERY_KIND),
        "lib/empty.wasm": ("wasm", b"\x00asm\x01\x00\x00\x00"),  # the smallest valid module
        "schema.txt": ("text", "model Product {}"),
        "blob.bin": ("data", b"\x00\xff\r\n"),
        "config.json": ("json", '{"region": "local"}'),
        "legacy.cjs": ("commonJsModule", "module.exports = { cjs: true };"),
    }
    pool = WorkerPool(tmp_path / "workers")

    async def scenario() -> Any:
        worker = await pool.ensure("w", lambda: plan(tmp_path, modules))
        answer = (await pool.client.get(worker.url)).json()
        await pool.client.aclose()
        return answer

    try:
        answer = run(scenario)
    finally:
        pool.stop_all()
    assert answer == {
        "wasm": True,
        "text": "model Product {}",
        "data": [0, 255, 13, 10],
        "config": {"region": "local"},
        "legacy": {"cjs": True},
    }


def test_a_worker_that_throws_at_start_up_names_the_line(tmp_path: Path) -> None:
    source = "const ok = 1;\nthrow new Error('no DATABASE_URL');\nexport default {};\n"
    broken = plan(tmp_path, {"index.js": ("esModule", source)})
    pool = WorkerPool(tmp_path / "workers")
    with pytest.raises(WorkerStartError) as caught:
        run(lambda: pool.ensure("w", lambda: broken))
    assert str(caught.value) == "Uncaught Error: no DATABASE_URL\n  at index.js:2:7"
    assert pool.running() == []


def test_a_crashed_worker_starts_again_and_eviction_keeps_the_cap(tmp_path: Path) -> None:
    source = 'export default { fetch() { return new Response("up"); } };'
    pool = WorkerPool(tmp_path / "workers", max_running=2)
    plans = {name: plan(tmp_path, {"index.js": ("esModule", source)}, deployment_id=name) for name in "abc"}

    async def scenario() -> tuple[int, int, str, list[str]]:
        first = await pool.ensure("a", lambda: plans["a"])
        os.kill(first.process.pid, 9)
        first.process.wait()
        again = await pool.ensure("a", lambda: plans["a"])
        text = (await pool.client.get(again.url)).text
        await pool.ensure("b", lambda: plans["b"])
        await pool.ensure("c", lambda: plans["c"])
        await pool.client.aclose()
        return first.process.pid, again.process.pid, text, sorted(pool.running())

    try:
        old, new, text, running = run(scenario)
    finally:
        pool.stop_all()
    assert old != new, "the dead process was replaced"
    assert text == "up"
    assert running == ["b", "c"], "the least recently used beyond the cap is stopped"


def test_a_worker_stuck_in_a_loop_is_detected_by_ping_and_killed(tmp_path: Path) -> None:
    source = (
        "export default { fetch(r) {"
        ' if (new URL(r.url).pathname === "/spin") { for (;;) {} } return new Response("ok"); } };'
    )
    pool = WorkerPool(tmp_path / "workers", request_timeout=1)
    stuck = plan(tmp_path, {"index.js": ("esModule", source)})

    async def scenario() -> tuple[bool, bool, bool]:
        worker = await pool.ensure("w", lambda: stuck)
        with pytest.raises(httpx.TimeoutException):
            await pool.client.get(f"{worker.url}/spin", timeout=1)
        responsive = await pool.responsive(worker)
        await pool.after_timeout(worker)
        restarted = await pool.ensure("w", lambda: stuck)
        ok = (await pool.client.get(restarted.url)).text == "ok"
        await pool.client.aclose()
        return responsive, worker.alive, ok

    try:
        responsive, alive, ok = run(scenario)
    finally:
        pool.stop_all()
    assert not responsive, "the stuck process no longer answers ping"
    assert not alive, "and is killed"
    assert ok, "the next request gets a fresh process"


def test_workerd_binary_is_the_pinned_one() -> None:
    pinned = json.loads((REPO_ROOT / "tools" / "node" / "package.json").read_text())["dependencies"][
        "workerd"
    ]
    date = pinned.split(".")[1]  # 1.YYYYMMDD.n
    version = subprocess.run(
        [workerd_binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.strip() == f"workerd {date[:4]}-{date[4:6]}-{date[6:]}"
