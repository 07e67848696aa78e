"""Routes under /api/turso: the user's Turso databases as Turso reports them, and deleting one."""

from __future__ import annotations

from fastapi import APIRouter

from components.targets import TargetError, vendor_target
from components.turso.client import TursoClient
from core.http import VendorError
from service import deployments
from service.api.checks import vendor_unavailable
from service.api.dependencies import Auth, Ctx
from service.api.models import ERRORS, DeployAccepted, TursoDatabase, TursoDatabases
from service.api.submit import queue
from service.errors import ApiError, not_found

router = APIRouter(tags=["turso"])


@router.get("/api/turso/databases", responses=ERRORS)
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
        raise vendor_unavailable("Turso", exc) from None
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


@router.delete("/api/turso/databases/{database_id}", status_code=202, responses=ERRORS)
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
    return queue(ctx, recorded)
