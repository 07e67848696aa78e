"""Typed client for the Neon API v2 (contract: ../shared/contracts/neon-api-v2.json).

Mutating calls start operations (create_timeline, start_compute, apply_config, ...) and Neon answers
the next change to the same project with 423 Locked until they finish. So every mutating method
waits for the operations it started before returning (pass `wait=False` to skip), and 423 is
retried like 429 and 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from components.neon.models import (
    Branch,
    CreatedBranch,
    CreatedProject,
    Database,
    Endpoint,
    Operation,
    Project,
    Role,
)
from core.http import RETRY_STATUSES as SHARED_RETRY_STATUSES
from core.http import VendorClient, VendorError

DEFAULT_API_URL = "https://console.neon.tech/api/v2"
VENDOR = "Neon"
RETRY_STATUSES = frozenset({423, *SHARED_RETRY_STATUSES})
PAGE_SIZE = 100


class NeonOperationError(VendorError):
    """An operation Neon ran for us ended failed/error/cancelled, or did not finish in time."""

    def __init__(self, message: str, operation: Operation | None = None) -> None:
        self.vendor = VENDOR
        self.status = 0
        self.message = message
        self.operation = operation
        Exception.__init__(self, f"{VENDOR} {message}")


class NeonOperationTimeout(NeonOperationError):
    """Operations were still running when the wait gave up."""


class NeonClient(VendorClient):
    """Neon API v2 calls with one API key. The key is only ever sent as a header."""

    VENDOR = VENDOR
    RETRY_STATUSES = RETRY_STATUSES

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_API_URL,
        timeout: float = 30.0,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
        operation_timeout: float = 300.0,
        poll_interval: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            timeout=timeout,
            retries=retries,
            transport=transport,
            sleep=sleep,
            headers={"Accept": "application/json"},
        )
        self.operation_timeout = operation_timeout
        self.poll_interval = poll_interval

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        return response.json() if response.content else {}

    def _settle(self, project_id: str, body: dict[str, Any], wait: bool) -> None:
        if wait:
            operations = [Operation.from_api(item) for item in body.get("operations") or []]
            self.wait_for_operations(project_id, operations)

    # Projects

    def create_project(
        self,
        name: str | None = None,
        *,
        region_id: str | None = None,
        pg_version: int | None = None,
        branch_name: str | None = None,
        database_name: str | None = None,
        role_name: str | None = None,
        wait: bool = True,
    ) -> CreatedProject:
        """A project with its default branch, compute endpoint, owner role and database."""
        branch = {"name": branch_name, "database_name": database_name, "role_name": role_name}
        project: dict[str, Any] = {"name": name, "region_id": region_id, "pg_version": pg_version}
        project = {key: value for key, value in project.items() if value is not None}
        if any(value is not None for value in branch.values()):
            project["branch"] = {key: value for key, value in branch.items() if value is not None}
        body = self._call("POST", "/projects", json={"project": project})
        created = CreatedProject.from_api(body)
        self._settle(created.project.id, body, wait)
        return created

    def get_project(self, project_id: str) -> Project:
        return Project.from_api(self._call("GET", f"/projects/{project_id}")["project"])

    def list_projects(self, *, search: str | None = None) -> list[Project]:
        """Every project the key can see, page by page."""
        found: list[Project] = []
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if search is not None:
            params["search"] = search
        while True:
            body = self._call("GET", "/projects", params=params)
            page = [Project.from_api(item) for item in body["projects"]]
            found.extend(page)
            cursor = (body.get("pagination") or {}).get("cursor")
            if len(page) < PAGE_SIZE or not cursor:
                return found
            params["cursor"] = cursor

    def update_project(self, project_id: str, name: str, *, wait: bool = True) -> Project:
        body = self._call("PATCH", f"/projects/{project_id}", json={"project": {"name": name}})
        self._settle(project_id, body, wait)
        return Project.from_api(body["project"])

    def delete_project(self, project_id: str) -> Project:
        return Project.from_api(self._call("DELETE", f"/projects/{project_id}")["project"])

    # Branches

    def list_branches(self, project_id: str) -> list[Branch]:
        body = self._call("GET", f"/projects/{project_id}/branches")
        return [Branch.from_api(item) for item in body["branches"]]

    def create_branch(
        self,
        project_id: str,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        with_endpoint: bool = True,
        wait: bool = True,
    ) -> CreatedBranch:
        """A branch of `parent_id` (default: the default branch), with a read-write compute."""
        branch = {key: value for key, value in (("name", name), ("parent_id", parent_id)) if value}
        request: dict[str, Any] = {"branch": branch}
        if with_endpoint:
            request["endpoints"] = [{"type": "read_write"}]
        body = self._call("POST", f"/projects/{project_id}/branches", json=request)
        self._settle(project_id, body, wait)
        return CreatedBranch.from_api(body)

    def get_branch(self, project_id: str, branch_id: str) -> Branch:
        return Branch.from_api(self._call("GET", f"/projects/{project_id}/branches/{branch_id}")["branch"])

    def delete_branch(self, project_id: str, branch_id: str, *, wait: bool = True) -> None:
        body = self._call("DELETE", f"/projects/{project_id}/branches/{branch_id}")
        self._settle(project_id, body, wait)

    def list_endpoints(self, project_id: str, branch_id: str | None = None) -> list[Endpoint]:
        path = f"/projects/{project_id}" + (f"/branches/{branch_id}" if branch_id else "") + "/endpoints"
        return [Endpoint.from_api(item) for item in self._call("GET", path)["endpoints"]]

    # Roles

    def _roles(self, project_id: str, branch_id: str) -> str:
        return f"/projects/{project_id}/branches/{branch_id}/roles"

    def list_roles(self, project_id: str, branch_id: str) -> list[Role]:
        return [
            Role.from_api(item) for item in self._call("GET", self._roles(project_id, branch_id))["roles"]
        ]

    def create_role(self, project_id: str, branch_id: str, name: str, *, wait: bool = True) -> Role:
        """A login role; the returned Role carries its password."""
        body = self._call("POST", self._roles(project_id, branch_id), json={"role": {"name": name}})
        self._settle(project_id, body, wait)
        return Role.from_api(body["role"])

    def get_role(self, project_id: str, branch_id: str, name: str) -> Role:
        return Role.from_api(self._call("GET", f"{self._roles(project_id, branch_id)}/{name}")["role"])

    def delete_role(self, project_id: str, branch_id: str, name: str, *, wait: bool = True) -> None:
        body = self._call("DELETE", f"{self._roles(project_id, branch_id)}/{name}")
        self._settle(project_id, body, wait)

    def reveal_password(self, project_id: str, branch_id: str, name: str) -> str:
        path = f"{self._roles(project_id, branch_id)}/{name}/reveal_password"
        return str(self._call("GET", path)["password"])

    def reset_password(self, project_id: str, branch_id: str, name: str, *, wait: bool = True) -> Role:
        """A new password for the role; the returned Role carries it."""
        body = self._call("POST", f"{self._roles(project_id, branch_id)}/{name}/reset_password")
        self._settle(project_id, body, wait)
        return Role.from_api(body["role"])

    # Databases

    def _databases(self, project_id: str, branch_id: str) -> str:
        return f"/projects/{project_id}/branches/{branch_id}/databases"

    def list_databases(self, project_id: str, branch_id: str) -> list[Database]:
        body = self._call("GET", self._databases(project_id, branch_id))
        return [Database.from_api(item) for item in body["databases"]]

    def create_database(
        self, project_id: str, branch_id: str, name: str, owner_name: str, *, wait: bool = True
    ) -> Database:
        request = {"database": {"name": name, "owner_name": owner_name}}
        body = self._call("POST", self._databases(project_id, branch_id), json=request)
        self._settle(project_id, body, wait)
        return Database.from_api(body["database"])

    def get_database(self, project_id: str, branch_id: str, name: str) -> Database:
        path = f"{self._databases(project_id, branch_id)}/{name}"
        return Database.from_api(self._call("GET", path)["database"])

    def delete_database(self, project_id: str, branch_id: str, name: str, *, wait: bool = True) -> None:
        body = self._call("DELETE", f"{self._databases(project_id, branch_id)}/{name}")
        self._settle(project_id, body, wait)

    def connection_uri(
        self,
        project_id: str,
        database_name: str,
        role_name: str,
        branch_id: str | None = None,
        pooled: bool = False,
    ) -> str:
        """The role's connection URI, password included (default branch unless `branch_id`)."""
        params: dict[str, Any] = {"database_name": database_name, "role_name": role_name}
        if branch_id:
            params["branch_id"] = branch_id
        if pooled:
            params["pooled"] = "true"
        return str(self._call("GET", f"/projects/{project_id}/connection_uri", params=params)["uri"])

    # Operations

    def list_operations(self, project_id: str) -> list[Operation]:
        body = self._call("GET", f"/projects/{project_id}/operations")
        return [Operation.from_api(item) for item in body["operations"]]

    def get_operation(self, project_id: str, operation_id: str) -> Operation:
        path = f"/projects/{project_id}/operations/{operation_id}"
        return Operation.from_api(self._call("GET", path)["operation"])

    def wait_for_operations(
        self,
        project_id: str,
        operations: Iterable[Operation],
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
    ) -> None:
        """Poll until every operation is finished; raise NeonOperationError if one fails or time runs out.

        Polling starts fast (most operations take well under a second) and slows to `poll_interval`.
        """
        limit = self.operation_timeout if timeout is None else timeout
        slowest = self.poll_interval if poll_interval is None else poll_interval
        pending = {op.id: op for op in operations}
        deadline = time.monotonic() + limit
        delay = min(0.1, slowest)
        while True:
            for op_id, op in list(pending.items()):
                if op.failed:
                    raise NeonOperationError(
                        f"operation {op.action} ({op.id}) on project {op.project_id} ended {op.status}: "
                        f"{op.error or 'no reason given'}; fix the cause and run the deploy again",
                        op,
                    )
                if op.done:
                    del pending[op_id]
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                running = ", ".join(f"{op.action} ({op.id}, {op.status})" for op in pending.values())
                raise NeonOperationTimeout(
                    f"operations on project {project_id} still not finished after {limit:g}s: {running}; "
                    "they may finish later, so check the project and run the deploy again"
                )
            self._sleep(min(delay, remaining))
            delay = min(delay * 2, slowest)
            for op_id in pending:
                pending[op_id] = self.get_operation(project_id, op_id)
