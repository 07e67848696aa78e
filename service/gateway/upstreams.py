"""Forwarding to the vendors: pooled connections, header hygiene, key scrubbing, SSE relay.

What goes back to a caller is filtered: an allow-list of upstream headers, bodies with every
platform credential replaced, and for a rejected platform credential (401/403) no upstream body at
all, since vendors echo part of the key they refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from service.gateway.connections import UpstreamConnectionError, UpstreamPool, UpstreamResponse
from service.gateway.errors import UpstreamFailed, UpstreamTimeout

log = logging.getLogger("oneclick.gateway.upstream")

# Upstream response headers a caller may see; everything else (cookies, org ids …) stays here.
_PASS_HEADERS = frozenset(
    {"content-type", "x-request-id", "request-id", "openai-processing-ms", "retry-after", "cache-control"}
)
_PASS_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
# Caller request headers forwarded to LLM vendors (auth is set by the gateway).
FORWARD_HEADERS = ("accept", "anthropic-version", "anthropic-beta", "openai-beta")

REDACTED = b"[redacted]"


class Upstream:
    """One vendor: calls through the gateway's HTTP client (connections.py), failures as our errors."""

    def __init__(self, service: str, timeout: float) -> None:
        self.service = service
        self._pool = UpstreamPool(read_timeout=timeout)

    async def send(
        self, method: str, url: str, headers: dict[str, str], content: bytes, *, stream: bool = False
    ) -> UpstreamResponse:
        """Unless `stream`, the body is read and the connection back in the pool on return.

        Failures become our own errors, never the exception's text (it could hold a URL)."""
        try:
            return await self._pool.request(method, url, headers, content, stream=stream)
        except UpstreamConnectionError as exc:
            log.warning("upstream %s: %s", self.service, "timed out" if exc.timeout else "unreachable")
            if exc.timeout:
                raise UpstreamTimeout(f"{self.service} did not answer in time; try again") from None
            raise UpstreamFailed(f"{self.service} could not be reached; try again") from None

    async def aclose(self) -> None:
        self._pool.close()


def response_headers(upstream: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [
        (name.encode(), value.encode())
        for name, value in upstream
        if name in _PASS_HEADERS or name.startswith(_PASS_PREFIXES)
    ]


class Scrubber:
    """Replaces every platform credential in bytes bound for a caller."""

    def __init__(self, secrets: list[str]) -> None:
        self.needles = sorted({s.encode() for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, data: bytes) -> bytes:
        for needle in self.needles:
            if needle in data:
                data = data.replace(needle, REDACTED)
        return data

    def stream(self) -> StreamScrubber:
        return StreamScrubber(self)


class StreamScrubber:
    """Scrubs a body sent in pieces, so a credential split across two chunks is caught too.

    The end of a chunk that could be the start of a credential is held back until the next chunk
    shows whether it is one. Ordinary chunks (SSE events end in a newline) are passed on whole.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        self._scrub = scrubber
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._scrub(self._held + chunk)
        keep = self._partial_tail(data)
        self._held = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep]

    def end(self) -> bytes:
        """What is still held at the end of the body; a long start of a credential is redacted."""
        held, self._held = self._held, b""
        return REDACTED if len(held) >= 8 else held

    def _partial_tail(self, data: bytes) -> int:
        """The length of the longest end of `data` that begins some credential (0 if none)."""
        longest = 0
        for needle in self._scrub.needles:
            window = data[-(len(needle) - 1) :]
            start = window.find(needle[:1])
            while start != -1 and len(window) - start > longest:  # later starts are shorter
                if needle.startswith(window[start:]):
                    longest = len(window) - start
                    break
                start = window.find(needle[:1], start + 1)
        return longest


def rejected_credentials(service: str, status: int) -> UpstreamFailed:
    log.error("upstream %s rejected the platform credentials (status %d)", service, status)
    return UpstreamFailed(
        f"{service} refused the platform's credentials (status {status}); "
        "this is on our side and has been logged"
    )


class RelayResponse:
    """Streams an upstream SSE response to the caller chunk by chunk.

    `on_chunk` sees every chunk (to read usage) and returns what of it to relay; `on_last()` returns
    what it still held when the upstream's body ended. `on_end(complete)` runs exactly once, before
    the caller's response is closed when the stream completed, or as soon as it is cut short (caller
    gone, upstream error, cancellation). It must be synchronous: it also runs during cancellation.
    """

    def __init__(
        self,
        upstream: UpstreamResponse,
        on_chunk: Callable[[bytes], bytes],
        on_last: Callable[[], bytes],
        on_end: Callable[[bool], None],
        scrub: Scrubber,
    ) -> None:
        self.upstream = upstream
        self.on_chunk = on_chunk
        self.on_last = on_last
        self.on_end = on_end
        self.scrub = scrub.stream()
        self._ended = False

    def _end(self, complete: bool) -> None:
        if not self._ended:
            self._ended = True
            self.on_end(complete)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch_disconnect, receive, group.cancel_scope)
                await self._relay(send)
                group.cancel_scope.cancel()
        finally:
            self._end(False)
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()

    async def _relay(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.upstream.status,
                "headers": response_headers(self.upstream.headers),
            }
        )
        try:
            async for chunk in self.upstream.aiter_raw():
                scrubbed = self.scrub.feed(self.on_chunk(chunk))
                if scrubbed:
                    await send({"type": "http.response.body", "body": scrubbed, "more_body": True})
        except UpstreamConnectionError as exc:
            log.warning("upstream stream broke off (%s)", "timed out" if exc.timeout else "connection lost")
            return  # the caller sees a truncated stream; usage is settled from what passed
        last = self.scrub.feed(self.on_last()) + self.scrub.end()
        self._end(True)  # journaled before the caller sees the end of the stream
        await send({"type": "http.response.body", "body": last, "more_body": False})

    @staticmethod
    async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "http.disconnect":
                scope.cancel()
                return
