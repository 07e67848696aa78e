"""Routes under /api/deploy: start a web, database or data-migration deploy, and follow deployments."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from service import deployments
from service.api.checks import check_app_id
from service.api.context import ServiceContext
from service.api.dependencies import Auth, Ctx, SpecBody
from service.api.models import (
    ERRORS,
    DeployAccepted,
    DeploymentStatus,
    ErrorBody,
    History,
    HistoryEntry,
    MigrateDataRequest,
)
from service.api.stream import stream_response
from service.api.submit import latest_spec, rebuild, submit
from service.auth import Caller
from service.deployments import Deployment
from service.errors import ApiError

router = APIRouter(tags=["deploy"])
NATIVE = {**ERRORS, 501: {"model": ErrorBody}}


@router.post("/api/deploy/web", status_code=202, responses=ERRORS)
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
    return submit(ctx, who, spec, "web")


@router.post("/api/deploy/database", status_code=202, responses=ERRORS)
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
        platform = deployments.live_platform(conn, spec.id)
    if platform == "web":
        raise ApiError(
            409,
            "conflict",
            f"app {spec.id!r} has a site; a database-only deploy would delete it",
            field="id",
            fix="deploy it with POST /api/deploy/web, or use another app id",
        )
    return submit(ctx, who, spec, "database")


def not_yet(platform: str) -> NoReturn:
    raise ApiError(
        501,
        "not_implemented",
        f"{platform} builds are not available yet",
        fix="deploy the web app with POST /api/deploy/web; native builds arrive with the mobile and "
        "desktop release",
    )


@router.post("/api/deploy/ios", status_code=202, responses=NATIVE)
def deploy_ios(_: Auth) -> DeployAccepted:
    """Trigger an iOS build (not available yet: 501)."""
    not_yet("iOS")


@router.post("/api/deploy/android", status_code=202, responses=NATIVE)
def deploy_android(_: Auth) -> DeployAccepted:
    """Trigger an Android build (not available yet: 501)."""
    not_yet("Android")


@router.post("/api/deploy/desktop", status_code=202, responses=NATIVE)
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
        return stream_response(ctx, deployment, last_event_id)
    with ctx.connection() as conn:
        return DeploymentStatus.model_validate(deployments.describe(conn, deployment))


@router.get(
    "/api/deploy/status/{deployment_id}/events",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
)
def deploy_events(
    deployment_id: str,
    ctx: Ctx,
    who: Auth,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events: `queued`, `started`, `steps` (every step's state and elapsed seconds),
    `recovered`, `withdrawn` (a failed site taken down), and `finished`; resumable with Last-Event-ID."""
    return stream_response(ctx, find(ctx, who, deployment_id), last_event_id)


@router.get("/api/deploy/history", responses=ERRORS)
def deploy_history(
    ctx: Ctx,
    who: Auth,
    app_id: Annotated[str | None, Query(alias="appId")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> History:
    """Past deployments, newest first (of one app with `appId`)."""
    if app_id is not None:
        check_app_id(app_id)
    with ctx.connection() as conn:
        rows = deployments.history(conn, who.user_id, app_id, limit)
    return History(deployments=[HistoryEntry.model_validate(row) for row in rows])


@router.post("/api/deploy/migrate-data", status_code=202, responses=ERRORS)
def migrate_data(body: MigrateDataRequest, ctx: Ctx, who: Auth) -> DeployAccepted:
    """Move the browser's SQLite data into the app's production database (imported when that
    database holds no rows yet; otherwise kept, and the result says so)."""
    check_app_id(body.app_id)
    spec = latest_spec(ctx, who, body.app_id)
    if spec.database.prisma_schema is None:
        raise ApiError(
            409,
            "conflict",
            f"app {body.app_id!r} has no Prisma schema, so its data has no tables to go into",
            field="appId",
            fix="deploy the app with database.prismaSchema first",
        )
    changed = rebuild(spec, {"database.previewData": str(body.preview_data), "database.importPreview": True})
    return submit(ctx, who, changed, "migrate-data")
