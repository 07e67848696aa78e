"""A Pages deployment's static half in the sandbox: `_redirects` first, then the file, then `_headers`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import FileResponse, Response

from sandbox.cloudflare.assets import asset_response
from sandbox.cloudflare.sites import goes_to_worker
from sandbox.cloudflare.state import CloudflareSandbox
from sandbox.store import SandboxStore

FILES = {
    "/index.html": ("<h1>home</h1>", "text/html"),
    "/app.html": ("<div id=app></div>", "text/html"),
    "/404.html": ("<h1>lost</h1>", "text/html"),
    "/docs/index.html": ("<h1>docs</h1>", "text/html"),
}
REDIRECTS = "/old /index.html 301\n/spa/* /app.html 200\n/go/:id /docs/?id=:id 302\n"
HEADERS = "/*\n  X-Frame-Options: DENY\n/docs/*\n  Cache-Control: no-store\n  ! X-Frame-Options\n"


@pytest.fixture
def cf(tmp_path: Path) -> CloudflareSandbox:
    return CloudflareSandbox(SandboxStore(tmp_path / "sbx", port=8787))


@pytest.fixture
def deployment(cf: CloudflareSandbox) -> dict[str, Any]:
    manifest = {}
    with cf.store.lock:
        for path, (text, content_type) in FILES.items():
            key = hashlib.sha256(text.encode()).hexdigest()[:32]  # the shape of wrangler's keys
            cf.put_blob(key, text.encode(), content_type)
            manifest[path] = key
    return {
        "id": "d-1",
        "manifest": manifest,
        "config_files": {"_redirects": REDIRECTS, "_headers": HEADERS},
    }


def served(response: Response) -> str:
    assert isinstance(response, FileResponse)
    return Path(response.path).read_text()


def get(cf: CloudflareSandbox, deployment: dict[str, Any], path: str, method: str = "GET") -> Response:
    return asset_response(cf, deployment, method, "shop.pages.localhost", path, "q=1")


def test_files_resolve_like_pages_with_headers(cf: CloudflareSandbox, deployment: dict[str, Any]) -> None:
    home = get(cf, deployment, "/")
    assert served(home) == "<h1>home</h1>"
    assert home.headers["x-frame-options"] == "DENY"
    docs = get(cf, deployment, "/docs/")
    assert served(docs) == "<h1>docs</h1>"
    assert docs.headers["cache-control"] == "no-store", "_headers replaces the default cache header"
    assert "x-frame-options" not in docs.headers, "detached for /docs/*"
    bare = get(cf, deployment, "/docs")
    assert served(bare) == "<h1>docs</h1>"
    assert bare.headers["x-frame-options"] == "DENY", "a _headers splat needs the slash (unlike _routes.json)"
    missing = get(cf, deployment, "/nope")
    assert missing.status_code == 404
    assert served(missing) == "<h1>lost</h1>", "the site's own 404 page"
    assert missing.headers["x-frame-options"] == "DENY", "_headers on every static answer"


def test_redirects_come_before_files(cf: CloudflareSandbox, deployment: dict[str, Any]) -> None:
    moved = get(cf, deployment, "/old")
    assert (moved.status_code, moved.headers["location"]) == (301, "/index.html?q=1")
    placeholder = get(cf, deployment, "/go/7")
    assert (placeholder.status_code, placeholder.headers["location"]) == (302, "/docs/?id=7")
    rewritten = get(cf, deployment, "/spa/settings/profile")
    assert rewritten.status_code == 200
    assert served(rewritten) == "<div id=app></div>", "a 200 rule serves its target under the asked URL"


def test_only_get_and_head_reach_files(cf: CloudflareSandbox, deployment: dict[str, Any]) -> None:
    assert get(cf, deployment, "/", "HEAD").status_code == 200
    refused = get(cf, deployment, "/", "POST")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"


def test_which_requests_the_worker_gets() -> None:
    static_only: dict[str, Any] = {"worker": None}
    advanced: dict[str, Any] = {"worker": {"main_module": "_worker.js"}, "routes": None}
    routed: dict[str, Any] = {
        "worker": {"main_module": "index.js"},
        "routes": {"version": 1, "include": ["/api/*"], "exclude": ["/api/static/*"]},
    }
    assert not goes_to_worker(static_only, "/api/x")
    assert goes_to_worker(advanced, "/anything"), "_worker.js without _routes.json gets every request"
    assert goes_to_worker(routed, "/api")
    assert not goes_to_worker(routed, "/api/static/a.js")
    assert not goes_to_worker(routed, "/")
