"""The Cloudflare API v4 envelope: success and error bodies, pagination, and a route class that
answers every failure in that shape."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

from sandbox.cloudflare.state import CloudflareApiError


def envelope(result: Any, result_info: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return body


def error_response(status: int, code: int, message: str) -> JSONResponse:
    body = {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}
    return JSONResponse(body, status_code=status)


def paginate(items: list[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, Any]]:
    page, per_page = max(page, 1), min(max(per_page, 1), 1000)
    chunk = items[(page - 1) * per_page : page * per_page]
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": max(-(-len(items) // per_page), 1),
    }
    return chunk, info


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


async def json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise CloudflareApiError(400, 8000000, "Request body is not valid JSON") from None


class CloudflareRoute(APIRoute):
    """Answers every failure on these routes with the v4 error envelope, whatever the app's handlers do."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except CloudflareApiError as exc:
                return error_response(exc.status, exc.code, exc.message)
            except RequestValidationError as exc:
                problems = "; ".join(
                    ".".join(str(p) for p in e["loc"] if p != "body") + ": " + e["msg"] for e in exc.errors()
                )
                return error_response(400, 8000000, f"Invalid request: {problems}")

        return route
