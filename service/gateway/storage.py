"""Uploads to the platform's S3-compatible bucket (S3, R2), signed with AWS Signature Version 4.

Each user's objects live under `<user_id>/<app_id>/` in the bucket: the scoping the plan asks of
per-user credentials, enforced by the gateway instead of by IAM.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from urllib.parse import quote

from service.gateway.errors import BadRequest

_KEY = re.compile(r"^[A-Za-z0-9!\-_.*'()/ ]{1,900}$")


def object_key(user_id: str, app_id: str, key: str | None) -> str:
    if not key:
        raise BadRequest("key: required query parameter, e.g. ?key=images/logo.png", field="key")
    if not _KEY.match(key) or key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise BadRequest(
            f"key: {key!r} is not an allowed object name (letters, digits, !-_.*'() and / between parts)",
            field="key",
        )
    return f"{user_id}/{app_id}/{key}"


def quote_path(path: str) -> str:
    """The URI encoding S3 signs and expects: every byte but unreserved ones and "/" escaped."""
    return quote(path, safe="/-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign_v4(
    method: str,
    host: str,
    path: str,
    payload: bytes,
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str = "s3",
    now: datetime | None = None,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers (Authorization, x-amz-date, x-amz-content-sha256, host, and any extra headers, all
    signed) for a request without a query string."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    payload_hash = hashlib.sha256(payload).hexdigest()
    headers = {name.lower(): value.strip() for name, value in (extra_headers or {}).items()}
    headers.update({"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date})
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            quote_path(path),
            "",
            "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
            signed,
            payload_hash,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret_access_key).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return headers
