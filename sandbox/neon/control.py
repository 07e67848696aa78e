"""The sandbox's Neon control plane: project state in the store, DDL on the PostgreSQL server,
and the endpoint proxy (proxy.py) that serves each compute endpoint on a loopback port of its own.

Also the Neon error shape for every route (NeonRoute) and the admin routes that change projects
behind Pulumi's back.
"""

from __future__ import annotations

import logging
import ssl
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

import psycopg
from fastapi import APIRouter, Body, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from core import certificates
from core.localca import LocalCA
from sandbox.neon import model as m
from sandbox.neon.pg import SandboxPostgres, new_password, physical_name
from sandbox.neon.proxy import EndpointProxy, Login, Refusal, Tls
from sandbox.store import SandboxStore

log = logging.getLogger(__name__)
# Where endpoints listen: loopback only, like the rest of the sandbox.
ENDPOINT_HOST = "127.0.0.1"

NO_POSTGRES = (
    "the sandbox was started without a PostgreSQL server, so Neon projects cannot be created; "
    "start the sandbox with a PostgreSQL server: oneclick sandbox start"
)
LOCKED = "project already has running conflicting operations, scheduling of new ones is prohibited"
RESERVED_ROLES = frozenset({"postgres", "cloud_admin", "neon_superuser", "neon_service", "public", "none"})
RESERVED_DATABASES = frozenset({"postgres", "template0", "template1"})


class NeonApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error(status: int, message: str) -> JSONResponse:
    # Neon's GeneralError; its `code` is usually empty, the message says what went wrong.
    body = {"code": "", "message": message, "request_id": str(uuid.uuid4())}
    return JSONResponse(body, status_code=status)


class NeonRoute(APIRoute):
    """Answers every failure on these routes in Neon's error shape, whatever the app's handlers do."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except NeonApiError as exc:
                return error(exc.status, exc.message)
            except RequestValidationError as exc:
                problems = "; ".join(
                    ".".join(str(p) for p in e["loc"] if p != "body") + ": " + e["msg"] for e in exc.errors()
                )
                return error(400, f"invalid request: {problems}")
            except psycopg.OperationalError:
                return error(
                    503, "the sandbox's PostgreSQL server is not reachable; run: oneclick sandbox start"
                )
            except psycopg.Error as exc:
                reason = exc.diag.message_primary or type(exc).__name__
                return error(500, f"PostgreSQL refused the change: {reason}")

        return route


def check_name(kind: str, name: str) -> None:
    """Neon's rules for role and database names: at most 63 bytes, no reserved names."""
    reserved = RESERVED_ROLES if kind == "role" else RESERVED_DATABASES
    if not name or len(name.encode()) > 63:
        raise NeonApiError(400, f"{kind} name must be 1 to 63 bytes long")
    if name.startswith("pg_") or name.lower() in reserved:
        raise NeonApiError(400, f"{kind} name {name!r} is reserved; choose another")


def found(items: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
    """`items[key]`, or the 404 Neon answers for a missing project, branch, role or database."""
    item: dict[str, Any] | None = items.get(key)
    if item is None:
        raise NeonApiError(404, f"{kind} {key} not found")
    return item


def local_ca_tls() -> Tls:
    """The endpoints' TLS: the local CA's server certificate (it names 127.0.0.1), as for the
    sandbox's other TLS services, so clients trust it through the same sslrootcert/PGSSLROOTCERT."""
    ca = certificates.ensure(LocalCA.default())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(ca.server_cert_file), str(ca.server_key_file))
    context.set_alpn_protocols(["postgresql"])  # what libpq 17+ asks for
    return Tls(context, ca.server_cert_file.read_text())


class NeonSandbox:
    """The control plane: state in the store, DDL on the PostgreSQL server. Call with the lock held."""

    def __init__(self, store: SandboxStore, tls: Tls | None = None) -> None:
        self.store = store
        self._tls = tls
        self._proxy: EndpointProxy | None = None

    @property
    def serves_tls(self) -> bool:
        """Endpoints serve TLS whenever the sandbox serves TLS at all (it has a local CA then)."""
        return self._tls is not None or bool(self.store.tls_port)

    @property
    def tls(self) -> Tls | None:
        if self._tls is None and self.store.tls_port:
            self._tls = local_ca_tls()  # read when the first endpoint opens, not at import
        return self._tls

    @property
    def pg(self) -> SandboxPostgres:
        if not self.store.postgres_url:
            raise NeonApiError(503, NO_POSTGRES)
        return SandboxPostgres(self.store.postgres_url)

    def projects(self) -> dict[str, Any]:
        return self.store.section("neon", "projects")

    def project(self, project_id: str) -> dict[str, Any]:
        return found(self.projects(), project_id, "project")

    def branch(self, project: dict[str, Any], branch_id: str | None) -> dict[str, Any]:
        return found(project["branches"], branch_id or project["default_branch_id"], "branch")

    @staticmethod
    def role(branch: dict[str, Any], name: str) -> dict[str, Any]:
        return found(branch["roles"], name, "role")

    @staticmethod
    def database(branch: dict[str, Any], name: str) -> dict[str, Any]:
        return found(branch["databases"], name, "database")

    def project_branch(self, project_id: str, branch_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The project and one of its branches (its default one when `branch_id` is None)."""
        project = self.project(project_id)
        return project, self.branch(project, branch_id)

    @staticmethod
    def idle(project: dict[str, Any]) -> None:
        if m.running_operations(project):
            raise NeonApiError(423, LOCKED)

    def next_database_id(self) -> int:
        counters = self.store.section("neon", "counters")
        counters["database_id"] = int(counters.get("database_id", 1000)) + 1
        return int(counters["database_id"])

    def unique_id(self, taken: dict[str, Any] | set[str], prefix: str = "") -> str:
        while (candidate := m.neon_id(prefix)) in taken:
            pass
        return candidate

    def endpoints_of(self, project: dict[str, Any], branch_id: str) -> list[dict[str, Any]]:
        return [e for e in project["endpoints"].values() if e["branch_id"] == branch_id]

    # Endpoints: each one a port of the endpoint proxy

    @property
    def proxy(self) -> EndpointProxy:
        if self._proxy is None:
            pg = self.pg
            self._proxy = EndpointProxy(self.login_for, (pg.host, pg.port), tls=self.tls, host=ENDPOINT_HOST)
        return self._proxy

    def open_endpoint(self, endpoint: dict[str, Any]) -> None:
        """Serve `endpoint` on its port: a free one the first time, the same one after a restart
        (URIs handed out before name it), or a new one if another program took it meanwhile."""
        wanted = int(endpoint.get("port") or 0)
        try:
            endpoint["port"] = self.proxy.listen(endpoint["id"], wanted)
        except OSError:
            if not wanted:
                raise
            endpoint["port"] = self.proxy.listen(endpoint["id"], 0)
            log.warning(
                "Neon endpoint %s: port %s is taken by another program; it now listens on %s, so "
                "connection strings from before must be fetched again",
                endpoint["id"],
                wanted,
                endpoint["port"],
            )

    def close_endpoint(self, endpoint_id: str) -> None:
        if self._proxy is not None:
            self._proxy.close(endpoint_id)

    def open_all_endpoints(self) -> None:
        """At start-up: every endpoint of every project listens again."""
        with self.store.lock:
            for project in self.projects().values():
                for endpoint in project["endpoints"].values():
                    self.open_endpoint(endpoint)
            self.store.save()

    def stop_proxy(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None

    def endpoint_host(self, endpoint: dict[str, Any]) -> str:
        """`127.0.0.1:<port>`; an endpoint not listening yet (an app run without its lifespan) opens now."""
        if not endpoint.get("port"):
            self.open_endpoint(endpoint)
            self.store.save()
        return f"{ENDPOINT_HOST}:{endpoint['port']}"

    def login_for(self, endpoint_id: str, role_name: str, database_name: str) -> Login:
        """The proxy's question: what a Neon role and database of `endpoint_id` are on the server."""
        with self.store.lock:
            for project in self.projects().values():
                endpoint = project["endpoints"].get(endpoint_id)
                if endpoint is not None:
                    break
            else:
                raise Refusal("08004", f"endpoint {endpoint_id} does not exist (any more)")
            branch = project["branches"].get(endpoint["branch_id"]) or {"roles": {}, "databases": {}}
            role = branch["roles"].get(role_name)
            if role is None:  # as PostgreSQL answers for an unknown role: no hint that it is unknown
                raise Refusal("28P01", f'password authentication failed for user "{role_name}"')
            database = branch["databases"].get(database_name)
            return Login(str(role["physical"]), str(role["password"]), database and str(database["physical"]))

    def config_operations(self, project: dict[str, Any], branch_id: str) -> list[dict[str, Any]]:
        """Role and database changes are applied to the branch's running computes."""
        return [
            m.new_operation(
                project, "apply_config", m.QUICK_SECONDS, branch_id=branch_id, endpoint_id=e["id"]
            )
            for e in self.endpoints_of(project, branch_id)
        ]

    def add_role(self, branch: dict[str, Any], name: str, password: str | None = None) -> dict[str, Any]:
        now = m.timestamp()
        role = {
            "name": name,
            "physical": physical_name(name),
            "password": password or new_password(),
            "created_at": now,
            "updated_at": now,
        }
        self.pg.create_role(role["physical"], role["password"])
        self.pg.grant_connect((db["physical"] for db in branch["databases"].values()), role["physical"])
        branch["roles"][name] = role
        return role

    def add_database(self, branch: dict[str, Any], name: str, owner: str) -> dict[str, Any]:
        now = m.timestamp()
        database: dict[str, Any] = {
            "id": self.next_database_id(),
            "name": name,
            "physical": physical_name(name),
            "owner_name": owner,
            "created_at": now,
            "updated_at": now,
        }
        members = [role["physical"] for role in branch["roles"].values()]
        self.pg.create_database(database["physical"], branch["roles"][owner]["physical"], members)
        branch["databases"][name] = database
        return database

    def set_password(self, role: dict[str, Any], password: str | None = None) -> None:
        """A role's new password (a fresh one unless given), on the server and in the store."""
        password = password or new_password()
        self.pg.set_password(role["physical"], password)
        role.update(password=password, updated_at=m.timestamp())

    def drop_branch(self, branch: dict[str, Any]) -> None:
        """Drop a branch's real databases, then its roles (which then own nothing)."""
        for database in branch["databases"].values():
            self.pg.drop_database(database["physical"])
        for role in branch["roles"].values():
            self.pg.drop_role(role["physical"])

    def drop_project(self, project_id: str) -> dict[str, Any]:
        project = self.project(project_id)
        for endpoint_id in project["endpoints"]:
            self.close_endpoint(endpoint_id)
        for branch in project["branches"].values():
            self.drop_branch(branch)
        del self.projects()[project_id]
        self.store.save()
        return project

    def uri(
        self,
        project: dict[str, Any],
        branch: dict[str, Any],
        database: str,
        role: str,
        endpoint_id: str | None = None,
    ) -> str:
        """The URI Neon would hand out: the Neon names, the endpoint's host (its proxy port)."""
        endpoints = self.endpoints_of(project, branch["id"])
        if endpoint_id is not None:
            endpoints = [e for e in endpoints if e["id"] == endpoint_id]
            if not endpoints:
                raise NeonApiError(404, f"endpoint {endpoint_id} not found on branch {branch['id']}")
        endpoints.sort(key=lambda e: e["type"] != "read_write")
        if not endpoints:
            raise NeonApiError(404, f"branch {branch['id']} has no compute endpoint")
        password = self.role(branch, role)["password"]
        self.database(branch, database)
        user, secret, db = (quote(part, safe="") for part in (role, password, database))
        # sslmode=require, as Neon's URIs say, only when the proxy can serve TLS.
        query = "?sslmode=require" if self.serves_tls else ""
        return f"postgresql://{user}:{secret}@{self.endpoint_host(endpoints[0])}/{db}{query}"


class PasswordChange(BaseModel):
    password: str | None = None


def build_admin_router(neon: NeonSandbox) -> APIRouter:
    """Changes made behind Pulumi's back, as a user in the Neon console would: for drift tests."""
    admin = APIRouter(prefix="/_admin/neon", route_class=NeonRoute)
    store = neon.store

    @admin.delete("/projects/{project_id}")
    def drop_project(project_id: str) -> dict[str, Any]:
        with store.lock:
            neon.drop_project(project_id)
        return {"deleted": project_id}

    @admin.post("/projects/{project_id}/roles/{role_name}/password")
    def change_password(
        project_id: str,
        role_name: str,
        branch_id: str | None = None,
        body: Annotated[PasswordChange | None, Body()] = None,
    ) -> dict[str, Any]:
        with store.lock:
            role = neon.role(neon.project_branch(project_id, branch_id)[1], role_name)
            neon.set_password(role, body.password if body else None)
            store.save()
        return {"changed": role_name}

    return admin
