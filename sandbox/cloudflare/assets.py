"""A Pages deployment's static half: `_redirects` first, then the file, then `_headers` on the answer.

This is what a request gets when it does not go to the worker, and what the worker's
`env.ASSETS.fetch()` gets. Paths resolve like Pages: the file itself, then `<path>.html`, then
`<path>/index.html` (so `/` is `/index.html` and `/about` is `/about.html`). Anything else is the
site's own `/404.html` with status 404 when it has one, else a plain 404 page. A `_redirects` rule
with status 200 serves its target's file under the requested URL.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from sandbox.cloudflare.routing import (
    HeaderRule,
    Redirect,
    find_redirect,
    headers_for,
    parse_headers,
    parse_redirects,
)
from sandbox.cloudflare.state import CloudflareSandbox

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


# Deployments are immutable, so their rule files parse once (keyed by the file's text).
@lru_cache(maxsize=256)
def redirect_rules(text: str) -> list[Redirect]:
    return parse_redirects(text)


@lru_cache(maxsize=256)
def header_rules(text: str) -> list[HeaderRule]:
    return parse_headers(text)


def asset_response(
    cf: CloudflareSandbox, deployment: dict[str, Any], method: str, host: str, path: str, query: str
) -> Response:
    config: dict[str, str] = deployment.get("config_files") or {}
    redirect = find_redirect(redirect_rules(config.get("_redirects", "")), path, query)
    served_path = path
    if redirect is not None:
        status, location = redirect
        if status != 200:
            response: Response = RedirectResponse(location, status_code=status)
            return with_headers(response, config, host, path)
        served_path = location.split("?", 1)[0]
    if method not in ("GET", "HEAD"):
        return Response("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
    response = static_file(cf, deployment, served_path)
    return with_headers(response, config, host, path)


def static_file(cf: CloudflareSandbox, deployment: dict[str, Any], path: str) -> Response:
    manifest: dict[str, str] = deployment["manifest"]
    served = resolve(manifest, path)
    status = 200
    if served is None:
        if "/404.html" not in manifest:
            return not_found_page(f"{path} is not part of this deployment.")
        served, status = "/404.html", 404
    key = manifest[served]
    with cf.store.lock:
        content_type = cf.content_type(key)
    blob = cf.blob_path(key)
    if not blob.is_file():
        return not_found_page(f"{served} is missing from the sandbox's asset store.")
    headers = {
        "ETag": f'"{key}"',
        "Cache-Control": "public, max-age=0, must-revalidate",
        "X-Oneclick-Deployment": deployment["id"],
    }
    return FileResponse(blob, status_code=status, media_type=content_type, headers=headers)


def with_headers(response: Response, config: dict[str, str], host: str, path: str) -> Response:
    text = config.get("_headers")
    if not text:
        return response
    added, removed = headers_for(header_rules(text), host, path)
    for name in removed:
        if name in response.headers:
            del response.headers[name]
    for name, value in added.items():
        response.headers[name] = value
    return response
