"""Fixtures for the gateway and billing attack tests: the real gateway app on a free port, a real
PostgreSQL database, stripe-mock, and a hostile vendor that lies about usage, splits the platform's
key across stream chunks, or never answers.

The hostile vendor's behaviour is chosen by the request's `model`, so one gateway serves every test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from sandbox.upstreams import UpstreamStandIn
from service.gateway.app import create_app
from service.gateway.settings import Secret, UpstreamSettings
from service.gateway.state import Gateway

# The vendor fixtures the attacks reuse: a migrated database per module, the vendor stand-ins,
# a gateway running against them, stripe-mock.
from tests.gateway.conftest import (  # noqa: F401
    OPENAI_KEY,
    RunningGateway,
    gateway_db,
    gateway_settings,
    running_gateway,
    stripe_mock,
    upstream,
)
from tests.gateway.servers import ServerThread

WEBHOOK_SECRET = "whsec_security_0123456789abcdef"


@dataclass
class HostileUpstream:
    """An OpenAI-compatible vendor that misbehaves on purpose (see `chat`)."""

    usage: dict[str, Any] = field(default_factory=dict)  # what "lying-usage" reports
    chunks: list[bytes] = field(default_factory=list)  # what "split-stream" sends, one write each
    hung_calls: int = 0  # "hang" calls received
    abandoned_calls: int = 0  # "hang" calls whose client (the gateway) went away
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def chat(self, request: Request) -> Response:
        body = json.loads(await request.body())
        model = body.get("model")
        if model == "hang":
            return await self._hang(request)
        if model == "split-stream":
            return StreamingResponse(self._slowly(self.chunks), media_type="text/event-stream")
        if body.get("stream"):
            final = {"id": "c1", "object": "chat.completion.chunk", "choices": [], "usage": self.usage}
            chunks = [
                b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n',
                f"data: {json.dumps(final)}\n\n".encode(),
                b"data: [DONE]\n\n",
            ]
            return StreamingResponse(self._slowly(chunks), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "chatcmpl-hostile",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
                "usage": self.usage,
            }
        )

    async def _hang(self, request: Request) -> Response:
        with self._lock:
            self.hung_calls += 1
        deadline = time.monotonic() + 60  # far beyond any test; bounded so the server can stop
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                with self._lock:
                    self.abandoned_calls += 1
                break
            await asyncio.sleep(0.05)
        return Response(status_code=504)

    @staticmethod
    async def _slowly(chunks: list[bytes]) -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
            await asyncio.sleep(0.05)  # each chunk reaches the gateway as a read of its own

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])


@dataclass
class HostileGateway:
    """A gateway whose OpenAI is the hostile vendor (the other vendors are the usual stand-ins)."""

    url: str
    db: str
    vendor: HostileUpstream
    gateway: Gateway


def start_gateway(
    db: str, upstream_url: str, journal: Any, openai_url: str | None = None, **overrides: Any
) -> tuple[ServerThread, Gateway]:
    settings = gateway_settings(db, upstream_url, journal, **overrides)
    if openai_url:
        upstreams: UpstreamSettings = replace(settings.upstreams, openai_url=openai_url)
        settings = replace(settings, upstreams=upstreams)
    app = create_app(settings)
    return ServerThread(app).start(), app.state.gateway


@pytest.fixture(scope="module")
def hostile_gateway(
    gateway_db: str,  # noqa: F811
    upstream: tuple[UpstreamStandIn, str],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[HostileGateway]:
    vendor = HostileUpstream()
    vendor_server = ServerThread(vendor.app()).start()
    server, gateway = start_gateway(
        gateway_db,
        upstream[1],
        tmp_path_factory.mktemp("hostile-journal"),
        openai_url=vendor_server.url,
        stripe_webhook_secret=Secret(WEBHOOK_SECRET),
    )
    yield HostileGateway(server.url, gateway_db, vendor, gateway)
    server.stop()
    vendor_server.stop()
