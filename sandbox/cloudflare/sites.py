"""Serving uploaded Pages sites over HTTP, by Host, on the sandbox's own port.

- `<project>.pages.localhost:<port>`: the production deployment (the latest, or the one rolled back to);
- `<short-id>.<project>.pages.localhost:<port>`: one deployment; `<branch>.<project>...` a branch's newest;
- an active custom domain of a project (send it as the Host header): its production deployment.

Paths resolve like Pages: the file itself, then `<path>.html`, then `<path>/index.html` (so `/` is
`/index.html` and `/about` is `/about.html`). Anything else is the site's own `/404.html` with status
404 when it has one, else a plain 404 page. `_headers` and `_redirects` are kept but not applied.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.cloudflare.state import CloudflareSandbox
from sandbox.hosts import HostMatcher
from sandbox.store import SandboxStore

NOT_FOUND = """<!doctype html><html><head><meta charset="utf-8"><title>Not found</title></head>
<body><h1>404 Not Found</h1><p>{detail}</p>
<p><small>oneclick sandbox &middot; Pages</small></p></body></html>"""


def resolve(manifest: dict[str, str], path: str) -> str | None:
    """The manifest path that serves `path`, Pages' way, or None."""
    candidates = [path]
    if path.endswith("/"):
        candidates.append(path + "index.html")
    else:
        candidates += [path + ".html", path + "/index.html"]
    return next((c for c in candidates if c in manifest), None)


def not_found_page(detail: str) -> HTMLResponse:
    return HTMLResponse(NOT_FOUND.format(detail=html.escape(detail)), status_code=404)


class SiteApp:
    """Serves one request from a snapshot of a deployment (or a 404 when there is none)."""

    def __init__(self, cf: CloudflareSandbox, host: str, deployment: dict[str, Any] | None) -> None:
        self.cf = cf
        self.host = host
        self.deployment = deployment

    def response(self, method: str, path: str) -> Response:
        if method not in ("GET", "HEAD"):
            return Response("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
        deployment = self.deployment
        if deployment is None:
            return not_found_page(f"No deployment is available at {self.host}.")
        manifest: dict[str, str] = deployment["manifest"]
        served = resolve(manifest, path)
        status = 200
        if served is None:
            if "/404.html" not in manifest:
                return not_found_page(f"{path} is not part of this deployment.")
            served, status = "/404.html", 404
        key = manifest[served]
        with self.cf.store.lock:
            content_type = self.cf.content_type(key)
        blob = self.cf.blob_path(key)
        if not blob.is_file():
            return not_found_page(f"{served} is missing from the sandbox's asset store.")
        headers = {
            "ETag": f'"{key}"',
            "Cache-Control": "public, max-age=0, must-revalidate",
            "X-Oneclick-Deployment": deployment["id"],
        }
        return FileResponse(blob, status_code=status, media_type=content_type, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.response(scope["method"], scope["path"])
        await response(scope, receive, send)


def host_matcher(store: SandboxStore) -> HostMatcher:
    """Claims `*.pages.localhost` and the projects' custom domains; everything else is not ours."""
    cf = CloudflareSandbox(store)

    def match(host: str) -> ASGIApp | None:
        with store.lock:
            if not cf.is_pages_host(host):
                return None
            deployment = cf.site_for(host)
            snapshot = dict(deployment) if deployment is not None else None
        return SiteApp(cf, host, snapshot)

    return match
