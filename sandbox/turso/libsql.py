"""The libSQL data plane over HTTP, for every sandbox database at `<name>-<org>.turso.localhost`.

Serves what Turso serves at `<name>-<org>.turso.io` (see ../shared/contracts/HRANA_NOTES.md), on
the sandbox's plain port and on its TLS port alike, the Host header naming the database:

- Hrana over HTTP v2/v3: `GET v2`, `GET v3`, `POST v2/pipeline`, `POST v3/pipeline`, `POST v3/cursor`;
- HTTP API v1 (older clients): `GET v1`, `POST v1/execute` (`{stmt}` -> `{result}`) and
  `POST v1/batch` (`{batch}` -> `{result}`), each on a stream of its own; a failed statement
  answers 400 with Hrana's Error object;
- Hrana over WebSocket (`ws://`, `wss://`, subprotocols hrana3/hrana2/hrana1) at `/`: websocket.py.

Streams, batons and tokens are plane.py's.
"""

from __future__ import annotations

from typing import Any, Literal

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from core.settings import settings
from sandbox.hosts import HostMatcher, request_host
from sandbox.store import SandboxStore
from sandbox.turso import state, websocket
from sandbox.turso.plane import LibsqlPlane


def build_app(store: SandboxStore, idle_seconds: float | None = None) -> Starlette:
    """The data plane's ASGI app; the Host header picks the database."""
    if idle_seconds is None:  # how long a stream may sit unused; the vendor's servers use seconds too
        idle_seconds = settings().local.sandbox_stream_idle_seconds
    plane = LibsqlPlane(store, idle_seconds)

    def pipeline(version: int, cursor: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            host = request_host(request.scope)
            authorization = request.headers.get("authorization", "")
            return await run_in_threadpool(plane.run, host, authorization, body, version, cursor)

        return endpoint

    def v1(kind: Literal["execute", "batch"]) -> Any:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            host, authorization = request_host(request.scope), request.headers.get("authorization", "")
            return await run_in_threadpool(plane.run_v1, host, authorization, body, kind)

        return endpoint

    async def probe(request: Request) -> Response:
        return await run_in_threadpool(plane.probe, request_host(request.scope))

    async def hrana_over_websocket(socket: WebSocket) -> None:
        await websocket.serve(plane, socket)

    app = Starlette(
        routes=[
            WebSocketRoute("/", hrana_over_websocket),
            Route("/v1", probe, methods=["GET"]),
            Route("/v1/execute", v1("execute"), methods=["POST"]),
            Route("/v1/batch", v1("batch"), methods=["POST"]),
            Route("/v2", probe, methods=["GET"]),
            Route("/v3", probe, methods=["GET"]),
            Route("/v2/pipeline", pipeline(2), methods=["POST"]),
            Route("/v3/pipeline", pipeline(3), methods=["POST"]),
            Route("/v3/cursor", pipeline(3, cursor=True), methods=["POST"]),
        ]
    )
    app.state.plane = plane
    return app


def matcher(store: SandboxStore) -> HostMatcher:
    """Claims `*.turso.localhost` for the data plane (for app.py's HostDispatch)."""
    app = build_app(store)

    def match(host: str) -> Any:
        return app if host.endswith(state.HOST_SUFFIX) else None

    return match
