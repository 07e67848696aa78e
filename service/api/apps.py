"""Routes under /api/apps: the user's deployed apps, and destroying one."""

from __future__ import annotations

from fastapi import APIRouter

from service import deployments
from service.api.checks import check_app_id
from service.api.dependencies import Auth, Ctx
from service.api.models import ERRORS, AppEntry, Apps, DeployAccepted
from service.api.submit import queue

router = APIRouter(tags=["apps"])


@router.get("/api/apps", responses=ERRORS)
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


@router.delete("/api/apps/{app_id}", status_code=202, responses=ERRORS)
def destroy_app(app_id: str, ctx: Ctx, who: Auth) -> DeployAccepted:
    """Delete every resource of the app (its history stays)."""
    check_app_id(app_id)
    with ctx.connection() as conn:
        recorded = deployments.submit_destroy(conn, who.user_id, app_id)
    return queue(ctx, recorded)
