"""The gateway's ASGI app: its routes, error handlers and lifespan (the shared state is in state.py)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

import psycopg
from psycopg_pool import PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from service.gateway import passthrough, proxy, usage_api, webhooks
from service.gateway.errors import (
    DatabaseUnavailable,
    GatewayError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    style_of,
)
from service.gateway.settings import GatewaySettings
from service.gateway.state import Gateway
from service.gateway.upstreams import RelayResponse

log = logging.getLogger("oneclick.gateway")

ROUTES_HELP = (
    "POST /api/proxy/openai/v1/{chat/completions,completions,embeddings,responses}, "
    "GET /api/proxy/openai/v1/models[/{id}], POST /api/proxy/anthropic/v1/messages[/count_tokens], "
    "GET /api/proxy/anthropic/v1/models[/{id}], POST /api/proxy/email/send, POST /api/proxy/sms/send, "
    "POST /api/proxy/storage/upload?key=…, GET /api/usage/{current,history,apps}, PUT /api/usage/alerts, "
    "POST /api/stripe/webhook"
)


def _answer(request: Request, exc: GatewayError) -> Response:
    return proxy.error_response(exc, style_of(request.url.path))


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return _answer(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _answer(request, MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}"))
    if exc.status_code == 404:
        return _answer(
            request, NotFound(f"no route {request.method} {request.url.path}; routes: {ROUTES_HELP}")
        )
    return Response(
        json.dumps({"error": {"type": "http_error", "message": str(exc.detail)}}), exc.status_code
    )


async def _database_down(request: Request, exc: Exception) -> Response:
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    message = "the gateway cannot reach its database; nothing was forwarded or billed; try again shortly"
    return _answer(request, DatabaseUnavailable(message))


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The traceback stays in our log (our messages never hold a credential); the caller gets a fixed one.
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(request, InternalError("the gateway failed; try again"))


async def _health(request: Request) -> Response:
    return Response('{"ok":true}', media_type="application/json")


class GatewayApp:
    """The Starlette app, with the LLM proxy routes dispatched before it.

    Those routes carry nearly all the traffic; going straight to their handler skips Starlette's
    route matching and middleware stack, a tenth of the gateway's CPU per call. Errors are answered
    exactly as Starlette's handlers would.
    """

    _PREFIXES = ("/api/proxy/openai/", "/api/proxy/anthropic/")

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith(self._PREFIXES):
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app
        _, _, _, service, endpoint = path.split("/", 4)  # /api/proxy/<service>/<endpoint>
        scope["path_params"] = {"path": endpoint}
        request = Request(scope, receive)
        style = style_of(path)
        response: Response | RelayResponse
        try:
            if passthrough.is_passthrough(service, "POST", endpoint):
                response = await passthrough.relay(request)
            else:
                response = await proxy.llm_proxy(request)
        except GatewayError as exc:
            response = proxy.error_response(exc, style)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            response = await _database_down(request, exc)
        except Exception as exc:
            response = await _unexpected(request, exc)
        await response(scope, receive, send)


def create_app(settings: GatewaySettings) -> GatewayApp:
    gateway = Gateway(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    routes = [
        Route("/healthz", _health, methods=["GET"]),
        Route("/api/proxy/openai/{path:path}", proxy.llm_proxy, methods=["POST"]),
        Route("/api/proxy/anthropic/{path:path}", proxy.llm_proxy, methods=["POST"]),
        # Unmetered (GET ones are not on GatewayApp's fast path; count_tokens is, by its path).
        Route("/api/proxy/openai/v1/models", passthrough.relay, methods=["GET"]),
        Route("/api/proxy/openai/v1/models/{model}", passthrough.relay, methods=["GET"]),
        Route("/api/proxy/anthropic/v1/models", passthrough.relay, methods=["GET"]),
        Route("/api/proxy/anthropic/v1/models/{model}", passthrough.relay, methods=["GET"]),
        Route("/api/proxy/email/send", proxy.email_send, methods=["POST"]),
        Route("/api/proxy/sms/send", proxy.sms_send, methods=["POST"]),
        Route("/api/proxy/storage/upload", proxy.storage_upload, methods=["POST", "PUT"]),
        Route("/api/usage/current", usage_api.current, methods=["GET"]),
        Route("/api/usage/history", usage_api.history, methods=["GET"]),
        Route("/api/usage/apps", usage_api.apps, methods=["GET"]),
        Route("/api/usage/alerts", usage_api.set_alerts, methods=["PUT"]),
        Route("/api/stripe/webhook", webhooks.stripe_webhook, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            GatewayError: _gateway_error,
            HTTPException: _http_error,
            psycopg.OperationalError: _database_down,
            PoolTimeout: _database_down,
            Exception: _unexpected,
        },
    )
    app.state.gateway = gateway
    return GatewayApp(app)
