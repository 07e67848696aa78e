"""Stand-ins for the vendors behind the API gateway, for tests, benchmarks and local runs.

One ASGI app speaks just enough of each vendor's API: OpenAI chat completions (JSON and SSE, with
the final usage chunk when `stream_options.include_usage` is set), Anthropic messages (JSON and SSE
with `message_start` / `message_delta` usage), SendGrid mail send and subusers, Resend emails,
Twilio messages and subaccounts, and S3 `PUT` object. Usage is deterministic: a prompt costs one
token per word plus 3 per message, a reply is up to nine words of one token each.

Each request is kept in `UpstreamStandIn.requests` so tests can see what the gateway sent. A
refused key is echoed back in the error, as some vendors do, to prove the gateway hides it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

REPLY = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class UpstreamStandIn:
    """`keys`: the credentials each vendor accepts ("openai", "anthropic", "sendgrid", "resend",
    "twilio" as "SID:token", "s3" as an access key id)."""

    keys: dict[str, set[str]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    record: bool = True
    stream_delay: float = 0.0  # seconds between streamed words
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, path_prefix: str = "") -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def _accepts(self, vendor: str, credential: str) -> bool:
        allowed = self.keys.get(vendor)
        return allowed is None or credential in allowed

    async def _keep(self, request: Request) -> bytes:
        body = await request.body()
        if self.record:
            with self._lock:
                self.requests.append(Seen(request.method, request.url.path, dict(request.headers), body))
        return body

    # OpenAI ---------------------------------------------------------------------------------
    async def openai_chat(self, request: Request) -> Response:
        body = json.loads(await self._keep(request))
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self._accepts("openai", key):
            message = f"Incorrect API key provided: {key}. You can find your API key at the dashboard."
            return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, 401)
        if body.get("model") == "missing-model":
            return JSONResponse(
                {"error": {"message": "The model does not exist", "type": "invalid_request_error"}}, 404
            )
        prompt = sum(len(str(m.get("content", "")).split()) + 3 for m in body.get("messages", []))
        words = REPLY[: min(body.get("max_tokens") or body.get("max_completion_tokens") or 16, len(REPLY))]
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(words),
            "total_tokens": prompt + len(words),
        }
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": ident,
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": " ".join(words)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
                headers={
                    "x-request-id": ident,
                    "openai-organization": "org-platform-secret",
                    "set-cookie": "a=b",
                },
            )
        include_usage = (body.get("stream_options") or {}).get("include_usage") is True
        delay = self.stream_delay

        async def events() -> Any:
            for word in words:
                chunk = {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}],
                }
                yield f"data: {json.dumps(chunk)}\n\n".encode()
                if delay:
                    await asyncio.sleep(delay)
            if include_usage:
                final = {"id": ident, "object": "chat.completion.chunk", "choices": [], "usage": usage}
                yield f"data: {json.dumps(final)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    # Anthropic ------------------------------------------------------------------------------
    async def anthropic_messages(self, request: Request) -> Response:
        body = json.loads(await self._keep(request))
        key = request.headers.get("x-api-key", "")
        if not self._accepts("anthropic", key):
            message = f"invalid x-api-key: {key}"
            return JSONResponse(
                {"type": "error", "error": {"type": "authentication_error", "message": message}}, 401
            )
        prompt = sum(len(str(m.get("content", "")).split()) + 3 for m in body.get("messages", []))
        words = REPLY[: min(body.get("max_tokens", 16), len(REPLY))]
        ident = f"msg_{uuid.uuid4().hex[:12]}"
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": ident,
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model"),
                    "content": [{"type": "text", "text": " ".join(words)}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": prompt, "output_tokens": len(words)},
                }
            )
        delay = self.stream_delay

        def event(name: str, data: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

        async def events() -> Any:
            message = {
                "id": ident,
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": body.get("model"),
                "usage": {"input_tokens": prompt, "output_tokens": 1},
            }
            yield event("message_start", {"message": message})
            yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            for word in words:
                yield event(
                    "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": word + " "}}
                )
                if delay:
                    await asyncio.sleep(delay)
            yield event("content_block_stop", {"index": 0})
            yield event(
                "message_delta",
                {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": len(words)}},
            )
            yield event("message_stop", {})

        return StreamingResponse(events(), media_type="text/event-stream")

    # Email ----------------------------------------------------------------------------------
    async def sendgrid_send(self, request: Request) -> Response:
        await self._keep(request)
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self._accepts("sendgrid", key):
            return JSONResponse({"errors": [{"message": "The provided authorization grant is invalid"}]}, 401)
        return Response(status_code=202, headers={"x-message-id": f"sg-{uuid.uuid4().hex[:10]}"})

    async def sendgrid_subusers(self, request: Request) -> Response:
        body = json.loads(await self._keep(request))
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self._accepts("sendgrid", key):
            return JSONResponse({"errors": [{"message": "authorization required"}]}, 401)
        return JSONResponse(
            {
                "username": body["username"],
                "user_id": 1234,
                "email": body["email"],
                "signup_session_token": "",
                "authorization_token": "",
                "credit_allocation": {"type": "unlimited"},
            },
            201,
        )

    async def resend_send(self, request: Request) -> Response:
        await self._keep(request)
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not self._accepts("resend", key):
            return JSONResponse(
                {"statusCode": 401, "message": "API key is invalid", "name": "validation_error"}, 401
            )
        return JSONResponse({"id": str(uuid.uuid4())})

    # Twilio ---------------------------------------------------------------------------------
    def _twilio_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        try:
            credential = base64.b64decode(header.removeprefix("Basic ")).decode()
        except ValueError:
            return False
        return self._accepts("twilio", credential)

    async def twilio_message(self, request: Request) -> Response:
        await self._keep(request)
        if not self._twilio_ok(request):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        form = await request.form()
        text = str(form.get("Body", ""))
        segments = 1 if len(text) <= 160 else -(-len(text) // 153)
        sid = "SM" + uuid.uuid4().hex
        account = request.path_params["account"]
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": account,
                "to": form.get("To"),
                "from": form.get("From"),
                "body": text,
                "status": "queued",
                "num_segments": str(segments),
            },
            201,
        )

    async def twilio_accounts(self, request: Request) -> Response:
        await self._keep(request)
        if not self._twilio_ok(request):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)
        form = await request.form()
        sid = "AC" + uuid.uuid4().hex
        return JSONResponse(
            {
                "sid": sid,
                "friendly_name": form.get("FriendlyName"),
                "status": "active",
                "auth_token": uuid.uuid4().hex,
            },
            201,
        )

    # S3 -------------------------------------------------------------------------------------
    async def s3_put(self, request: Request) -> Response:
        body = await self._keep(request)
        authorization = request.headers.get("authorization", "")
        access_key = (
            authorization.split("Credential=")[-1].split("/")[0] if "Credential=" in authorization else ""
        )
        if not self._accepts("s3", access_key):
            return Response(
                b"<Error><Code>InvalidAccessKeyId</Code></Error>", 403, media_type="application/xml"
            )
        if request.headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
            return Response(b"<Error><Code>XAmzContentSHA256Mismatch</Code></Error>", 400)
        return Response(status_code=200, headers={"etag": f'"{hashlib.md5(body).hexdigest()}"'})  # noqa: S324

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.openai_chat, methods=["POST"]),
                Route("/v1/messages", self.anthropic_messages, methods=["POST"]),
                Route("/v3/mail/send", self.sendgrid_send, methods=["POST"]),
                Route("/v3/subusers", self.sendgrid_subusers, methods=["POST"]),
                Route("/emails", self.resend_send, methods=["POST"]),
                Route("/2010-04-01/Accounts.json", self.twilio_accounts, methods=["POST"]),
                Route("/2010-04-01/Accounts/{account}/Messages.json", self.twilio_message, methods=["POST"]),
                Route("/{bucket}/{key:path}", self.s3_put, methods=["PUT"]),
            ]
        )
