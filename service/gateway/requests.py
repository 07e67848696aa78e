"""What every gateway route does with a request first: find the caller's key and read the body."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from service.gateway.errors import BadRequest, MalformedJson, PayloadTooLarge, Unauthorized
from service.gateway.keys import KEY_PREFIX, GatewayKey
from service.gateway.state import gateway_of

JSON = "application/json"


def _presented_key(request: Request) -> str | None:
    """The gateway key: `X-Oneclick-Key`, else whichever of `Authorization: Bearer` and `x-api-key`
    holds one (the other may hold a BYO caller's own vendor key, as the Anthropic SDK sends it)."""
    headers = request.headers
    explicit = headers.get("x-oneclick-key")
    if explicit:
        return explicit.strip()
    authorization = headers.get("authorization", "")
    bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    api_key = headers.get("x-api-key")
    for candidate in (bearer, api_key):
        if candidate and candidate.startswith(KEY_PREFIX):
            return candidate
    return bearer or api_key


async def authenticate(request: Request) -> GatewayKey:
    presented = _presented_key(request)
    if not presented:
        raise Unauthorized(
            "missing gateway key: send it as `Authorization: Bearer ocgw_…` (or `X-Oneclick-Key: ocgw_…`)"
        )
    client = request.client.host if request.client else ""
    key = await gateway_of(request).keys.lookup(presented, client)
    if key is None:
        raise Unauthorized("gateway key not recognised or revoked; create a new key for this app")
    return key


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit() and len(declared) <= 18):
            raise BadRequest("Content-Length must be a number of bytes")
        if int(declared) > limit:
            raise PayloadTooLarge(
                f"request body is {int(declared)} bytes; the limit here is {limit} bytes", limit_bytes=limit
            )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the limit of {limit} bytes", limit_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise MalformedJson("the request body is empty; send a JSON object")
    try:
        return json.loads(raw.decode())  # UTF-8 only (json.loads on bytes would also guess UTF-16/32)
    except UnicodeDecodeError:
        raise MalformedJson("the request body is not UTF-8 text; send a JSON object") from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedJson("the request body is nested too deeply; flatten it") from None
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise MalformedJson("the request body holds a number too large to read") from None
