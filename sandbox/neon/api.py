"""Neon API v2 (https://api-docs.neon.tech/reference), the part oneclick uses, on a real PostgreSQL.

Shapes follow ../shared/contracts/neon-api-v2.json; errors are `{"code", "message", "request_id"}`.
Every project is a real database and LOGIN role on the sandbox's PostgreSQL server (see pg.py for
the physical naming scheme). Each compute endpoint reports `host` as `127.0.0.1:<port>`, a port of
the endpoint proxy (proxy.py), so the names the API shows are the names that log in, and a URI
composed the Neon way (`postgresql://neondb_owner:password@host/neondb`) works.

Sandbox limits, on purpose: branch databases start empty (Neon would copy the parent's data), and
`pooled=true` URIs point at the same server (there is no PgBouncer).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sandbox.neon import account, sql_http
from sandbox.neon import model as m
from sandbox.neon.control import (
    ENDPOINT_HOST,
    NO_POSTGRES,
    NeonApiError,
    NeonRoute,
    NeonSandbox,
    build_admin_router,
    check_name,
)
from sandbox.store import SandboxStore


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class BranchDefaults(_Open):
    name: str | None = None
    role_name: str | None = None
    database_name: str | None = None


class ProjectFields(_Open):
    name: str | None = None
    region_id: str | None = None
    pg_version: int | None = None
    branch: BranchDefaults = Field(default_factory=BranchDefaults)


class CreateProjectBody(_Open):
    project: ProjectFields


class UpdateProjectFields(_Open):
    name: str | None = None


class UpdateProjectBody(_Open):
    project: UpdateProjectFields


class BranchFields(_Open):
    name: str | None = None
    parent_id: str | None = None


class EndpointOption(_Open):
    type: Literal["read_only", "read_write"]


class CreateBranchBody(_Open):
    branch: BranchFields = Field(default_factory=BranchFields)
    endpoints: list[EndpointOption] = Field(default_factory=list)


class RoleFields(_Open):
    name: str


class CreateRoleBody(_Open):
    role: RoleFields


class DatabaseFields(_Open):
    name: str
    owner_name: str


class CreateDatabaseBody(_Open):
    database: DatabaseFields


def build_router(store: SandboxStore) -> APIRouter:
    """`/api/v2/...` (the Neon API) and `/_admin/neon/...` (changes behind Pulumi's back)."""
    neon = NeonSandbox(store)

    def authorize(request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not secrets.compare_digest(header.encode(), f"Bearer {store.api_token}".encode()):
            raise NeonApiError(401, "authentication required: send 'Authorization: Bearer <API key>'")

    def require_postgres() -> None:
        if not store.postgres_url:
            raise NeonApiError(503, NO_POSTGRES)

    api = APIRouter(
        prefix="/api/v2", dependencies=[Depends(authorize), Depends(require_postgres)], route_class=NeonRoute
    )

    def ops(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m.operation_view(op) for op in items]

    def endpoint_views(project: dict[str, Any], endpoints: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m.endpoint_view(project, e, neon.endpoint_host(e)) for e in endpoints]

    def roles_of(branch: dict[str, Any]) -> list[dict[str, Any]]:
        return [m.role_view(branch["id"], r) for r in branch["roles"].values()]

    def databases_of(branch: dict[str, Any]) -> list[dict[str, Any]]:
        return [m.database_view(branch["id"], d) for d in branch["databases"].values()]

    def applied(project: dict[str, Any], branch_id: str, **views: Any) -> dict[str, Any]:
        """A role or database change: saved, answered with `views` and its apply_config operations."""
        started = neon.config_operations(project, branch_id)
        store.save()
        return {**views, "operations": ops(started)}

    # Regions and projects

    @api.get("/regions")
    def regions() -> dict[str, Any]:
        return {
            "regions": [
                {
                    "region_id": rid,
                    "name": name,
                    "default": rid == m.DEFAULT_REGION,
                    "geo_lat": lat,
                    "geo_long": lon,
                }
                for rid, (name, lat, lon) in m.REGIONS.items()
            ]
        }

    @api.get("/projects")
    def list_projects(
        cursor: str | None = None, limit: int = Query(10, ge=1, le=400), search: str | None = None
    ) -> dict[str, Any]:
        with store.lock:
            items = list(neon.projects().values())
            if search:
                items = [p for p in items if search in p["name"] or search in p["id"]]
            if cursor:
                ids = [p["id"] for p in items]
                items = items[ids.index(cursor) + 1 :] if cursor in ids else []
            page = items[:limit]
            body: dict[str, Any] = {
                "projects": [m.project_list_item(p, ENDPOINT_HOST) for p in page],
                "applications": {},
                "integrations": {},
            }
            if page:
                body["pagination"] = {"cursor": page[-1]["id"], "limit": limit}
            return body

    @api.post("/projects", status_code=201)
    def create_project(body: CreateProjectBody) -> dict[str, Any]:
        fields = body.project
        region = fields.region_id or m.DEFAULT_REGION
        if region not in m.REGIONS:
            raise NeonApiError(400, f"region {region!r} is not available; use one of {', '.join(m.REGIONS)}")
        pg_version = fields.pg_version or m.DEFAULT_PG_VERSION
        if not 14 <= pg_version <= 17:
            raise NeonApiError(400, f"pg_version {pg_version} is not supported; use 14, 15, 16 or 17")
        database_name = fields.branch.database_name or "neondb"
        role_name = fields.branch.role_name or f"{database_name}_owner"
        check_name("database", database_name)
        check_name("role", role_name)
        with store.lock:
            projects = neon.projects()
            project_id = neon.unique_id(projects)
            branch_id, endpoint_id = m.neon_id("br"), m.neon_id("ep")
            now = m.timestamp()
            branch = m.new_branch(branch_id, fields.branch.name or "main", None, now)
            role = neon.add_role(branch, role_name)
            try:
                database = neon.add_database(branch, database_name, role_name)
            except Exception:
                neon.pg.drop_role(role["physical"])
                raise
            project: dict[str, Any] = {
                "id": project_id,
                "name": fields.name or project_id,
                "region_id": region,
                "pg_version": pg_version,
                "created_at": now,
                "updated_at": now,
                "default_branch_id": branch_id,
                "branches": {branch_id: branch},
                "endpoints": {endpoint_id: m.new_endpoint(endpoint_id, branch_id, "read_write", now)},
                "operations": [],
            }
            started = [
                m.new_operation(project, "create_timeline", m.SLOW_SECONDS, branch_id=branch_id),
                m.new_operation(
                    project, "start_compute", m.SLOW_SECONDS, branch_id=branch_id, endpoint_id=endpoint_id
                ),
            ]
            try:
                neon.open_endpoint(project["endpoints"][endpoint_id])
            except OSError:
                neon.drop_branch(branch)
                raise NeonApiError(
                    503, "the sandbox could not open a port for the endpoint; try again"
                ) from None
            projects[project_id] = project
            store.save()
            endpoint = m.endpoint_view(
                project,
                project["endpoints"][endpoint_id],
                neon.endpoint_host(project["endpoints"][endpoint_id]),
            )
            uri = neon.uri(project, branch, database_name, role_name)
            return {
                "project": m.project_view(project, ENDPOINT_HOST),
                "connection_uris": [
                    {
                        "connection_uri": uri,
                        "connection_parameters": {
                            "database": database_name,
                            "password": role["password"],
                            "role": role_name,
                            "host": endpoint["host"],
                            "pooler_host": endpoint["host"],
                        },
                    }
                ],
                "roles": [m.role_view(branch_id, role, with_password=True)],
                "databases": [m.database_view(branch_id, database)],
                "operations": ops(started),
                "branch": m.branch_view(project, branch),
                "endpoints": [endpoint],
            }

    @api.get("/projects/shared")
    def list_shared_projects() -> dict[str, Any]:
        # Projects other accounts shared with this one: the sandbox has no other accounts. Declared
        # before /projects/{project_id}, which would take "shared" for a project id.
        return {"projects": [], "applications": {}, "integrations": {}}

    @api.get("/users/me")
    def current_user() -> dict[str, Any]:
        return account.current_user()

    @api.get("/users/me/organizations")
    def current_user_organizations() -> dict[str, Any]:
        return account.organizations()

    @api.get("/projects/{project_id}")
    def get_project(project_id: str) -> dict[str, Any]:
        with store.lock:
            return {"project": m.project_view(neon.project(project_id), ENDPOINT_HOST)}

    @api.patch("/projects/{project_id}")
    def update_project(project_id: str, body: UpdateProjectBody) -> dict[str, Any]:
        with store.lock:
            project = neon.project(project_id)
            neon.idle(project)
            if body.project.name is not None:
                project["name"] = body.project.name
                project["updated_at"] = m.timestamp()
                store.save()
            return {"project": m.project_view(project, ENDPOINT_HOST), "operations": []}

    @api.delete("/projects/{project_id}")
    def delete_project(project_id: str) -> dict[str, Any]:
        with store.lock:
            return {"project": m.project_view(neon.drop_project(project_id), ENDPOINT_HOST)}

    @api.get("/projects/{project_id}/connection_uri")
    def connection_uri(
        project_id: str,
        database_name: str,
        role_name: str,
        branch_id: str | None = None,
        endpoint_id: str | None = None,
        pooled: bool = False,
    ) -> dict[str, Any]:
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            return {"uri": neon.uri(project, branch, database_name, role_name, endpoint_id)}

    # Operations

    @api.get("/projects/{project_id}/operations")
    def list_operations(project_id: str) -> dict[str, Any]:
        with store.lock:
            return {"operations": ops(list(reversed(neon.project(project_id)["operations"])))}

    @api.get("/projects/{project_id}/operations/{operation_id}")
    def get_operation(project_id: str, operation_id: str) -> dict[str, Any]:
        with store.lock:
            found = [op for op in neon.project(project_id)["operations"] if op["id"] == operation_id]
        if not found:
            raise NeonApiError(404, f"operation {operation_id} not found")
        return {"operation": m.operation_view(found[0])}

    # Branches and endpoints

    @api.get("/projects/{project_id}/branches")
    def list_branches(project_id: str) -> dict[str, Any]:
        with store.lock:
            project = neon.project(project_id)
            branches = [m.branch_view(project, b) for b in project["branches"].values()]
            return {"branches": branches, "annotations": {}}

    @api.post("/projects/{project_id}/branches", status_code=201)
    def create_branch(
        project_id: str, body: Annotated[CreateBranchBody | None, Body()] = None
    ) -> dict[str, Any]:
        request = body or CreateBranchBody()
        with store.lock:
            project, parent = neon.project_branch(project_id, request.branch.parent_id)
            neon.idle(project)
            if sum(1 for e in request.endpoints if e.type == "read_write") > 1:
                raise NeonApiError(400, "a branch can have only one read_write endpoint")
            branch_id = neon.unique_id(project["branches"], "br")
            now = m.timestamp()
            branch = m.new_branch(branch_id, request.branch.name or branch_id, parent["id"], now)
            try:  # roles keep their passwords on a new branch, as on Neon; the databases start empty
                for role in parent["roles"].values():
                    neon.add_role(branch, role["name"], role["password"])
                for database in parent["databases"].values():
                    neon.add_database(branch, database["name"], database["owner_name"])
            except Exception:
                neon.drop_branch(branch)
                raise
            project["branches"][branch_id] = branch
            started = [m.new_operation(project, "create_timeline", m.SLOW_SECONDS, branch_id=branch_id)]
            for option in request.endpoints:
                endpoint_id = neon.unique_id(project["endpoints"], "ep")
                project["endpoints"][endpoint_id] = m.new_endpoint(endpoint_id, branch_id, option.type, now)
                neon.open_endpoint(project["endpoints"][endpoint_id])
                started.append(
                    m.new_operation(
                        project, "start_compute", m.SLOW_SECONDS, branch_id=branch_id, endpoint_id=endpoint_id
                    )
                )
            store.save()
            return {
                "branch": m.branch_view(project, branch),
                "endpoints": endpoint_views(project, neon.endpoints_of(project, branch_id)),
                "operations": ops(started),
                "roles": roles_of(branch),
                "databases": databases_of(branch),
            }

    @api.get("/projects/{project_id}/branches/{branch_id}")
    def get_branch(project_id: str, branch_id: str) -> dict[str, Any]:
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            annotation = {"object": {"type": "console/branch", "id": branch_id}, "value": {}}
            return {"branch": m.branch_view(project, branch), "annotation": annotation}

    @api.delete("/projects/{project_id}/branches/{branch_id}")
    def delete_branch(project_id: str, branch_id: str) -> dict[str, Any]:
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            if branch["default"]:
                raise NeonApiError(
                    400, "the default branch cannot be deleted; make another branch default first"
                )
            if any(b.get("parent_id") == branch_id for b in project["branches"].values()):
                raise NeonApiError(400, f"branch {branch_id} has child branches; delete them first")
            neon.idle(project)
            neon.drop_branch(branch)
            started = []
            for endpoint in neon.endpoints_of(project, branch_id):
                neon.close_endpoint(endpoint["id"])
                del project["endpoints"][endpoint["id"]]
                started.append(
                    m.new_operation(
                        project,
                        "suspend_compute",
                        m.QUICK_SECONDS,
                        branch_id=branch_id,
                        endpoint_id=endpoint["id"],
                    )
                )
            started.append(m.new_operation(project, "delete_timeline", m.QUICK_SECONDS, branch_id=branch_id))
            del project["branches"][branch_id]
            store.save()
            return {"branch": m.branch_view(project, branch), "operations": ops(started)}

    @api.get("/projects/{project_id}/endpoints")
    def list_endpoints(project_id: str) -> dict[str, Any]:
        with store.lock:
            project = neon.project(project_id)
            return {"endpoints": endpoint_views(project, project["endpoints"].values())}

    @api.get("/projects/{project_id}/branches/{branch_id}/endpoints")
    def list_branch_endpoints(project_id: str, branch_id: str) -> dict[str, Any]:
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            return {"endpoints": endpoint_views(project, neon.endpoints_of(project, branch["id"]))}

    # Roles

    roles_path = "/projects/{project_id}/branches/{branch_id}/roles"

    @api.get(roles_path)
    def list_roles(project_id: str, branch_id: str) -> dict[str, Any]:
        with store.lock:
            return {"roles": roles_of(neon.project_branch(project_id, branch_id)[1])}

    @api.post(roles_path, status_code=201)
    def create_role(project_id: str, branch_id: str, body: CreateRoleBody) -> dict[str, Any]:
        check_name("role", body.role.name)
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            if body.role.name in branch["roles"]:
                raise NeonApiError(409, f"role {body.role.name} already exists")
            neon.idle(project)
            role = neon.add_role(branch, body.role.name)
            return applied(project, branch_id, role=m.role_view(branch_id, role, with_password=True))

    @api.get(roles_path + "/{role_name}")
    def get_role(project_id: str, branch_id: str, role_name: str) -> dict[str, Any]:
        with store.lock:
            branch = neon.project_branch(project_id, branch_id)[1]
            return {"role": m.role_view(branch_id, neon.role(branch, role_name))}

    @api.delete(roles_path + "/{role_name}")
    def delete_role(project_id: str, branch_id: str, role_name: str) -> dict[str, Any]:
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            role = neon.role(branch, role_name)
            owned = [d["name"] for d in branch["databases"].values() if d["owner_name"] == role_name]
            if owned:
                raise NeonApiError(
                    409, f"role {role_name} owns database {', '.join(owned)}; delete the database first"
                )
            neon.idle(project)
            databases = [
                (d["physical"], branch["roles"][d["owner_name"]]["physical"])
                for d in branch["databases"].values()
            ]
            neon.pg.drop_role(role["physical"], databases)
            del branch["roles"][role_name]
            return applied(project, branch_id, role=m.role_view(branch_id, role))

    @api.get(roles_path + "/{role_name}/reveal_password")
    def reveal_password(project_id: str, branch_id: str, role_name: str) -> dict[str, Any]:
        with store.lock:
            branch = neon.project_branch(project_id, branch_id)[1]
            return {"password": neon.role(branch, role_name)["password"]}

    @api.post(roles_path + "/{role_name}/reset_password")
    def reset_password(project_id: str, branch_id: str, role_name: str) -> dict[str, Any]:
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            role = neon.role(branch, role_name)
            neon.idle(project)
            neon.set_password(role)
            return applied(project, branch_id, role=m.role_view(branch_id, role, with_password=True))

    # Databases

    databases_path = "/projects/{project_id}/branches/{branch_id}/databases"

    @api.get(databases_path)
    def list_databases(project_id: str, branch_id: str) -> dict[str, Any]:
        with store.lock:
            return {"databases": databases_of(neon.project_branch(project_id, branch_id)[1])}

    @api.post(databases_path, status_code=201)
    def create_database(project_id: str, branch_id: str, body: CreateDatabaseBody) -> dict[str, Any]:
        check_name("database", body.database.name)
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            if body.database.name in branch["databases"]:
                raise NeonApiError(409, f"database {body.database.name} already exists")
            neon.role(branch, body.database.owner_name)  # the owner must exist: 404 otherwise
            neon.idle(project)
            database = neon.add_database(branch, body.database.name, body.database.owner_name)
            return applied(project, branch_id, database=m.database_view(branch_id, database))

    @api.get(databases_path + "/{database_name}")
    def get_database(project_id: str, branch_id: str, database_name: str) -> dict[str, Any]:
        with store.lock:
            branch = neon.project_branch(project_id, branch_id)[1]
            return {"database": m.database_view(branch_id, neon.database(branch, database_name))}

    @api.delete(databases_path + "/{database_name}")
    def delete_database(project_id: str, branch_id: str, database_name: str) -> dict[str, Any]:
        with store.lock:
            project, branch = neon.project_branch(project_id, branch_id)
            database = neon.database(branch, database_name)
            neon.idle(project)
            neon.pg.drop_database(database["physical"])
            del branch["databases"][database_name]
            return applied(project, branch_id, database=m.database_view(branch_id, database))

    @asynccontextmanager
    async def serve_endpoints(_: Any) -> AsyncIterator[None]:
        # Endpoints made before a restart listen again on their ports: URIs handed out name them.
        if store.postgres_url:
            await asyncio.to_thread(neon.open_all_endpoints)
        yield
        await asyncio.to_thread(neon.stop_proxy)

    router = APIRouter(route_class=NeonRoute, lifespan=serve_endpoints)
    router.include_router(api)
    router.include_router(build_admin_router(neon))
    router.include_router(sql_http.build_router(neon))
    return router
