"""The deploy HTTP API (FastAPI): the plan's routes, authenticated by per-user API tokens.

Deploys are accepted (202) once the plan's limits are checked and the deployment is recorded and
queued; workers run them (service/jobs.py). Progress is read back from the database, as JSON or as
a server-sent event stream, so it survives restarts and works from any API server. Every error is
JSON: `{"error": {"code", "message", "field"?, "fix"?, "problems"?}}`, never holding a secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NoReturn

import procrastinate
import psycopg
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from components.byo.policy import check_service_spec
from components.cloudflare.client import CloudflareClient
from components.errors import SpecError
from components.spec import APP_ID, HOSTNAME, AppSpec
from components.targets import TargetError, vendor_target
from components.turso.client import TursoClient
from core.http import VendorError
from service import deployments, uploads
from service.archives import UploadLimits
from service.auth import AuthError, Caller, authenticate
from service.body_limit import BodyLimit
from service.deployments import Deployment, Kind
from service.domains import blocking, refuse_foreign_dns, taken_reason
from service.errors import ApiError, not_found, validation_problems
from service.jobs import build_queue, defer_deployment
from service.store import open_pool
from service.tiers import TierRefusal, load_subscription
from service.vault import DecryptionError, Vault

log = logging.getLogger("oneclick.service.api")


@dataclass
class ServiceContext:
    pool: ConnectionPool
    vault: Vault
    queue: procrastinate.App
    poll_seconds: float
    stream_limit_seconds: float
    upload_limits: UploadLimits

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            yield conn


# -- request and answer models -------------------------------------------------------------------


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="forbid")


class DeployAccepted(CamelModel):
    deployment_id: str
    app_id: str
    kind: str
    status: str = "queued"
    status_url: str
    events_url: str


class StepState(CamelModel):
    key: str
    title: str
    state: Literal["pending", "running", "done", "failed", "skipped"]
    elapsed_seconds: float
    detail: str


class DeploymentStatus(CamelModel):
    deployment_id: str
    app_id: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    app_status: str | None
    attempts: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    error: str | None
    url: str | None
    outputs: dict[str, Any]
    steps: list[StepState]


class HistoryEntry(CamelModel):
    deployment_id: str
    app_id: str
    kind: str
    status: str
    attempts: int
    error: str | None
    created_at: str | None
    finished_at: str | None
    url: str | None


class History(CamelModel):
    deployments: list[HistoryEntry]


class AppEntry(CamelModel):
    app_id: str
    platform: str
    status: str
    url: str | None
    custom_domain: str | None
    database_provider: str | None


class Apps(CamelModel):
    apps: list[AppEntry]


class MigrateDataRequest(CamelModel):
    app_id: str = Field(description="The app whose production database receives the data.")
    preview_data: str = Field(
        max_length=80,
        description="The browser's SQLite export (a .sql dump or a .sqlite file) as an upload reference, "
        "`upload:<sha256>` from POST /api/uploads.",
    )


class UploadInfo(CamelModel):
    upload: str = Field(description="The reference to put in a spec's file field: upload:<sha256>.")
    sha256: str
    kind: Literal["archive", "file"]
    name: str
    size: int
    files: int
    unpacked_bytes: int


class DomainCheckRequest(CamelModel):
    domain: str = Field(description="e.g. shop.example.com")


class DomainCheck(CamelModel):
    domain: str
    available: bool
    reason: str
    zone: str | None
    allowed_by_tier: bool


class DomainConfigureRequest(CamelModel):
    app_id: str
    domain: str


class TursoDatabase(CamelModel):
    id: str
    app_id: str
    hostname: str | None
    group: str | None
    region: str | None
    status: Literal["active", "missing"]


class TursoDatabases(CamelModel):
    databases: list[TursoDatabase]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    fix: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 402, 403, 404, 409, 422, 502, 503)
}

# -- helpers -------------------------------------------------------------------------------------


def _check_app_id(value: str, field: str = "appId") -> str:
    if not APP_ID.match(value):
        raise ApiError(
            422,
            "invalid",
            f"{value[:80]!r} is not an app id",
            field=field,
            fix="use the app's id: lowercase letters, digits and dashes (e.g. 'app-123')",
        )
    return value


def _check_domain(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    if not HOSTNAME.match(domain):
        raise ApiError(
            422,
            "invalid",
            f"{value[:80]!r} is not a domain name",
            field="domain",
            fix="use a domain name like 'shop.example.com'",
        )
    return domain


def _vendor_unavailable(vendor: str, exc: Exception) -> ApiError:
    if isinstance(exc, TargetError):
        return ApiError(503, "vendor_unavailable", str(exc), fix=f"configure or start {vendor}")
    return ApiError(502, "vendor_error", f"{vendor} answered with an error: {exc}", fix="try again shortly")


def _accepted(deployment: Deployment) -> DeployAccepted:
    return DeployAccepted(
        deployment_id=deployment.id,
        app_id=deployment.app_id,
        kind=deployment.kind,
        status_url=f"/api/deploy/status/{deployment.id}",
        events_url=f"/api/deploy/status/{deployment.id}/events",
    )


def _queue(ctx: ServiceContext, deployment: Deployment) -> DeployAccepted:
    """Defer the recorded deployment's job. Should this fail, the deployment stays queued without a
    job and a worker's janitor defers it later; the caller still gets its id."""
    try:
        job_id = defer_deployment(ctx.queue, deployment.app_id, deployment.id)
    except Exception:
        log.exception("deployment %s: deferring its job failed; a worker will pick it up", deployment.id)
    else:
        with ctx.connection() as conn:
            deployments.set_job(conn, deployment.id, job_id)
    return _accepted(deployment)


def _submit(ctx: ServiceContext, caller: Caller, spec: AppSpec, kind: Kind) -> DeployAccepted:
    if spec.owner not in ("local", caller.user_id):
        raise ApiError(
            403,
            "forbidden",
            "owner is another user",
            field="owner",
            fix="omit owner (the token's user owns the app) or set it to your own user id",
        )
    check_service_spec(spec)  # 422 on database.url: a BYO host must be public (no SSRF)
    refuse_foreign_dns(spec)  # before anything is recorded: a name with someone else's DNS record
    with ctx.connection() as conn:
        sub = load_subscription(conn, caller.user_id)
        # The subscription decides the tier, whatever the request says.
        spec = spec.model_copy(update={"owner": caller.user_id, "tier": sub.tier})
        uploads.check_references(conn, caller.user_id, spec)
        recorded = deployments.submit(conn, ctx.vault, sub, spec, kind)
    return _queue(ctx, recorded)


def _latest_spec(ctx: ServiceContext, caller: Caller, app_id: str) -> tuple[AppSpec, dict[str, Any]]:
    """The spec (with its secrets) of the user's live app as last requested."""
    with ctx.connection() as conn:
        app = deployments.app_row(conn, app_id, caller.user_id)
        latest = conn.execute(
            "SELECT id::text FROM deployments WHERE app_id = %s AND kind <> 'destroy' "
            "ORDER BY created_at DESC LIMIT 1",
            [app_id],
        ).fetchone()
        found = deployments.get(conn, latest[0]) if latest else None
    if found is None:
        raise not_found(f"a deploy of app {app_id!r}", "deploy the app first")
    return found.app_spec(ctx.vault, uploads=True), app


def _rebuild(ctx: ServiceContext, spec: AppSpec, changes: dict[str, Any]) -> AppSpec:
    """`spec` with some public fields changed, validated again (paths, names) with its secrets."""
    data = spec.public_dict()
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return AppSpec.from_public(data, spec.secret_values(), uploads=True)


# -- the server-sent event stream ----------------------------------------------------------------


def _sse(event_id: int | None, kind: str, payload: Any) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(payload, default=str)}\n\n"


async def _event_stream(ctx: ServiceContext, deployment_id: str, after: int) -> AsyncIterator[str]:
    """Every recorded event after `after`, then new ones as they happen, until the deployment ends."""

    def read(last: int) -> tuple[list[tuple[int, str, dict[str, Any]]], str | None]:
        with ctx.connection() as conn:
            found = deployments.get(conn, deployment_id)
            return deployments.events_after(
                conn, deployment_id, last
            ), None if found is None else found.status

    started = time.monotonic()
    quiet = 0.0
    last = after
    yield "retry: 1000\n\n"
    while time.monotonic() - started < ctx.stream_limit_seconds:
        events, status = await run_in_threadpool(read, last)
        for event_id, kind, payload in events:
            last = event_id
            yield _sse(event_id, kind, payload)
            if kind == "finished":
                return
        if not events and status in deployments.TERMINAL:
            return
        if events:
            quiet = 0.0
        else:
            quiet += ctx.poll_seconds
            if quiet >= 15:
                quiet = 0.0
                yield ": keep-alive\n\n"
        await asyncio.sleep(ctx.poll_seconds)
    yield _sse(None, "timeout", {"message": "stream limit reached; reconnect with Last-Event-ID to resume"})


def _stream_response(
    ctx: ServiceContext, deployment: Deployment, last_event_id: str | None
) -> StreamingResponse:
    after = int(last_event_id) if last_event_id and last_event_id.strip().isdigit() else 0
    return StreamingResponse(
        _event_stream(ctx, deployment.id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# -- the application -----------------------------------------------------------------------------


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
    app.include_router(router)
    return app


# -- routes --------------------------------------------------------------------------------------

router = APIRouter()
bearer = HTTPBearer(auto_error=False, description="A per-user API token (`oneclick service token`).")


def get_context(request: Request) -> ServiceContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, ServiceContext)
    return ctx


def get_caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ctx: Annotated[ServiceContext, Depends(get_context)],
) -> Caller:
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    try:
        with ctx.connection() as conn:
            return authenticate(conn, header)
    except AuthError as exc:
        raise ApiError(401, "unauthorized", exc.message, field="Authorization", fix=exc.fix) from None


Ctx = Annotated[ServiceContext, Depends(get_context)]
Auth = Annotated[Caller, Depends(get_caller)]


@router.get("/health", tags=["service"])
def health() -> dict[str, bool]:
    return {"ok": True}


def spec_body(
    body: Annotated[
        dict[str, Any],
        Body(
            description="An AppSpec (schemas/appspec.schema.json). Files and folders are given as "
            "`upload:<sha256>` references from POST /api/uploads, never as paths.",
        ),
    ],
) -> AppSpec:
    return AppSpec.parse(body, uploads=True)


SpecBody = Annotated[AppSpec, Depends(spec_body)]


@router.post("/api/deploy/web", status_code=202, responses=ERRORS, tags=["deploy"])
def deploy_web(who: Auth, ctx: Ctx, spec: SpecBody) -> DeployAccepted:
    """Full-stack web deployment: database, schema, data, Pages site, optional domain, health."""
    if spec.web is None:
        raise ApiError(
            422,
            "invalid",
            "web: is required for a web deploy",
            field="web",
            fix="add a web section with buildDir, or use POST /api/deploy/database",
        )
    return _submit(ctx, who, spec, "web")


@router.post("/api/deploy/database", status_code=202, responses=ERRORS, tags=["deploy"])
def deploy_database(who: Auth, ctx: Ctx, spec: SpecBody) -> DeployAccepted:
    """Database-only provisioning (with schema and preview data when given)."""
    if spec.web is not None or spec.custom_domain:
        raise ApiError(
            422,
            "invalid",
            "web: a database deploy has no site",
            field="web",
            fix="remove web and customDomain, or use POST /api/deploy/web",
        )
    with ctx.connection() as conn:
        existing = conn.execute(
            "SELECT platform FROM deployed_apps WHERE app_id = %s AND destroyed_at IS NULL", [spec.id]
        ).fetchone()
    if existing is not None and existing[0] == "web":
        raise ApiError(
            409,
            "conflict",
            f"app {spec.id!r} has a site; a database-only deploy would delete it",
            field="id",
            fix="deploy it with POST /api/deploy/web, or use another app id",
        )
    return _submit(ctx, who, spec, "database")


def not_yet(platform: str) -> NoReturn:
    raise ApiError(
        501,
        "not_implemented",
        f"{platform} builds are not available yet",
        fix="deploy the web app with POST /api/deploy/web; native builds arrive with the mobile and "
        "desktop release",
    )


@router.post(
    "/api/deploy/ios", status_code=202, responses={**ERRORS, 501: {"model": ErrorBody}}, tags=["deploy"]
)
def deploy_ios(_: Auth) -> DeployAccepted:
    """Trigger an iOS build (not available yet: 501)."""
    not_yet("iOS")


@router.post(
    "/api/deploy/android", status_code=202, responses={**ERRORS, 501: {"model": ErrorBody}}, tags=["deploy"]
)
def deploy_android(_: Auth) -> DeployAccepted:
    """Trigger an Android build (not available yet: 501)."""
    not_yet("Android")


@router.post(
    "/api/deploy/desktop", status_code=202, responses={**ERRORS, 501: {"model": ErrorBody}}, tags=["deploy"]
)
def deploy_desktop(_: Auth) -> DeployAccepted:
    """Trigger desktop builds (not available yet: 501)."""
    not_yet("Desktop")


def find(ctx: ServiceContext, who: Caller, ref: str) -> Deployment:
    with ctx.connection() as conn:
        return deployments.find_for_user(conn, ref[:100], who.user_id)


@router.get(
    "/api/deploy/status/{deployment_id}",
    response_model=DeploymentStatus,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
    tags=["deploy"],
)
def deploy_status(
    deployment_id: str,
    ctx: Ctx,
    who: Auth,
    accept: Annotated[str | None, Header()] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Any:
    """A deployment's status and steps (by deployment id, or an app id for its latest one).
    With `Accept: text/event-stream`, the progress stream instead."""
    deployment = find(ctx, who, deployment_id)
    if accept and "text/event-stream" in accept:
        return _stream_response(ctx, deployment, last_event_id)
    with ctx.connection() as conn:
        return DeploymentStatus.model_validate(deployments.describe(conn, deployment))


@router.get(
    "/api/deploy/status/{deployment_id}/events",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
    tags=["deploy"],
)
def deploy_events(
    deployment_id: str,
    ctx: Ctx,
    who: Auth,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events: `queued`, `started`, `steps` (every step's state and elapsed seconds),
    `recovered`, `withdrawn` (a failed site taken down), and `finished`; resumable with Last-Event-ID."""
    return _stream_response(ctx, find(ctx, who, deployment_id), last_event_id)


@router.get("/api/deploy/history", responses=ERRORS, tags=["deploy"])
def deploy_history(
    ctx: Ctx,
    who: Auth,
    app_id: Annotated[str | None, Query(alias="appId")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> History:
    """Past deployments, newest first (of one app with `appId`)."""
    if app_id is not None:
        _check_app_id(app_id)
    with ctx.connection() as conn:
        rows = deployments.history(conn, who.user_id, app_id, limit)
    return History(deployments=[HistoryEntry.model_validate(row) for row in rows])


@router.get("/api/apps", responses=ERRORS, tags=["apps"])
def list_apps(ctx: Ctx, who: Auth) -> Apps:
    """The user's deployed apps and their status."""
    with ctx.connection() as conn:
        rows = deployments.user_apps(conn, who.user_id)
    return Apps(
        apps=[
            AppEntry(
                app_id=r["app_id"],
                platform=r["platform"],
                status=r["status"],
                url=r["deployment_url"],
                custom_domain=r["custom_domain"],
                database_provider=r["database_provider"],
            )
            for r in rows
        ]
    )


@router.delete("/api/apps/{app_id}", status_code=202, responses=ERRORS, tags=["apps"])
def destroy_app(app_id: str, ctx: Ctx, who: Auth) -> DeployAccepted:
    """Delete every resource of the app (its history stays)."""
    _check_app_id(app_id)
    with ctx.connection() as conn:
        recorded = deployments.submit_destroy(conn, who.user_id, app_id)
    return _queue(ctx, recorded)


@router.post("/api/deploy/migrate-data", status_code=202, responses=ERRORS, tags=["deploy"])
def migrate_data(body: MigrateDataRequest, ctx: Ctx, who: Auth) -> DeployAccepted:
    """Move the browser's SQLite data into the app's production database (imported when that
    database holds no rows yet; otherwise kept, and the result says so)."""
    _check_app_id(body.app_id)
    spec, _ = _latest_spec(ctx, who, body.app_id)
    if spec.database.prisma_schema is None:
        raise ApiError(
            409,
            "conflict",
            f"app {body.app_id!r} has no Prisma schema, so its data has no tables to go into",
            field="appId",
            fix="deploy the app with database.prismaSchema first",
        )
    changed = _rebuild(
        ctx, spec, {"database.previewData": str(body.preview_data), "database.importPreview": True}
    )
    return _submit(ctx, who, changed, "migrate-data")


@router.post("/api/domains/check", responses=ERRORS, tags=["domains"])
def check_domain(body: DomainCheckRequest, ctx: Ctx, who: Auth) -> DomainCheck:
    """Whether a custom domain can be used: free on this platform, its DNS zone in the account,
    no DNS record at the name that oneclick did not make, and custom domains in the user's plan."""
    domain = _check_domain(body.domain)
    with ctx.connection() as conn:
        sub = load_subscription(conn, who.user_id)
        taken = conn.execute(
            "SELECT user_id FROM deployed_apps WHERE custom_domain = %s AND destroyed_at IS NULL", [domain]
        ).fetchone()
    allowed = sub.limits.max_custom_domains != 0
    if taken is not None:
        mine = taken[0] == who.user_id
        reason = "already used by one of your apps" if mine else "already used by another app"
        return DomainCheck(domain=domain, available=False, reason=reason, zone=None, allowed_by_tier=allowed)
    try:
        target = vendor_target("cloudflare")
        with CloudflareClient(target.api_token, target.account, base_url=target.api_url) as cf:
            zone = cf.find_zone(domain)
            records = cf.list_dns_records(zone.id, name=domain) if zone else []
    except (TargetError, VendorError) as exc:
        raise _vendor_unavailable("Cloudflare", exc) from None
    if zone is None:
        return DomainCheck(
            domain=domain,
            available=False,
            reason="no DNS zone for it in the Cloudflare account; add the domain's zone first",
            zone=None,
            allowed_by_tier=allowed,
        )
    if (record := blocking(records, None)) is not None:
        return DomainCheck(
            domain=domain,
            available=False,
            reason=taken_reason(record),
            zone=zone.name,
            allowed_by_tier=allowed,
        )
    reason = "available" if allowed else "available, but custom domains need the Pro tier or above"
    return DomainCheck(domain=domain, available=True, reason=reason, zone=zone.name, allowed_by_tier=allowed)


@router.post("/api/domains/configure", status_code=202, responses=ERRORS, tags=["domains"])
def configure_domain(body: DomainConfigureRequest, ctx: Ctx, who: Auth) -> DeployAccepted:
    """Point a custom domain at the app's site (a deploy that adds DNS and the Pages domain)."""
    _check_app_id(body.app_id)
    domain = _check_domain(body.domain)
    spec, _ = _latest_spec(ctx, who, body.app_id)
    if spec.web is None:
        raise ApiError(
            409,
            "conflict",
            f"app {body.app_id!r} has no site to put a domain on",
            field="appId",
            fix="deploy the app with POST /api/deploy/web first",
        )
    return _submit(ctx, who, _rebuild(ctx, spec, {"customDomain": domain}), "domain")


@router.get("/api/turso/databases", responses=ERRORS, tags=["turso"])
def turso_databases(ctx: Ctx, who: Auth) -> TursoDatabases:
    """The user's Turso databases, as Turso reports them now."""
    with ctx.connection() as conn:
        apps = [a for a in deployments.user_apps(conn, who.user_id, "turso") if a["database_id"]]
    if not apps:
        return TursoDatabases(databases=[])
    try:
        target = vendor_target("turso")
        with TursoClient(target.api_token, target.account, base_url=target.api_url) as turso:
            live = {db.name: db for db in turso.list_databases()}
    except (TargetError, VendorError) as exc:
        raise _vendor_unavailable("Turso", exc) from None
    found = []
    for app_row in apps:
        db = live.get(app_row["database_id"])
        found.append(
            TursoDatabase(
                id=app_row["database_id"],
                app_id=app_row["app_id"],
                hostname=db.hostname if db else None,
                group=db.group if db else None,
                region=db.primary_region if db else None,
                status="active" if db else "missing",
            )
        )
    return TursoDatabases(databases=found)


@router.delete("/api/turso/databases/{database_id}", status_code=202, responses=ERRORS, tags=["turso"])
def delete_turso_database(database_id: str, ctx: Ctx, who: Auth) -> DeployAccepted:
    """Delete a database-only app's Turso database (through its stack, so nothing drifts)."""
    with ctx.connection() as conn:
        owner = next(
            (a for a in deployments.user_apps(conn, who.user_id, "turso") if a["database_id"] == database_id),
            None,
        )
        if owner is None:
            raise not_found(
                f"Turso database {database_id[:80]!r}", "list yours with GET /api/turso/databases"
            )
        if owner["platform"] == "web":
            raise ApiError(
                409,
                "conflict",
                f"database {database_id!r} serves app {owner['app_id']!r}'s site",
                field="id",
                fix=f"delete the whole app with DELETE /api/apps/{owner['app_id']}",
            )
        recorded = deployments.submit_destroy(conn, who.user_id, owner["app_id"])
    return _queue(ctx, recorded)


@router.post(
    "/api/uploads",
    status_code=201,
    responses={**ERRORS, 413: {"model": ErrorBody}},
    tags=["uploads"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    request: Request,
    ctx: Ctx,
    who: Auth,
    name: Annotated[
        str, Query(max_length=100, description="File name, e.g. out.tar.gz or preview.sql")
    ] = "upload",
) -> UploadInfo:
    """Upload build output, a Prisma schema, migrations or preview data for a later deploy.

    A folder is sent as a tar (plain or gzip) or zip archive, a single file as itself. The answer's
    `upload` reference goes into the spec's field (`web.buildDir`, `database.prismaSchema`, …). Links,
    devices, `..` and absolute names, and archives that unpack past the limits are refused.
    """
    content = await request.body()

    def keep() -> uploads.Upload:
        with ctx.connection() as conn:
            return uploads.store(conn, who.user_id, name, content, ctx.upload_limits)

    return UploadInfo.model_validate((await run_in_threadpool(keep)).as_dict())


@router.get("/api/uploads/{sha256}", responses=ERRORS, tags=["uploads"])
def upload_info(sha256: str, ctx: Ctx, who: Auth) -> UploadInfo:
    """One of your uploads (its content is never served back)."""
    with ctx.connection() as conn:
        found = uploads.find(conn, who.user_id, sha256.removeprefix("upload:")[:64])
    if found is None:
        raise not_found(f"upload {sha256[:80]!r}", "upload it with POST /api/uploads")
    return UploadInfo.model_validate(found.as_dict())


@router.delete("/api/uploads/{sha256}", status_code=204, responses=ERRORS, tags=["uploads"])
def delete_upload(sha256: str, ctx: Ctx, who: Auth) -> None:
    """Forget one of your uploads (deploys already made keep their files)."""
    with ctx.connection() as conn:
        if not uploads.delete(conn, who.user_id, sha256.removeprefix("upload:")[:64]):
            raise not_found(f"upload {sha256[:80]!r}", "list your deploys' uploads in their specs")
