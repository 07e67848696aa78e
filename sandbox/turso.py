"""Turso Platform API (https://docs.turso.tech/api-reference), the part oneclick uses.

Shapes follow ../shared/contracts/turso-platform-api.json: errors are `{"error": "..."}`, database
objects use the vendor's mixed casing (`Name`, `DbId`, `Hostname`, `group`, `primaryRegion`).
Every database is a real SQLite file under the sandbox directory.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sandbox.store import SandboxStore

DATABASE_NAME = re.compile(r"^[a-z0-9-]{1,64}$")
DEFAULT_GROUP = "default"
DEFAULT_LOCATION = "aws-us-east-1"


class CreateDatabaseInput(BaseModel):
    name: str
    group: str
    size_limit: str | None = None


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class TursoApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def build_router(store: SandboxStore) -> APIRouter:
    def authorize(request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not secrets.compare_digest(header.encode(), f"Bearer {store.api_token}".encode()):
            raise TursoApiError(401, "Unauthorized: invalid or missing bearer token")

    router = APIRouter(prefix="/v1", dependencies=[Depends(authorize)])

    def org_state(org: str) -> dict[str, Any]:
        org_node = store.section("turso", "orgs", org)
        groups = org_node.setdefault("groups", {})
        groups.setdefault(DEFAULT_GROUP, {"name": DEFAULT_GROUP, "primary": DEFAULT_LOCATION})
        org_node.setdefault("databases", {})
        return org_node

    def database_file(org: str, name: str) -> Path:
        return store.directory / "turso" / org / f"{name}.sqlite"

    def public(org: str, db: dict[str, Any]) -> dict[str, Any]:
        return {
            "Name": db["name"],
            "DbId": db["id"],
            "Hostname": f"{db['name']}-{org}.turso.localhost",
            "group": db["group"],
            "primaryRegion": db["primaryRegion"],
            "regions": [db["primaryRegion"]],
            "block_reads": False,
            "block_writes": False,
            "delete_protection": False,
            "parent": None,
        }

    @router.get("/organizations/{org}/databases")
    def list_databases(org: str) -> dict[str, Any]:
        with store.lock:
            dbs = org_state(org)["databases"]
            return {"databases": [public(org, db) for db in dbs.values()]}

    @router.post("/organizations/{org}/databases")
    def create_database(org: str, body: CreateDatabaseInput) -> Any:
        if not DATABASE_NAME.match(body.name):
            return error(
                400, "database name must contain only lowercase letters, numbers, dashes (at most 64)"
            )
        with store.lock:
            state = org_state(org)
            if body.group not in state["groups"]:
                return error(400, "group not found")
            if body.name in state["databases"]:
                return error(409, f"database with name {body.name} already exists")
            path = database_file(org, body.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            sqlite3.connect(path).close()  # a real, empty SQLite database
            db = {
                "name": body.name,
                "id": str(uuid.uuid4()),
                "group": body.group,
                "primaryRegion": state["groups"][body.group]["primary"],
                "token_hashes": [],
            }
            state["databases"][body.name] = db
            store.save()
            out = public(org, db)
            return {"database": {"DbId": out["DbId"], "Hostname": out["Hostname"], "Name": out["Name"]}}

    @router.get("/organizations/{org}/databases/{name}")
    def get_database(org: str, name: str) -> Any:
        with store.lock:
            db = org_state(org)["databases"].get(name)
            if db is None:
                return error(404, "database not found")
            return {"database": public(org, db)}

    @router.delete("/organizations/{org}/databases/{name}")
    def delete_database(org: str, name: str) -> Any:
        with store.lock:
            dbs = org_state(org)["databases"]
            if name not in dbs:
                return error(404, "database not found")
            del dbs[name]
            database_file(org, name).unlink(missing_ok=True)
            store.save()
            return {"database": name}

    @router.post("/organizations/{org}/databases/{name}/auth/tokens")
    def create_database_token(
        org: str,
        name: str,
        expiration: str = Query("never"),
        authorization: str = Query("full-access"),
    ) -> Any:
        if authorization not in ("full-access", "read-only"):
            return error(400, "Invalid authorization level")
        if expiration != "never" and not re.fullmatch(r"(\d+[wdhms])+", expiration):
            return error(400, "Invalid expiration format")
        with store.lock:
            db = org_state(org)["databases"].get(name)
            if db is None:
                return error(404, "database not found")
            token = "sbxdb_" + secrets.token_urlsafe(32)
            # Only a hash is kept: the data plane verifies tokens without storing them.
            db["token_hashes"].append(
                {"sha256": hashlib.sha256(token.encode()).hexdigest(), "authorization": authorization}
            )
            store.save()
            return {"jwt": token}

    return router
