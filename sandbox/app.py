"""The sandbox ASGI app: vendor APIs, admin API and a health probe on one port."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp

from sandbox import admin, faults
from sandbox.cloudflare import accounts as cloudflare_accounts
from sandbox.cloudflare import admin as cloudflare_admin
from sandbox.cloudflare import api as cloudflare
from sandbox.cloudflare.sites import host_matcher as pages_matcher
from sandbox.hosts import HostDispatch, HostMatcher
from sandbox.neon import api as neon
from sandbox.store import SandboxStore
from sandbox.turso import api as turso
from sandbox.turso.libsql import matcher as libsql_matcher


def create_app(directory: Path, port: int = 0, postgres_url: str | None = None, tls_port: int = 0) -> ASGIApp:
    """The vendor APIs on the bare address; data planes and sites by their `*.localhost` Host."""
    store = SandboxStore(directory, port=port, postgres_url=postgres_url, tls_port=tls_port)
    api = _api_app(store)
    fault_plan = faults.FaultPlan()  # generic: any vendor path can be made to fail (see sandbox/faults.py)
    api.include_router(faults.build_router(fault_plan))
    libsql = libsql_matcher(store)
    matchers: list[HostMatcher] = [libsql, pages_matcher(store)]
    # WebSockets: only the libSQL plane speaks them (Hrana); everything else answers as before.
    return faults.FaultInjection(HostDispatch(api, matchers, websocket_matchers=[libsql]), fault_plan)


def _api_app(store: SandboxStore) -> FastAPI:
    app = FastAPI(title="oneclick sandbox", docs_url=None, redoc_url=None)
    app.state.store = store

    @app.exception_handler(turso.TursoApiError)
    async def vendor_error(_: Request, exc: turso.TursoApiError) -> JSONResponse:
        return turso.error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) + ": " + e["msg"] for e in exc.errors())
        return JSONResponse({"error": f"invalid request: {fields}"}, status_code=400)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(turso.build_router(store))
    app.include_router(neon.build_router(store))
    # Before the Cloudflare API router: its catch-all answers every other /client/v4 path with 404.
    app.include_router(cloudflare_accounts.build_router(store))
    app.include_router(cloudflare.build_router(store))
    app.include_router(cloudflare_admin.build_router(store))
    app.include_router(admin.build_router(store))
    return app
