"""Reaching `*.localhost` names: RFC 6761 says they are loopback, but the system resolver may not know.

The sandbox hands out hostnames such as `shop-sandbox.turso.localhost:8787` and
`ab12cd34.shop.pages.localhost:8787`. Browsers and curl resolve them to 127.0.0.1 themselves; this
transport does the same for httpx, keeping the original Host header so the sandbox can route.
"""

from __future__ import annotations

import httpx


def is_localhost_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


class LoopbackTransport(httpx.BaseTransport):
    """Sends requests for `*.localhost` to 127.0.0.1; every other request goes out unchanged."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if is_localhost_name(request.url.host):
            request.headers["Host"] = request.url.netloc.decode("ascii")
            request.url = request.url.copy_with(host="127.0.0.1")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
