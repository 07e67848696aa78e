"""Stand-ins for the vendors behind the API gateway, for tests, benchmarks and local runs.

One ASGI app speaks just enough of each vendor's API: OpenAI chat completions (JSON and SSE; with
`stream_options.include_usage` every chunk carries `"usage": null` and a last chunk with no choices
carries the usage, as OpenAI's do), embeddings (float or base64) and the model list; Anthropic
messages (JSON and SSE with `message_start` / `message_delta` usage), token counting and the model
list; SendGrid mail send and subusers, Resend emails, Twilio messages and subaccounts, and S3 `PUT`
object. OpenAI and Anthropic share `/v1/models`: a request with an `anthropic-version` header gets
Anthropic's answer. Usage is deterministic: a prompt costs one token per word plus 3 per message,
a reply is up to nine words of one token each, an embedding input one token per word.

Each request is kept in `UpstreamStandIn.requests` so tests can see what the gateway sent. A
refused key is echoed back in the error, as some vendors do, to prove the gateway hides it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

REPLY = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]
EMBEDDING_SIZE = 8
OPENAI_MODELS = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small")
ANTHROPIC_MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5")
CREATED = 1_700_000_000  # a fixed creation time for the listed models


def _prompt_tokens(body: dict[str, Any]) -> int:
    return sum(len(str(m.get("content", "")).split()) + 3 for m in body.get("messages", []))


def _openai_error(
    message: str, status: int, kind: str = "invalid_request_error", code: str | None = None
) -> Response:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


def _anthropic_error(message: str, status: int, kind: str = "invalid_request_error") -> Response:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status)


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
        refused = self._openai_refusal(request)
        if refused is not None:
            return refused
        if body.get("model") == "missing-model":
            return _openai_error("The model does not exist", 404, code="model_not_found")
        prompt = _prompt_tokens(body)
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
                    "created": CREATED,
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
                chunk: dict[str, Any] = {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": CREATED,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}],
                }
                if include_usage:
                    chunk["usage"] = None
                yield f"data: {json.dumps(chunk)}\n\n".encode()
                if delay:
                    await asyncio.sleep(delay)
            if include_usage:
                final = {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": CREATED,
                    "model": body["model"],
                    "choices": [],
                    "usage": usage,
                }
                yield f"data: {json.dumps(final)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def _openai_refusal(self, request: Request) -> Response | None:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self._accepts("openai", key):
            return None
        message = f"Incorrect API key provided: {key}. You can find your API key at the dashboard."
        return _openai_error(message, 401, code="invalid_api_key")

    async def openai_embeddings(self, request: Request) -> Response:
        body = json.loads(await self._keep(request))
        refused = self._openai_refusal(request)
        if refused is not None:
            return refused
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts:
            return _openai_error("'input' must be a string or a non-empty array", 400)
        tokens = sum(len(str(text).split()) for text in texts)
        data = []
        for index, text in enumerate(texts):
            digest = hashlib.sha256(str(text).encode()).digest()
            vector = [(byte - 128) / 128 for byte in digest[:EMBEDDING_SIZE]]
            embedding: list[float] | str = vector
            if body.get("encoding_format") == "base64":  # little-endian float32, as OpenAI sends
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def models(self, request: Request) -> Response:
        await self._keep(request)
        if "anthropic-version" in request.headers:
            refused = self._anthropic_refusal(request)
            if refused is not None:
                return refused
            listed = [self._anthropic_model(name) for name in ANTHROPIC_MODELS]
            return JSONResponse(
                {"data": listed, "has_more": False, "first_id": listed[0]["id"], "last_id": listed[-1]["id"]}
            )
        refused = self._openai_refusal(request)
        if refused is not None:
            return refused
        return JSONResponse({"object": "list", "data": [self._openai_model(name) for name in OPENAI_MODELS]})

    async def model(self, request: Request) -> Response:
        await self._keep(request)
        name = request.path_params["model"]
        if "anthropic-version" in request.headers:
            refused = self._anthropic_refusal(request)
            if refused is not None:
                return refused
            if name not in ANTHROPIC_MODELS:
                return _anthropic_error(f"model: {name}", 404, "not_found_error")
            return JSONResponse(self._anthropic_model(name))
        refused = self._openai_refusal(request)
        if refused is not None:
            return refused
        if name not in OPENAI_MODELS:
            return _openai_error(f"The model '{name}' does not exist", 404, code="model_not_found")
        return JSONResponse(self._openai_model(name))

    @staticmethod
    def _openai_model(name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": CREATED, "owned_by": "system"}

    @staticmethod
    def _anthropic_model(name: str) -> dict[str, Any]:
        return {"type": "model", "id": name, "display_name": name, "created_at": "2025-09-29T00:00:00Z"}

    # Anthropic ------------------------------------------------------------------------------
    def _anthropic_refusal(self, request: Request) -> Response | None:
        # Anthropic takes the key as x-api-key or, as its SDK now sends it, Authorization: Bearer.
        key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if self._accepts("anthropic", key):
            return None
        return _anthropic_error(f"invalid x-api-key: {key}", 401, "authentication_error")

    async def anthropic_count_tokens(self, request: Request) -> Response:
        body = json.loads(await self._keep(request))
        refused = self._anthropic_refusal(request)
        if refused is not None:
            return refused
        if not isinstance(body.get("model"), str):
            return _anthropic_error("model: Field required", 400)
        return JSONResponse({"input_tokens": _prompt_tokens(body)})

    async def anthropic_messages(self, request: Request) -> Response:
        body = json.loads(await self._keep(request))
        refused = self._anthropic_refusal(request)
        if refused is not None:
            return refused
        prompt = _prompt_tokens(body)
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
                Route("/v1/embeddings", self.openai_embeddings, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/v1/models/{model}", self.model, methods=["GET"]),
                Route("/v1/messages", self.anthropic_messages, methods=["POST"]),
                Route("/v1/messages/count_tokens", self.anthropic_count_tokens, methods=["POST"]),
                Route("/v3/mail/send", self.sendgrid_send, methods=["POST"]),
                Route("/v3/subusers", self.sendgrid_subusers, methods=["POST"]),
                Route("/emails", self.resend_send, methods=["POST"]),
                Route("/2010-04-01/Accounts.json", self.twilio_accounts, methods=["POST"]),
                Route("/2010-04-01/Accounts/{account}/Messages.json", self.twilio_message, methods=["POST"]),
                Route("/{bucket}/{key:path}", self.s3_put, methods=["PUT"]),
            ]
        )
