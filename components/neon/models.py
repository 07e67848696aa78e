"""Typed views of the Neon API v2 objects oneclick uses (../shared/contracts/neon-api-v2.json).

Passwords and connection URIs are kept out of repr() so a logged object never leaks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Operation statuses: these two mean done; the FAILED ones are final and mean the change did not happen.
DONE_STATUSES = frozenset({"finished", "skipped"})
FAILED_STATUSES = frozenset({"failed", "error", "cancelled"})


def _opt(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class Operation:
    id: str
    project_id: str
    action: str
    status: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    error: str | None = None
    failures_count: int = 0

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES

    @staticmethod
    def from_api(data: dict[str, Any]) -> Operation:
        return Operation(
            id=str(data["id"]),
            project_id=str(data["project_id"]),
            action=str(data["action"]),
            status=str(data["status"]),
            branch_id=_opt(data, "branch_id"),
            endpoint_id=_opt(data, "endpoint_id"),
            error=_opt(data, "error"),
            failures_count=int(data.get("failures_count", 0)),
        )


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    region_id: str
    pg_version: int
    proxy_host: str
    created_at: str

    @staticmethod
    def from_api(data: dict[str, Any]) -> Project:
        return Project(
            id=str(data["id"]),
            name=str(data["name"]),
            region_id=str(data["region_id"]),
            pg_version=int(data["pg_version"]),
            proxy_host=str(data.get("proxy_host", "")),
            created_at=str(data.get("created_at", "")),
        )


@dataclass(frozen=True)
class Branch:
    id: str
    project_id: str
    name: str
    default: bool
    current_state: str
    parent_id: str | None = None

    @staticmethod
    def from_api(data: dict[str, Any]) -> Branch:
        return Branch(
            id=str(data["id"]),
            project_id=str(data["project_id"]),
            name=str(data["name"]),
            default=bool(data.get("default", data.get("primary", False))),
            current_state=str(data.get("current_state", "")),
            parent_id=_opt(data, "parent_id"),
        )


@dataclass(frozen=True)
class Role:
    branch_id: str
    name: str
    protected: bool = False
    # Only create and reset_password return it; reveal_password fetches it later.
    password: str | None = field(default=None, repr=False)

    @staticmethod
    def from_api(data: dict[str, Any]) -> Role:
        return Role(
            branch_id=str(data["branch_id"]),
            name=str(data["name"]),
            protected=bool(data.get("protected", False)),
            password=_opt(data, "password"),
        )


@dataclass(frozen=True)
class Database:
    id: int
    branch_id: str
    name: str
    owner_name: str

    @staticmethod
    def from_api(data: dict[str, Any]) -> Database:
        return Database(
            id=int(data["id"]),
            branch_id=str(data["branch_id"]),
            name=str(data["name"]),
            owner_name=str(data["owner_name"]),
        )


@dataclass(frozen=True)
class Endpoint:
    id: str
    project_id: str
    branch_id: str
    host: str
    type: str
    current_state: str

    @staticmethod
    def from_api(data: dict[str, Any]) -> Endpoint:
        return Endpoint(
            id=str(data["id"]),
            project_id=str(data["project_id"]),
            branch_id=str(data["branch_id"]),
            host=str(data["host"]),
            type=str(data["type"]),
            current_state=str(data.get("current_state", "")),
        )


@dataclass(frozen=True)
class ConnectionDetails:
    database: str
    role: str
    host: str
    pooler_host: str
    uri: str = field(repr=False)
    password: str = field(repr=False)

    @staticmethod
    def from_api(data: dict[str, Any]) -> ConnectionDetails:
        params = data["connection_parameters"]
        return ConnectionDetails(
            database=str(params["database"]),
            role=str(params["role"]),
            host=str(params["host"]),
            pooler_host=str(params.get("pooler_host", "")),
            uri=str(data["connection_uri"]),
            password=str(params["password"]),
        )


def _many(kind: Any, body: dict[str, Any], key: str) -> tuple[Any, ...]:
    return tuple(kind.from_api(item) for item in body.get(key) or [])


@dataclass(frozen=True)
class CreatedProject:
    """Everything createProject returns: the project, its default branch, role, database and URI."""

    project: Project
    branch: Branch
    roles: tuple[Role, ...]
    databases: tuple[Database, ...]
    endpoints: tuple[Endpoint, ...]
    connection_uris: tuple[ConnectionDetails, ...]
    operations: tuple[Operation, ...]

    @staticmethod
    def from_api(body: dict[str, Any]) -> CreatedProject:
        return CreatedProject(
            project=Project.from_api(body["project"]),
            branch=Branch.from_api(body["branch"]),
            roles=_many(Role, body, "roles"),
            databases=_many(Database, body, "databases"),
            endpoints=_many(Endpoint, body, "endpoints"),
            connection_uris=_many(ConnectionDetails, body, "connection_uris"),
            operations=_many(Operation, body, "operations"),
        )


@dataclass(frozen=True)
class CreatedBranch:
    branch: Branch
    roles: tuple[Role, ...]
    databases: tuple[Database, ...]
    endpoints: tuple[Endpoint, ...]
    operations: tuple[Operation, ...]

    @staticmethod
    def from_api(body: dict[str, Any]) -> CreatedBranch:
        return CreatedBranch(
            branch=Branch.from_api(body["branch"]),
            roles=_many(Role, body, "roles"),
            databases=_many(Database, body, "databases"),
            endpoints=_many(Endpoint, body, "endpoints"),
            operations=_many(Operation, body, "operations"),
        )
