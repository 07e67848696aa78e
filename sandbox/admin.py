"""Admin API: lets tests and operators change the sandbox behind Pulumi's back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sandbox.store import SandboxStore


def build_router(store: SandboxStore) -> APIRouter:
    router = APIRouter(prefix="/_admin")

    @router.get("/state")
    def state() -> dict[str, Any]:
        with store.lock:
            return store.data

    @router.delete("/turso/{org}/databases/{name}")
    def drop_turso_database(org: str, name: str) -> Any:
        with store.lock:
            dbs = store.section("turso", "orgs", org).get("databases", {})
            if dbs.pop(name, None) is None:
                return JSONResponse({"error": "database not found"}, status_code=404)
            (store.directory / "turso" / org / f"{name}.sqlite").unlink(missing_ok=True)
            store.save()
        return {"deleted": name}

    return router
