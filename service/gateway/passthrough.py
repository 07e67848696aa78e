"""Vendor routes that cost nothing, relayed unmetered: the model lists and Anthropic's token count.

`GET /v1/models` and `GET /v1/models/{id}` (OpenAI and Anthropic) and Anthropic's
`POST /v1/messages/count_tokens` are free at the vendors, and SDKs call them (`client.models.list()`,
`client.messages.count_tokens(...)`), so they are forwarded with the same credentials as the metered
calls (the platform's key, or a BYO caller's own) and record no usage. Only these paths are
relayed: a model id is one path segment of the characters model ids use, so no `..` or `%2F` can
turn a relayed path into another vendor endpoint.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from service.gateway.errors import BadRequest, NotFound
from service.gateway.proxy import relayed_headers, unless_caller_leaves
from service.gateway.requests import JSON, authenticate, parse_json, read_body
from service.gateway.state import gateway_of
from service.gateway.upstreams import FORWARD_HEADERS, rejected_credentials
from service.gateway.vendor_auth import llm_credentials

COUNT_TOKENS = "v1/messages/count_tokens"
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,255}")
# Query strings of the list endpoints (limit, after_id, before_id): plain URL-encoded pairs only.
_QUERY = re.compile(rb"[A-Za-z0-9._~%=&+-]{0,2048}")


def is_passthrough(service: str, method: str, endpoint: str) -> bool:
    """Whether `method endpoint` of `service` is relayed unmetered."""
    if method == "POST":
        return service == "anthropic" and endpoint == COUNT_TOKENS
    if method != "GET":
        return False
    if endpoint == "v1/models":
        return True
    prefix, _, model = endpoint.partition("v1/models/")
    return not prefix and _MODEL_ID.fullmatch(model) is not None


async def relay(request: Request) -> Response:
    service = request.url.path.split("/")[3]  # /api/proxy/<service>/...
    endpoint = request.url.path.split("/", 4)[4]
    if not is_passthrough(service, request.method, endpoint):
        raise NotFound(
            f"{request.method} /api/proxy/{service}/{endpoint[:200]} is not relayed: model ids are "
            "letters, digits and . _ : @ -"
        )
    gateway = gateway_of(request)
    key = await authenticate(request)
    query: bytes = request.scope.get("query_string", b"")
    if _QUERY.fullmatch(query) is None:
        raise BadRequest("the query string may hold only URL-encoded name=value pairs")
    body = b""
    if request.method == "POST":
        body = await read_body(request, gateway.settings.max_body_bytes)
        if not isinstance(parse_json(body), dict):
            raise BadRequest("the request body must be a JSON object")
    base_url, auth = llm_credentials(gateway, key, service, request)
    headers = {name: request.headers[name] for name in FORWARD_HEADERS if name in request.headers}
    if service == "anthropic":
        headers.setdefault("anthropic-version", "2023-06-01")
    headers.update(auth)
    if body:
        headers["content-type"] = JSON
    url = f"{base_url}/{endpoint}" + (f"?{query.decode()}" if query else "")
    upstream = await unless_caller_leaves(
        request, gateway.upstream(service).send(request.method, url, headers, body)
    )
    if upstream.status in (401, 403) and not key.byo:
        raise rejected_credentials(service, upstream.status)
    return Response(gateway.scrub(upstream.body), upstream.status, headers=relayed_headers(upstream))
