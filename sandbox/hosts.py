"""Host-based routing: one port serves the vendor APIs and the data planes behind `*.localhost` names.

Real vendors give each database and each site a hostname of its own (`<db>-<org>.turso.io`,
`<hash>.<project>.pages.dev`). The sandbox hands out `*.localhost:<port>` names instead (RFC 6761:
they always mean this machine) and picks the ASGI app that serves a request by its Host header.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

# A host matcher returns the app serving that host, or None when the host is not its business.
HostMatcher = Callable[[str], ASGIApp | None]


def request_host(scope: Scope) -> str:
    """The Host header without its port, lowercased ('' when absent)."""
    for key, value in scope.get("headers", []):
        if key == b"host":
            host: str = value.decode("latin-1").lower()
            if host.startswith("["):
                return host.split("]", 1)[0] + "]"
            return host.rsplit(":", 1)[0] if ":" in host else host
    return ""


class HostDispatch:
    """ASGI middleware: the first matcher that claims the Host serves it, else the default app.
    WebSocket requests consult `websocket_matchers` only (the planes that speak WebSocket)."""

    def __init__(
        self,
        default: ASGIApp,
        matchers: list[HostMatcher],
        websocket_matchers: list[HostMatcher] | None = None,
    ) -> None:
        self.default = default
        self.matchers = matchers
        self.websocket_matchers = websocket_matchers or []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matchers = {"http": self.matchers, "websocket": self.websocket_matchers}.get(scope["type"])
        if matchers:
            host = request_host(scope)
            for matcher in matchers:
                app = matcher(host)
                if app is not None:
                    await app(scope, receive, send)
                    return
        await self.default(scope, receive, send)
