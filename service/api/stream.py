"""A deployment's progress as server-sent events, read from the database so it resumes anywhere."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from service import deployments
from service.api.context import ServiceContext
from service.deployments import Deployment


def _sse(event_id: int | None, kind: str, payload: Any) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(payload, default=str)}\n\n"


async def _event_stream(ctx: ServiceContext, deployment_id: str, after: int) -> AsyncIterator[str]:
    """Every recorded event after `after`, then new ones as they happen, until the deployment ends."""

    def read(last: int) -> tuple[list[tuple[int, str, dict[str, Any]]], str | None]:
        with ctx.connection() as conn:
            found = deployments.get(conn, deployment_id)
            return deployments.events_after(
                conn, deployment_id, last
            ), None if found is None else found.status

    started = time.monotonic()
    quiet = 0.0
    last = after
    yield "retry: 1000\n\n"
    while time.monotonic() - started < ctx.stream_limit_seconds:
        events, status = await run_in_threadpool(read, last)
        for event_id, kind, payload in events:
            last = event_id
            yield _sse(event_id, kind, payload)
            if kind == "finished":
                return
        if not events and status in deployments.TERMINAL:
            return
        if events:
            quiet = 0.0
        else:
            quiet += ctx.poll_seconds
            if quiet >= 15:
                quiet = 0.0
                yield ": keep-alive\n\n"
        await asyncio.sleep(ctx.poll_seconds)
    yield _sse(None, "timeout", {"message": "stream limit reached; reconnect with Last-Event-ID to resume"})


def stream_response(
    ctx: ServiceContext, deployment: Deployment, last_event_id: str | None
) -> StreamingResponse:
    """The stream from the event after `Last-Event-ID` (from the start without one)."""
    after = int(last_event_id) if last_event_id and last_event_id.strip().isdigit() else 0
    return StreamingResponse(
        _event_stream(ctx, deployment.id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
