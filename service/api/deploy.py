"""Routes under /api/deploy: start a web, database, data-migration or native (desktop, ios, android)
deploy, and follow deployments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from components.mobile.credentials import CredentialError
from components.native_builds import store_credentials
from components.native_run import Target, required_credentials
from components.spec import AppSpec
from service import deployments
from service.api.checks import check_app_id
from service.api.context import ServiceContext
from service.api.dependencies import Auth, Ctx, SpecBody
from service.api.models import (
    ERRORS,
    DeployAccepted,
    DeploymentStatus,
    History,
    HistoryEntry,
    MigrateDataRequest,
    NativeBuildRequest,
)
from service.api.stream import stream_response
from service.api.submit import latest_spec, queue, rebuild, submit
from service.auth import Caller
from service.deployments import Deployment
from service.errors import ApiError
from service.native_builds import NATIVE_STEPS

router = APIRouter(tags=["deploy"])


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


CREDENTIAL_NAMES = frozenset(
    {"EXPO_TOKEN", "ASC_KEY_ID", "ASC_ISSUER_ID", "ASC_KEY_P8", "PLAY_SERVICE_ACCOUNT_JSON"}
)


def _check_credentials(spec: AppSpec, kind: Target, given: dict[str, str]) -> None:
    """Store credentials checked for shape now (422 naming the variable), not minutes into a build."""
    unknown = sorted(set(given) - CREDENTIAL_NAMES)
    if unknown:
        raise ApiError(
            422,
            "invalid",
            f"credentials: {unknown[0]!r} is not a credential a native build uses",
            field=f"credentials.{unknown[0]}",
            fix=f"give only {', '.join(sorted(CREDENTIAL_NAMES))}",
        )
    if kind == "desktop" or spec.mobile is None:
        return
    try:
        required_credentials(spec.mobile.builder, kind, store_credentials(given, [kind]))
    except CredentialError as exc:
        field = f"credentials.{exc.field}" if exc.field else "credentials"
        fix = exc.fix or "give the credential as the message says (its value is never echoed back)"
        raise ApiError(422, "invalid", f"{field}: {exc}", field=field, fix=fix) from None


def _native(ctx: ServiceContext, who: Caller, body: NativeBuildRequest, kind: Target) -> DeployAccepted:
    check_app_id(body.app_id)
    spec = latest_spec(ctx, who, body.app_id)
    section = "desktop" if kind == "desktop" else "mobile"
    wanted = (
        spec.desktop is not None if kind == "desktop" else bool(spec.mobile and kind in spec.mobile.platforms)
    )
    if not wanted:
        example = "desktop: {platforms: [linux]}" if kind == "desktop" else f"mobile: {{platforms: [{kind}]}}"
        raise ApiError(
            409,
            "conflict",
            f"app {body.app_id!r} was deployed without a {kind} app in its spec",
            field=section,
            fix=f"add {example} to the spec and deploy it with POST /api/deploy/web",
        )
    credentials = {name: value.get_secret_value() for name, value in body.credentials.items()}
    _check_credentials(spec, kind, credentials)
    with ctx.connection() as conn:
        recorded = deployments.submit_native(
            conn, ctx.vault, who.user_id, spec, kind, NATIVE_STEPS, credentials
        )
    return queue(ctx, recorded)


@router.post("/api/deploy/ios", status_code=202, responses=ERRORS)
def deploy_ios(who: Auth, ctx: Ctx, body: NativeBuildRequest) -> DeployAccepted:
    """Build the iOS app of a deployed web app (Capacitor; EAS or fastlane) and upload it to
    TestFlight; when the vendor cannot be reached the steps say "ready to submit" with the command."""
    return _native(ctx, who, body, "ios")


@router.post("/api/deploy/android", status_code=202, responses=ERRORS)
def deploy_android(who: Auth, ctx: Ctx, body: NativeBuildRequest) -> DeployAccepted:
    """Build the Android app of a deployed web app and upload it to the Play internal track (or
    record it as ready to submit, with the command, when the vendor cannot be reached)."""
    return _native(ctx, who, body, "android")


@router.post("/api/deploy/desktop", status_code=202, responses=ERRORS)
def deploy_desktop(who: Auth, ctx: Ctx, body: NativeBuildRequest) -> DeployAccepted:
    """Build the desktop app of a deployed web app: a Tauri project, Linux .deb/.rpm built here
    (artifacts with size and sha256 in the outputs); Windows and macOS come from the CI template."""
    return _native(ctx, who, body, "desktop")


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
