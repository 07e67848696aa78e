"""Errors a caller can cause or meet, each with its HTTP status and a message that says the fix.

Every message is written here, by us: none carries an upstream's text or an exception's repr, so
no platform credential can reach a client through an error.

On the OpenAI and Anthropic routes an error is written in that vendor's shape (`Style`), so the
vendor's own SDK raises its usual exception class with its fields filled in:
- OpenAI: `{"error": {"message", "type", "param", "code"}}`, `code` being ours (e.g.
  `spend_limit_reached`), `param` the request field at fault;
- Anthropic: `{"type": "error", "error": {"type", "message", "details": {"error_code"}}}`, the SDK's
  `error_code`.
A vendor's status can differ from ours where its SDKs expect another: a spent limit is a 429
(OpenAI's `insufficient_quota`, Anthropic's spend-limit `rate_limit_error`), billing not set up is
OpenAI's 429 and Anthropic's 402 `billing_error`. Refusals that retrying cannot cure carry
`x-should-retry: false`, which both SDKs obey instead of retrying a 429 or 5xx. Every other route
keeps the gateway's own shape: `{"error": {"type", "code", "message", ...details}}`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from core.errors import OneclickError, UserError

Style = Literal["gateway", "openai", "anthropic"]

_OPENAI_PREFIX = "/api/proxy/openai/"
_ANTHROPIC_PREFIX = "/api/proxy/anthropic/"


def style_of(path: str) -> Style:
    """The error shape callers of `path` expect: their vendor's on the LLM routes."""
    if path.startswith(_OPENAI_PREFIX):
        return "openai"
    if path.startswith(_ANTHROPIC_PREFIX):
        return "anthropic"
    return "gateway"


class BillingError(UserError, ValueError):
    """A billing operation (Python API or CLI, not HTTP) cannot be done as asked; says why and what to do."""


class GatewayError(OneclickError):
    status = 400
    code = "invalid_request"
    # The vendors' names for this kind of error, and their statuses where they differ from ours.
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    openai_status: int | None = None
    anthropic_status: int | None = None
    retryable = True  # False: the same request cannot succeed soon (told to SDKs by x-should-retry)

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def status_for(self, style: Style = "gateway") -> int:
        if style == "openai" and self.openai_status is not None:
            return self.openai_status
        if style == "anthropic" and self.anthropic_status is not None:
            return self.anthropic_status
        return self.status

    def body(self, style: Style = "gateway") -> bytes:
        if style == "openai":
            error: dict[str, Any] = {
                "message": self.message,
                "type": self.openai_type,
                "param": self.details.get("field"),
                "code": self.code,
                **self.details,
            }
            return json.dumps({"error": error}).encode()
        if style == "anthropic":
            details = {"error_code": self.code, **self.details}
            error = {"type": self.anthropic_type, "message": self.message, "details": details}
            return json.dumps({"type": "error", "error": error}).encode()
        return json.dumps(
            {"error": {"type": self.code, "code": self.code, "message": self.message, **self.details}}
        ).encode()

    def headers(self, style: Style = "gateway") -> dict[str, str]:
        if style != "gateway" and not self.retryable:
            return {"x-should-retry": "false"}
        return {}


class BadRequest(GatewayError):
    retryable = False


class MalformedJson(GatewayError):
    code = "malformed_json"
    retryable = False


class Unauthorized(GatewayError):
    status = 401
    code = "invalid_gateway_key"
    anthropic_type = "authentication_error"
    retryable = False


class PaymentRequired(GatewayError):
    status = 402
    code = "payment_required"
    openai_type = "insufficient_quota"
    openai_status = 429
    anthropic_type = "billing_error"
    retryable = False


class SpendLimitReached(GatewayError):
    status = 402
    code = "spend_limit_reached"
    openai_type = "insufficient_quota"
    openai_status = 429
    anthropic_type = "rate_limit_error"
    anthropic_status = 429
    retryable = False


class SenderNotVerified(GatewayError):
    status = 403
    code = "sender_not_verified"
    anthropic_type = "permission_error"
    retryable = False


class NotFound(GatewayError):
    status = 404
    code = "unknown_route"
    anthropic_type = "not_found_error"
    retryable = False


class MethodNotAllowed(GatewayError):
    status = 405
    code = "method_not_allowed"
    retryable = False


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"
    anthropic_type = "request_too_large"
    retryable = False


class TooManyFailedKeys(GatewayError):
    status = 429
    code = "too_many_failed_keys"
    openai_type = "requests"
    anthropic_type = "rate_limit_error"

    def headers(self, style: Style = "gateway") -> dict[str, str]:
        return {"retry-after": str(self.details.get("retry_after_seconds", 60))}


class CallerLeft(GatewayError):
    """The caller disconnected before the upstream answered (nobody reads this answer)."""

    status = 499
    code = "caller_left"


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "unsupported_media_type"
    retryable = False


class ServerFault(GatewayError):
    """A 5xx: ours or an upstream's, never the caller's; both vendors' SDKs read it as a server error."""

    status = 500
    openai_type = "server_error"
    anthropic_type = "api_error"


class InternalError(ServerFault):
    """A fault of ours; the traceback is in our log, never in the answer."""

    code = "internal_error"


class ServiceNotOffered(ServerFault):
    status = 503
    code = "service_not_offered"
    retryable = False


class DatabaseUnavailable(ServerFault):
    status = 503
    code = "service_unavailable"

    def headers(self, style: Style = "gateway") -> dict[str, str]:
        return {"retry-after": "5"}


class UpstreamFailed(ServerFault):
    status = 502
    code = "upstream_error"


class UpstreamTimeout(ServerFault):
    status = 504
    code = "upstream_timeout"
    anthropic_type = "timeout_error"
