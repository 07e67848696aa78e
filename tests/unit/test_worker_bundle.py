"""The server half as wrangler sends it: `_worker.bundle` parts, module types, entry, `_routes.json` rules."""

from __future__ import annotations

import email
import email.policy
import json
import re
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import httpx
import pytest

from components.cloudflare.client import CloudflareClient
from components.cloudflare.models import Compatibility, Project
from components.cloudflare.upload import UploadError
from components.cloudflare.worker_bundle import WorkerBundle, check_routes, module_type, read_worker


def form_parts(content_type: str, body: bytes) -> dict[str, EmailMessage]:
    """A multipart/form-data body's parts by field name, parsed by the standard library."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = cast(EmailMessage, email.message_from_bytes(head + body, policy=email.policy.HTTP))
    assert message.is_multipart(), "not a multipart body"
    parts: dict[str, EmailMessage] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = part
    return parts


def bundle_parts(body: bytes) -> dict[str, EmailMessage]:
    """The inner bundle: its boundary is on its first line, as wrangler writes it."""
    first = body.split(b"\r\n", 1)[0]
    assert first.startswith(b"--")
    return form_parts(f'multipart/form-data; boundary="{first[2:].decode()}"', body)


def folder_worker(root: Path) -> Path:
    worker = root / "_worker.js"
    (worker / "chunks").mkdir(parents=True)
    (worker / "index.js").write_text('import q from "./chunks/q.mjs"; export default { fetch: q }')
    (worker / "chunks" / "q.mjs").write_text("export default () => new Response('q')")
    (worker / "chunks" / "legacy.cjs").write_text("module.exports = 1")
    (worker / "query_compiler_bg.wasm").write_bytes(b"\0asm\x01\0\0\0")
    (worker / "schema.txt").write_text("model Product {}")
    (worker / "index.js.map").write_text("{}")
    (worker / "data.bin").write_bytes(b"\xff\x00")
    (root / "index.html").write_text("<h1>home</h1>")
    return root


def test_a_worker_folder_is_every_file_as_a_module_with_index_js_as_entry(tmp_path: Path) -> None:
    bundle = read_worker(folder_worker(tmp_path))
    assert bundle is not None
    assert bundle.main_module == "index.js"
    assert sorted(bundle.modules) == [
        "chunks/legacy.cjs",
        "chunks/q.mjs",
        "data.bin",
        "index.js",
        "index.js.map",
        "query_compiler_bg.wasm",
        "schema.txt",
    ]
    parts = bundle_parts(bundle.body())
    assert json.loads(parts["metadata"].get_content()) == {"main_module": "index.js"}
    types = {name: part.get_content_type() for name, part in parts.items()}
    assert types == {
        "metadata": "application/json",
        "chunks/legacy.cjs": "application/javascript",
        "chunks/q.mjs": "application/javascript+module",
        "data.bin": "application/octet-stream",
        "index.js": "application/javascript+module",
        "index.js.map": "application/source-map",
        "query_compiler_bg.wasm": "application/wasm",
        "schema.txt": "text/plain",
    }
    assert parts["query_compiler_bg.wasm"].get_payload(decode=True) == b"\0asm\x01\0\0\0"
    assert parts["chunks/q.mjs"].get_filename() == "chunks/q.mjs"


def test_a_single_worker_file_is_its_own_entry(tmp_path: Path) -> None:
    (tmp_path / "_worker.js").write_text("export default { fetch() { return new Response('hi') } }")
    bundle = read_worker(tmp_path)
    assert bundle == WorkerBundle("_worker.js", {"_worker.js": (tmp_path / "_worker.js").read_bytes()})
    parts = bundle_parts(bundle.body())
    assert set(parts) == {"metadata", "_worker.js"}
    assert json.loads(parts["metadata"].get_content()) == {"main_module": "_worker.js"}


def test_no_worker_is_a_static_site_and_functions_alone_is_refused_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("x")
    assert read_worker(tmp_path) is None
    (tmp_path / "functions" / "api").mkdir(parents=True)
    (tmp_path / "functions" / "api" / "hello.js").write_text("export const onRequest = () => {}")
    with pytest.raises(UploadError, match=r"functions/ is not compiled.*wrangler pages functions build"):
        read_worker(tmp_path)
    (tmp_path / "_worker.js").write_text("export default {}")
    assert read_worker(tmp_path) is not None, "a compiled worker wins over functions/, as in wrangler"


def test_a_worker_folder_without_its_entry_is_refused(tmp_path: Path) -> None:
    (tmp_path / "_worker.js").mkdir()
    (tmp_path / "_worker.js" / "main.js").write_text("export default {}")
    with pytest.raises(UploadError, match=r"_worker.js/ has no index.js"):
        read_worker(tmp_path)


def test_a_linked_module_is_refused(tmp_path: Path) -> None:
    (tmp_path / "_worker.js").mkdir()
    (tmp_path / "_worker.js" / "index.js").write_text("export default {}")
    (tmp_path / "_worker.js" / "secret.txt").symlink_to("/etc/passwd")
    with pytest.raises(UploadError, match=r"secret.txt"):
        read_worker(tmp_path)


def test_the_digest_follows_content_paths_and_entry_only(tmp_path: Path) -> None:
    folder_worker(tmp_path)
    first = read_worker(tmp_path)
    assert first is not None
    assert read_worker(tmp_path) == first
    assert first.body() == first.body(), "the same bundle gives the same bytes"
    (tmp_path / "index.html").write_text("<h1>changed page</h1>")
    assert read_worker(tmp_path) == first, "static files are not part of the server half"
    (tmp_path / "_worker.js" / "chunks" / "q.mjs").write_text("export default () => new Response('r')")
    second = read_worker(tmp_path)
    assert second is not None
    assert second.digest != first.digest
    moved = WorkerBundle(
        "index.js", {"index2.js" if k == "index.js" else k: v for k, v in first.modules.items()}
    )
    assert moved.digest != first.digest


@pytest.mark.parametrize(
    ("routes", "problem"),
    [
        (b"{", "is not valid JSON"),
        (b"[]", "must be an object"),
        (b'{"version": 2, "include": ["/*"]}', '"version": 1'),
        (b'{"version": 1, "include": []}', "at least one include rule"),
        (b'{"version": 1, "include": "/*"}', "include must be a list"),
        (b'{"version": 1, "include": ["api/*"]}', "must start with /"),
        (b'{"version": 1, "include": ["/' + b"a" * 120 + b'"]}', "longer than 100 characters"),
        (json.dumps({"version": 1, "include": [f"/r{i}" for i in range(101)]}).encode(), "at most 100"),
    ],
)
def test_routes_that_pages_refuses_are_refused_naming_the_rule(routes: bytes, problem: str) -> None:
    with pytest.raises(UploadError, match=r"_routes\.json.*" + re.escape(problem)):
        check_routes(routes)


def test_good_routes_pass() -> None:
    check_routes(b'{"version": 1, "include": ["/*"], "exclude": ["/_next/static/*", "/BUILD_ID"]}')


def test_module_types_follow_wranglers_rules() -> None:
    assert module_type("a/b.JS") == "application/javascript+module"
    assert module_type("x.wasm") == "application/wasm"
    assert module_type("x.html") == "text/plain"
    assert module_type("x") == "application/octet-stream"


def test_the_deployment_carries_the_bundle_and_a_broken_one_uploads_nothing(tmp_path: Path) -> None:
    folder_worker(tmp_path)
    (tmp_path / "_routes.json").write_text('{"version": 1, "include": ["/api/*"], "exclude": []}')
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        result: object = None
        if path.endswith("/upload-token"):
            result = {"jwt": "jwt-1"}
        elif path.endswith("/check-missing"):
            result = []
        elif path.endswith("/deployments"):
            result = {"id": "d1", "url": "https://d1.shop.pages.dev", "environment": "production"}
        return httpx.Response(200, json={"success": True, "errors": [], "messages": [], "result": result})

    cf = CloudflareClient("t", "acc", base_url="http://cf/client/v4", transport=httpx.MockTransport(handler))
    result = cf.deploy_directory("shop", tmp_path, branch="main")
    form = form_parts(seen[-1].headers["content-type"], seen[-1].content)
    assert set(form) == {"manifest", "branch", "_routes.json", "_worker.bundle"}
    assert json.loads(form["manifest"].get_content()) == {"/index.html": result.manifest["/index.html"]}
    inner = bundle_parts(form["_worker.bundle"].get_payload(decode=True))  # type: ignore[arg-type]
    assert json.loads(inner["metadata"].get_content()) == {"main_module": "index.js"}
    assert "query_compiler_bg.wasm" in inner
    bundle = read_worker(tmp_path)
    assert bundle is not None
    assert result.worker == bundle.digest

    seen.clear()
    (tmp_path / "_worker.js" / "index.js").unlink()
    with pytest.raises(UploadError, match=r"no index\.js"):
        cf.deploy_directory("shop", tmp_path, branch="main")
    (tmp_path / "_worker.js" / "index.js").write_text("export default {}")
    (tmp_path / "_routes.json").write_text('{"version": 1, "include": []}')
    with pytest.raises(UploadError, match="at least one include"):
        cf.deploy_directory("shop", tmp_path, branch="main")
    assert seen == [], "nothing is uploaded before the server half and routes are checked"


def test_compatibility_settings_go_into_both_deployment_configs() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method in ("POST", "PATCH"):
            bodies.append(json.loads(request.content))
        project = {
            "name": "shop",
            "deployment_configs": {
                "production": {"compatibility_date": "2025-09-01", "compatibility_flags": ["nodejs_compat"]}
            },
        }
        return httpx.Response(200, json={"success": True, "errors": [], "result": project})

    cf = CloudflareClient("t", "acc", base_url="http://cf/client/v4", transport=httpx.MockTransport(handler))
    wanted = Compatibility("2025-09-01", ("nodejs_compat",))
    project: Project = cf.create_project("shop", compatibility=wanted)
    assert project.compatibility == wanted
    cf.update_project("shop", compatibility=wanted)
    for body in bodies:
        configs = body["deployment_configs"]
        assert isinstance(configs, dict)
        for environment in ("production", "preview"):
            assert configs[environment]["compatibility_date"] == "2025-09-01"
            assert configs[environment]["compatibility_flags"] == ["nodejs_compat"]
