"""The deploy HTTP API (FastAPI): the plan's routes, authenticated by per-user API tokens.

Deploys are accepted (202) once the plan's limits are checked and the deployment is recorded and
queued; workers run them (service/jobs.py). Progress is read back from the database, as JSON or as
a server-sent event stream, so it survives restarts and works from any API server. Every error is
JSON: `{"error": {"code", "message", "field"?, "fix"?, "problems"?}}`, never holding a secret.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from components.errors import SpecError
from service.api.apps import router as apps_router
from service.api.context import ServiceContext
from service.api.deploy import router as deploy_router
from service.api.domains import router as domains_router
from service.api.turso import router as turso_router
from service.api.uploads import router as uploads_router
from service.archives import UploadLimits
from service.body_limit import BodyLimit
from service.errors import ApiError, validation_problems
from service.jobs import build_queue
from service.store import open_pool
from service.tiers import TierRefusal
from service.vault import DecryptionError, Vault

log = logging.getLogger("oneclick.service.api")

# One router per resource; the order is the order of the OpenAPI document's paths.
ROUTERS: tuple[APIRouter, ...] = (deploy_router, apps_router, domains_router, turso_router, uploads_router)


def health() -> dict[str, bool]:
    return {"ok": True}


def _error_response(exc: ApiError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _error_response(exc, headers)

    @app.exception_handler(TierRefusal)
    async def tier_refusal(_: Request, exc: TierRefusal) -> JSONResponse:
        return JSONResponse({"error": exc.as_dict()}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = validation_problems(exc.errors())
        field, message = problems[0] if problems else ("(body)", "is invalid")
        return _error_response(
            ApiError(
                422,
                "invalid",
                f"{field}: {message}",
                field=field,
                fix="correct the fields listed in problems",
                problems=problems,
            )
        )

    @app.exception_handler(SpecError)
    async def invalid_spec(_: Request, exc: SpecError) -> JSONResponse:
        field, message = exc.problems[0] if exc.problems else ("(spec)", "is invalid")
        return _error_response(
            ApiError(422, "invalid", f"{field}: {message}", field=field, fix=message, problems=exc.problems)
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        fix = "see /docs for the routes" if exc.status_code in (404, 405) else None
        return _error_response(ApiError(exc.status_code, code, str(exc.detail), fix=fix))

    @app.exception_handler(psycopg.DataError)
    async def unstorable(_: Request, exc: psycopg.DataError) -> JSONResponse:
        return _error_response(
            ApiError(
                422,
                "invalid",
                "the request holds a value that cannot be stored (such as a NUL character)",
                fix="remove control characters from the request's text fields",
            )
        )

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable: %s", type(exc).__name__)
        return _error_response(
            ApiError(503, "unavailable", "the service's database cannot be reached", fix="try again shortly"),
            {"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        # Logged here, answered without details: tracebacks and host paths stay on the server.
        log.error("unexpected error", exc_info=exc)
        return _error_response(
            ApiError(500, "internal", "internal error", fix="try again; if it persists, contact the operator")
        )

    @app.exception_handler(DecryptionError)
    async def undecryptable(_: Request, exc: DecryptionError) -> JSONResponse:
        log.error("vault: %s", exc)
        return _error_response(
            ApiError(500, "vault", "a stored credential cannot be decrypted", fix="contact the operator")
        )


def create_app(
    conninfo: str,
    vault: Vault | None = None,
    *,
    poll_seconds: float = 0.25,
    stream_limit_seconds: float = 3600.0,
    pool_size: int = 8,
) -> FastAPI:
    """The API on the database at `conninfo` (migrated already: `oneclick service migrate`)."""
    vault = vault or Vault.from_env()
    upload_limits = UploadLimits.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await run_in_threadpool(open_pool, conninfo, max_size=pool_size, name="oneclick-api")
        queue = build_queue(conninfo)
        queue.open()
        app.state.ctx = ServiceContext(pool, vault, queue, poll_seconds, stream_limit_seconds, upload_limits)
        try:
            yield
        finally:
            queue.close()
            pool.close()

    app = FastAPI(title="oneclick deploy API", version="1.0.0", description=__doc__, lifespan=lifespan)
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, upload_bytes=upload_limits.max_upload_bytes)
    app.get("/health", tags=["service"])(health)
    for router in ROUTERS:
        app.include_router(router)
    return app
