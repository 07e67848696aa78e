"""What an OpenAI- or Anthropic-style call may cost at most, and what it did cost (JSON and SSE).

The maximum is an upper bound, because the spend limit is checked against it:
- input tokens ≤ the request body's size in bytes (every token covers at least one byte of text,
  and the JSON around the text is larger than the per-message overhead), plus an allowance per
  image, whose tokens do not come from the body's bytes when it is given by URL;
- output tokens ≤ max_tokens (or its newer names) times n, or a configured default when absent.
The real count comes from the response's `usage`, or for a stream from its final usage chunk
(OpenAI, with `stream_options.include_usage`, which the gateway turns on) or from the
`message_start` / `message_delta` events (Anthropic). A usage chunk the gateway asked for and the
caller did not is metered and then left out of the caller's stream: OpenAI's SDK loops read
`chunk.choices[0]`, and that chunk has no choices. A count that is not a non-negative whole
number is refused (`InvalidUsage`): the call is then billed at its reserved maximum, as when the
usage is missing, so an upstream's negative count cannot lower anyone's spend.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.errors import OneclickError
from service.gateway.errors import BadRequest, NotFound

IMAGE_TOKEN_ALLOWANCE = 2000
# Bounds on the request fields the maximum cost is computed from: larger values are refused with a
# 400 (no model allows as much), which keeps every amount inside the database's number types.
MAX_OUTPUT_TOKENS = 10_000_000
MAX_CHOICES = 128
_MAX_LINE = 1 << 20  # bytes of an unfinished SSE line kept while waiting for its end
# An image part: OpenAI's `"image_url": {...}`, Anthropic's `"type": "image"`.
_IMAGE_PART = re.compile(rb'"image_url"\s*:|"type"\s*:\s*"image"')
# OpenAI sends `"usage": null` in every chunk of a stream with include_usage: nothing to read there.
_NULL_USAGE = re.compile(rb'"usage"\s*:\s*null')

OPENAI_ENDPOINTS = ("v1/chat/completions", "v1/completions", "v1/embeddings", "v1/responses")
ANTHROPIC_ENDPOINTS = ("v1/messages",)
_INCLUDE_USAGE = ("v1/chat/completions", "v1/completions")


@dataclass(frozen=True, slots=True)
class LlmCall:
    endpoint: str
    model: str | None
    stream: bool
    max_input_tokens: int
    max_output_tokens: int
    body: bytes  # what to forward (the caller's, or re-encoded when the gateway changed it)
    hide_usage_chunk: bool = False  # the gateway, not the caller, asked for the stream's usage chunk

    @property
    def max_tokens(self) -> int:
        return self.max_input_tokens + self.max_output_tokens


class InvalidUsage(OneclickError, ValueError):
    """An upstream reported a token count that is not a non-negative whole number."""


def _positive_int(body: dict[str, Any], *names: str, most: int) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadRequest(f"{name}: must be a non-negative integer, got {_short(value)}", field=name)
        if value > most:
            raise BadRequest(f"{name}: at most {most}, got {_short(value)}", field=name)
        return value
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def inspect_call(service: str, endpoint: str, raw: bytes, body: Any, default_max_output: int) -> LlmCall:
    """Validate just enough of the request to bound its cost; the upstream validates the rest."""
    endpoints = OPENAI_ENDPOINTS if service == "openai" else ANTHROPIC_ENDPOINTS
    if endpoint not in endpoints:
        raise NotFound(
            f"/api/proxy/{service}/{endpoint} is not a metered {service} endpoint; "
            f"supported: {', '.join(f'/api/proxy/{service}/{e}' for e in endpoints)}"
        )
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model: required (a model name string)", field="model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream: must be true or false", field="stream")
    if endpoint == "v1/embeddings":
        max_output = 0
    else:
        named = _positive_int(
            body, "max_completion_tokens", "max_tokens", "max_output_tokens", most=MAX_OUTPUT_TOKENS
        )
        max_output = default_max_output if named is None else named
        choices = _positive_int(body, "n", most=MAX_CHOICES)
        max_output *= max(choices or 1, 1)
    max_input = len(raw) + IMAGE_TOKEN_ALLOWANCE * len(_IMAGE_PART.findall(raw))
    hide_usage_chunk = False
    if stream and service == "openai" and endpoint in _INCLUDE_USAGE:
        options = body.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise BadRequest("stream_options: must be an object", field="stream_options")
        if not options or options.get("include_usage") is not True:
            # Metering needs the usage chunk; the caller sees it only if they asked (true).
            hide_usage_chunk = True
            body["stream_options"] = {**(options or {}), "include_usage": True}
            try:
                raw = json.dumps(body).encode()
            except (RecursionError, ValueError):
                raise BadRequest("the request body is nested too deeply; flatten it") from None
    return LlmCall(endpoint, model, stream, max_input, max_output, raw, hide_usage_chunk)


def _count(usage: dict[str, Any], name: str) -> int | None:
    value = usage.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidUsage(f"usage.{name} is {_short(value)}")
    return value


def usage_tokens(service: str, payload: Any) -> int | None:
    """Total tokens in a non-streamed response body (parsed JSON), if it says.

    Raises `InvalidUsage` for a count that is negative or not a whole number."""
    if not isinstance(payload, dict):
        return None
    usage = payload.get("usage")
    if service == "openai" and not isinstance(usage, dict):
        response = payload.get("response")  # Responses API stream event: response.completed
        usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return None
    if service == "openai":
        total = _count(usage, "total_tokens")
        parts = ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens")
    else:
        total = None
        parts = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    counted = [v for v in (_count(usage, p) for p in parts) if v is not None]
    if total is None:
        return sum(counted) if counted else None
    return max(total, sum(counted))  # a total below its own parts is not believed


def _may_hold_usage(line: bytes) -> bool:
    mentions = line.count(b'"usage"')  # inside a JSON string it would be escaped: only keys count
    return mentions > 1 or (mentions == 1 and _NULL_USAGE.search(line) is None)


class StreamMeter:
    """Reads usage out of an SSE stream as its chunks pass by, without holding the stream.

    Only `data:` lines that mention usage are parsed; the rest is counted (one content event is about
    one token), which is the estimate used when a stream ends before its usage arrives.

    `feed` returns what to relay: the chunk itself, or with `hide_usage_chunk` the complete lines
    of what arrived less the usage-only event (its `data:` line and the blank line ending it); an
    unfinished line is then held until its end arrives, or `end()`.
    """

    def __init__(self, service: str, *, hide_usage_chunk: bool = False) -> None:
        self.service = service
        self.hide_usage_chunk = hide_usage_chunk
        self._buffer = b""
        self._skip_blank = False  # the usage event's data line was dropped: drop its blank line too
        self.events = 0
        self.total: int | None = None
        self.invalid = False  # a usage count was negative or not a whole number
        # Anthropic reports input at the start and (cumulative) output at each message_delta.
        self._anthropic_input = 0
        self._anthropic_output = 0
        self._anthropic_seen = False

    def feed(self, chunk: bytes) -> bytes:
        data = self._buffer + chunk
        lines = data.split(b"\n")
        self._buffer = lines.pop()
        passed = b""
        if len(self._buffer) > _MAX_LINE:  # no usage line is this long: do not hold it
            passed, self._buffer = self._buffer, b""
        if not self.hide_usage_chunk:
            for line in lines:
                if line.startswith(b"data:"):
                    self.events += 1
                    if _may_hold_usage(line):
                        self._parse(line[5:].strip())
            return chunk
        kept: list[bytes] = []
        for line in lines:
            if self._skip_blank and not line.strip():
                self._skip_blank = False
                continue
            self._skip_blank = False
            if line.startswith(b"data:"):
                self.events += 1
                if _may_hold_usage(line) and self._parse(line[5:].strip()):
                    self._skip_blank = True
                    continue
            kept.append(line)
        return (b"\n".join(kept) + b"\n" if kept else b"") + passed

    def end(self) -> bytes:
        """What is still held when the stream ends (only with `hide_usage_chunk`)."""
        held, self._buffer = self._buffer, b""
        return held if self.hide_usage_chunk else b""

    def _parse(self, data: bytes) -> bool:
        """Reads the usage in one event; True if the event is a usage-only chunk (no choices)."""
        try:
            event = json.loads(data)
        except RecursionError:  # a usage event nested past reading: its count is unknown
            self.invalid = True
            return False
        except ValueError:
            return False
        if not isinstance(event, dict):
            return False
        try:
            self._read_usage(event)
        except InvalidUsage:
            self.invalid = True
        return event.get("choices") == [] and isinstance(event.get("usage"), dict)

    def _read_usage(self, event: dict[str, Any]) -> None:
        if self.service == "openai":
            tokens = usage_tokens("openai", event)
            if tokens is not None:
                self.total = tokens
            return
        message = event.get("message")
        usage = (message.get("usage") if isinstance(message, dict) else None) or event.get("usage")
        if not isinstance(usage, dict):
            return
        self._anthropic_seen = True
        inputs = [
            _count(usage, k)
            for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        ]
        counted_input = sum(v for v in inputs if v is not None)
        if counted_input:
            self._anthropic_input = counted_input
        output = _count(usage, "output_tokens")
        if output is not None:
            self._anthropic_output = output
        if event.get("type") == "message_delta":
            self.total = self._anthropic_input + self._anthropic_output

    def estimate(self, fallback_input: int) -> int:
        """Tokens for a stream that ended early: what it reported so far, else events seen."""
        if self.total is not None:
            return self.total
        if self._anthropic_seen:
            return self._anthropic_input + max(self._anthropic_output, self.events)
        return fallback_input + self.events
