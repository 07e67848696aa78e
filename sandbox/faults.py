"""Fault injection for any vendor API of the sandbox: make the next N matching calls fail.

    POST   /_admin/faults  {"path_prefix": "/client/v4", "status": 500, "count": 2,
                            "method": "POST" (optional), "body": {...} (optional JSON answer),
                            "delay_seconds": 3 (optional: answer slowly, e.g. to hold a deploy open)}
    GET    /_admin/faults  the faults still armed
    DELETE /_admin/faults  disarm them all

A request whose path starts with `path_prefix` (and whose method matches, when given) is answered
with `status` and `body` instead of reaching the API, until `count` such requests were answered.
The default body is `{"error": "..."}`, which every vendor client here reads as the error message.
Faults live in memory only (a restart disarms them) and never touch `/_admin` itself.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ADMIN_PREFIX = "/_admin"


class FaultRequest(BaseModel):
    path_prefix: str = Field(min_length=1)
    status: int = Field(default=500, ge=400, le=599)
    count: int = Field(default=1, ge=1, le=1000)
    method: str | None = None
    body: Any = None
    delay_seconds: float = Field(default=0.0, ge=0.0, le=60.0)


@dataclass
class Fault:
    path_prefix: str
    status: int
    remaining: int
    method: str | None
    body: Any
    delay_seconds: float = 0.0


class FaultPlan:
    """The armed faults, first armed first used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def arm(self, request: FaultRequest) -> Fault:
        fault = Fault(
            request.path_prefix,
            request.status,
            request.count,
            request.method.upper() if request.method else None,
            request.body,
            request.delay_seconds,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that answers this request (using up one of its count), if any."""
        if path.startswith(ADMIN_PREFIX):
            return None
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix) and fault.method in (None, method):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count


class FaultInjection:
    """ASGI middleware: answers requests a fault claims; passes everything else through."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            fault = self.plan.take(scope["method"], scope["path"])
            if fault is not None:
                if fault.delay_seconds:
                    await asyncio.sleep(fault.delay_seconds)
                body = fault.body
                if body is None:
                    body = {"error": f"the sandbox was told to fail this request with {fault.status}"}
                await JSONResponse(body, status_code=fault.status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_router(plan: FaultPlan) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX + "/faults")

    @router.post("")
    def arm(request: FaultRequest) -> dict[str, Any]:
        return asdict(plan.arm(request))

    @router.get("")
    def armed() -> list[dict[str, Any]]:
        return plan.armed()

    @router.delete("")
    def clear() -> dict[str, int]:
        return {"cleared": plan.clear()}

    return router
