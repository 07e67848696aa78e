"""Errors a caller can cause or meet, each with its HTTP status and a message that says the fix.

Every message is written here, by us: none carries an upstream's text or an exception's repr, so
no platform credential can reach a client through an error.
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import OneclickError, UserError


class BillingError(UserError, ValueError):
    """A billing operation (Python API or CLI, not HTTP) cannot be done as asked; says why and what to do."""


class GatewayError(OneclickError):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> bytes:
        return json.dumps({"error": {"type": self.code, "message": self.message, **self.details}}).encode()

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(GatewayError):
    pass


class MalformedJson(GatewayError):
    code = "malformed_json"


class Unauthorized(GatewayError):
    status = 401
    code = "invalid_gateway_key"


class PaymentRequired(GatewayError):
    status = 402
    code = "payment_required"


class SpendLimitReached(GatewayError):
    status = 402
    code = "spend_limit_reached"


class SenderNotVerified(GatewayError):
    status = 403
    code = "sender_not_verified"


class NotFound(GatewayError):
    status = 404
    code = "unknown_route"


class MethodNotAllowed(GatewayError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "payload_too_large"


class TooManyFailedKeys(GatewayError):
    status = 429
    code = "too_many_failed_keys"

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.details.get("retry_after_seconds", 60))}


class CallerLeft(GatewayError):
    """The caller disconnected before the upstream answered (nobody reads this answer)."""

    status = 499
    code = "caller_left"


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "unsupported_media_type"


class ServiceNotOffered(GatewayError):
    status = 503
    code = "service_not_offered"


class UpstreamFailed(GatewayError):
    status = 502
    code = "upstream_error"


class UpstreamTimeout(GatewayError):
    status = 504
    code = "upstream_timeout"
