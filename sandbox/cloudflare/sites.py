"""Serving Pages sites by Host on the sandbox's own port: the static half, and the server half in workerd.

- `<project>.pages.localhost:<port>`: the production deployment (the latest, or the one rolled back to);
- `<short-id>.<project>.pages.localhost:<port>`: one deployment; `<branch>.<project>...` a branch's newest;
- an active custom domain of a project (send it as the Host header): its production deployment;
- `<deployment id>.pages-assets.localhost`: that deployment's static half only (the worker's `ASSETS`).

A deployment with a worker sends a request to it unless `_routes.json` says assets (see routing.py);
everything else is served by assets.py (`_redirects`, the file, `_headers`). Worker requests are
proxied to the deployment's workerd process (workers.py) with their method, headers (Host kept, so
`request.url` is the site's URL), body and answer streamed both ways. A worker that throws gets
workerd's own 500; one that does not answer within the per-request timeout gets a 503, and the
sandbox carries on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.cloudflare.assets import asset_response, not_found_page
from sandbox.cloudflare.routing import Routes
from sandbox.cloudflare.state import ASSETS_DOMAIN, CloudflareSandbox
from sandbox.cloudflare.workerd_config import WorkerPlan
from sandbox.cloudflare.workers import RunningWorker, WorkerPool, WorkerStartError, plan_for, worker_pool
from sandbox.hosts import HostMatcher
from sandbox.store import SandboxStore

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

# Set by the proxy only: a client's own values would make the worker misread its URL or caller.
OURS = frozenset({b"cf-connecting-ip", b"x-forwarded-proto"})


def goes_to_worker(deployment: dict[str, Any], path: str) -> bool:
    """Pages' routing: with a worker, `_routes.json` decides; a worker without one gets everything."""
    if not deployment.get("worker"):
        return False
    routes = deployment.get("routes")
    if not routes:
        return True
    return Routes(tuple(routes["include"]), tuple(routes["exclude"])).to_worker(path)


class SiteApp:
    """Serves one request from a snapshot of a deployment (or a 404 when there is none)."""

    def __init__(
        self,
        cf: CloudflareSandbox,
        pool: WorkerPool,
        host: str,
        deployment: dict[str, Any] | None,
        make_plan: Callable[[], WorkerPlan | None],
        assets_only: bool = False,
    ) -> None:
        self.cf = cf
        self.pool = pool
        self.host = host
        self.deployment = deployment
        self.make_plan = make_plan
        self.assets_only = assets_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        deployment = self.deployment
        if deployment is None:
            await not_found_page(f"No deployment is available at {self.host}.")(scope, receive, send)
            return
        path = scope["path"]
        if not self.assets_only and goes_to_worker(deployment, path):
            await self.to_worker(deployment, scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        response = asset_response(self.cf, deployment, scope["method"], self.host, path, query)
        await response(scope, receive, send)

    async def to_worker(self, deployment: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
        # A request without a body is sent again, once, to a new process when the one it reached had
        # died (it was killed or crashed between requests); one with a body cannot be replayed.
        has_body = any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in scope["headers"])
        for attempt in (1, 2):
            try:
                worker = await self.pool.ensure(deployment["id"], self.make_plan)
            except WorkerStartError as exc:
                body = (
                    f"Error 1101: the worker of deployment {deployment['short_id']} failed to start:\n{exc}\n"
                )
                await PlainTextResponse(body, status_code=500)(scope, receive, send)
                return
            worker.in_flight += 1
            try:
                await proxy(self.pool, worker, scope, receive, send, may_retry=attempt == 1 and not has_body)
                return
            except WorkerGone:
                continue  # `ensure` starts a new process in place of the dead one
            finally:
                worker.in_flight -= 1


class WorkerGone(Exception):
    """The worker's process died before it answered; the request may be sent again."""


async def exited(worker: RunningWorker, within: float = 0.5) -> bool:
    """Whether the process has exited, waiting briefly: a killed process takes a moment to go."""
    deadline = asyncio.get_running_loop().time() + within
    while worker.alive:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def proxy(
    pool: WorkerPool,
    worker: RunningWorker,
    scope: Scope,
    receive: Receive,
    send: Send,
    may_retry: bool = False,
) -> None:
    """One request to the worker and its answer back, both streamed."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP | OURS]
    client = scope.get("client")
    headers.append((b"cf-connecting-ip", (client[0] if client else "127.0.0.1").encode()))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]

    async def body() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    has_body = any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in scope["headers"])
    request = pool.client.build_request(
        scope["method"],
        worker.url + target.decode("latin-1"),
        headers=headers,
        content=body() if has_body else None,
    )
    try:
        answer = await asyncio.wait_for(pool.client.send(request, stream=True), pool.request_timeout)
    except TimeoutError:
        asyncio.get_running_loop().create_task(pool.after_timeout(worker))
        message = f"Error 1102: the worker did not answer within {pool.request_timeout:g}s\n"
        await PlainTextResponse(message, status_code=503)(scope, receive, send)
        return
    except httpx.HTTPError as exc:
        if may_retry and await exited(worker):
            raise WorkerGone from None
        message = f"Error 1101: the worker could not be reached ({type(exc).__name__}); try again\n"
        await PlainTextResponse(message, status_code=503)(scope, receive, send)
        return
    try:
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [(k, v) for k, v in answer.headers.raw if k.lower() not in HOP_BY_HOP],
            }
        )
        try:
            async for chunk in answer.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError:
            pass  # the status is sent already: end the body where the worker stopped
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await answer.aclose()


def host_matcher(store: SandboxStore) -> HostMatcher:
    """Claims `*.pages.localhost`, the assets hosts and the projects' custom domains."""
    cf = CloudflareSandbox(store)
    pool = worker_pool(store)

    def match(host: str) -> ASGIApp | None:
        with store.lock:
            if not cf.is_pages_host(host):
                return None
            assets_only = host.endswith("." + ASSETS_DOMAIN)
            deployment = cf.assets_site(host) if assets_only else cf.site_for(host)
            snapshot = dict(deployment) if deployment is not None else None

        def make_plan() -> WorkerPlan | None:
            with store.lock:
                if snapshot is None:
                    return None
                pool.stop_except(set(cf.state["deployments"]))
                if snapshot["project_name"] not in cf.state["projects"]:
                    return None
                return plan_for(cf, snapshot)

        return SiteApp(cf, pool, host, snapshot, make_plan, assets_only)

    return match
