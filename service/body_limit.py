"""Request bodies are capped before anything reads them: a JSON request at 1 MiB, an upload at the
upload limit. A body over its cap is answered 413 (JSON naming the limit) without being read whole.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import OneclickError

JSON_BODY_BYTES = 1 << 20


class BodyTooLarge(OneclickError):
    pass


class BodyLimit:
    """Pure ASGI middleware: `upload_prefix` routes may send `upload_bytes`, the rest `json_bytes`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        upload_bytes: int,
        json_bytes: int = JSON_BODY_BYTES,
        upload_prefix: str = "/api/uploads",
    ) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.json_bytes = json_bytes
        self.upload_prefix = upload_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (
            self.upload_bytes
            if str(scope.get("path", "")).startswith(self.upload_prefix)
            else self.json_bytes
        )
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        # Read (at most `limit` bytes of) the body first, then hand it to the app in one piece.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        payload = json.dumps(
            {
                "error": {
                    "code": "too_large",
                    "message": f"the request body is larger than {limit} bytes",
                    "field": "(body)",
                    "fix": "send less: large files go through POST /api/uploads, within its limit",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
