"""Turso Platform API (https://docs.turso.tech/api-reference), the part oneclick uses.

Shapes follow ../shared/contracts/turso-platform-api.json: errors are `{"error": "..."}`, database
objects use the vendor's mixed casing (`Name`, `DbId`, `Hostname`, `group`, `primaryRegion`).
Every database is a real SQLite file under the sandbox directory, served over libSQL's HTTP
protocol by sandbox/turso/libsql.py at its `Hostname`.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sandbox.store import SandboxStore
from sandbox.turso import state

DATABASE_NAME = re.compile(r"^[a-z0-9-]{1,64}$")
GROUP_NAME = DATABASE_NAME
DEFAULT_GROUP = state.DEFAULT_GROUP
DEFAULT_LOCATION = state.DEFAULT_LOCATION


class CreateDatabaseInput(BaseModel):
    name: str
    group: str
    size_limit: str | None = None


class CreateGroupInput(BaseModel):
    name: str
    location: str
    extensions: str | list[str] | None = None


# "Successful response (No Content)" in the vendor's spec, yet its own client (@tursodatabase/api)
# parses every success as JSON: an empty object satisfies both.
def rotated() -> JSONResponse:
    return JSONResponse({}, status_code=200)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class TursoApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class TokenOptions:
    access: state.Access
    expiration: str


def _token_options(
    expiration: str = Query("never"), authorization: str = Query("full-access")
) -> TokenOptions:
    """The query of both token routes (database and group), checked before the token's owner is."""
    if authorization not in ("full-access", "read-only"):
        raise TursoApiError(400, "Invalid authorization level")
    try:
        state.expiration_seconds(expiration)
    except ValueError:
        raise TursoApiError(400, "Invalid expiration format") from None
    return TokenOptions("read-only" if authorization == "read-only" else "full-access", expiration)


TokenQuery = Annotated[TokenOptions, Depends(_token_options)]


def build_router(store: SandboxStore) -> APIRouter:
    def authorize(request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not secrets.compare_digest(header.encode(), f"Bearer {store.api_token}".encode()):
            raise TursoApiError(401, "Unauthorized: invalid or missing bearer token")

    router = APIRouter(prefix="/v1", dependencies=[Depends(authorize)])

    def found(org: str, section: str, name: str, missing: str) -> dict[str, Any]:
        item: dict[str, Any] | None = state.org_state(store, org)[section].get(name)
        if item is None:
            raise TursoApiError(404, missing)
        return item

    def database_of(org: str, name: str) -> dict[str, Any]:
        return found(org, "databases", name, f"could not find database with name {name}: record not found")

    def group_of(org: str, name: str) -> dict[str, Any]:
        return found(org, "groups", name, "group not found")

    def new_token(owner: Callable[[], dict[str, Any]], options: TokenOptions) -> dict[str, Any]:
        """A token for a database or group (`owner` looks it up under the lock)."""
        with store.lock:
            token = state.issue_token(owner(), options.access, options.expiration)
            store.save()
            return {"jwt": token}

    @router.get("/locations")
    def list_locations() -> dict[str, Any]:
        return {"locations": dict(state.LOCATIONS)}

    @router.get("/organizations/{org}/databases")
    def list_databases(org: str) -> dict[str, Any]:
        with store.lock:
            dbs = state.org_state(store, org)["databases"]
            return {"databases": [state.public_database(store, org, db) for db in dbs.values()]}

    @router.post("/organizations/{org}/databases")
    def create_database(org: str, body: CreateDatabaseInput) -> Any:
        if not DATABASE_NAME.match(body.name):
            return error(
                400, "database name must contain only lowercase letters, numbers, dashes (at most 64)"
            )
        with store.lock:
            node = state.org_state(store, org)
            if body.group not in node["groups"]:
                return error(400, "group not found")
            if body.name in node["databases"]:
                return error(409, f"database with name {body.name} already exists")
            path = state.database_file(store, org, body.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            state.delete_database_file(store, org, body.name)
            sqlite3.connect(path).close()  # a real, empty SQLite database
            db = {
                "name": body.name,
                "id": str(uuid.uuid4()),
                "group": body.group,
                "primaryRegion": node["groups"][body.group]["primary"],
                "token_hashes": [],
            }
            node["databases"][body.name] = db
            store.save()
            out = state.public_database(store, org, db)
            return {"database": {"DbId": out["DbId"], "Hostname": out["Hostname"], "Name": out["Name"]}}

    @router.get("/organizations/{org}/databases/{name}")
    def get_database(org: str, name: str) -> Any:
        with store.lock:
            return {"database": state.public_database(store, org, database_of(org, name))}

    @router.delete("/organizations/{org}/databases/{name}")
    def delete_database(org: str, name: str) -> Any:
        with store.lock:
            database_of(org, name)
            del state.org_state(store, org)["databases"][name]
            state.delete_database_file(store, org, name)
            store.save()
            return {"database": name}

    @router.post("/organizations/{org}/databases/{name}/auth/tokens")
    def create_database_token(org: str, name: str, options: TokenQuery) -> Any:
        return new_token(lambda: database_of(org, name), options)

    @router.post("/organizations/{org}/databases/{name}/auth/rotate")
    def rotate_database_tokens(org: str, name: str) -> Response:
        with store.lock:
            database_of(org, name)["token_hashes"] = []
            store.save()
        return rotated()

    @router.get("/organizations/{org}/groups")
    def list_groups(org: str) -> dict[str, Any]:
        with store.lock:
            groups = state.org_state(store, org)["groups"]
            return {"groups": [state.public_group(group) for group in groups.values()]}

    @router.post("/organizations/{org}/groups")
    def create_group(org: str, body: CreateGroupInput) -> Any:
        if not GROUP_NAME.match(body.name):
            return error(400, "group name must contain only lowercase letters, numbers, dashes (at most 64)")
        if body.location not in state.LOCATIONS:
            return error(400, f"invalid location: {body.location}")
        with store.lock:
            groups = state.org_state(store, org)["groups"]
            if body.name in groups:
                return error(409, "group already exists")
            groups[body.name] = state.new_group(body.name, body.location)
            store.save()
            return {"group": state.public_group(groups[body.name])}

    @router.get("/organizations/{org}/groups/{group}")
    def get_group(org: str, group: str) -> Any:
        with store.lock:
            return {"group": state.public_group(group_of(org, group))}

    @router.delete("/organizations/{org}/groups/{group}")
    def delete_group(org: str, group: str) -> Any:
        with store.lock:
            found = group_of(org, group)
            node = state.org_state(store, org)
            # As with the vendor, a group's databases go with it.
            for name in [name for name, db in node["databases"].items() if db["group"] == group]:
                del node["databases"][name]
                state.delete_database_file(store, org, name)
            del node["groups"][group]
            store.save()
            return {"group": state.public_group(found)}

    @router.post("/organizations/{org}/groups/{group}/auth/tokens")
    def create_group_token(org: str, group: str, options: TokenQuery) -> Any:
        return new_token(lambda: group_of(org, group), options)

    @router.post("/organizations/{org}/groups/{group}/auth/rotate")
    def rotate_group_tokens(org: str, group: str) -> Response:
        with store.lock:
            group_of(org, group)["token_hashes"] = []
            # The vendor signs database tokens with their group's keys: rotating those ends them all.
            for db in state.org_state(store, org)["databases"].values():
                if db["group"] == group:
                    db["token_hashes"] = []
            store.save()
        return rotated()

    return router
