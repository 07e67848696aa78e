"""Shared HTTP behaviour of the vendor clients: retries with backoff and clear vendor errors."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Collection
from typing import Any, ClassVar, Self

import httpx

from core.errors import OneclickError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_DELAY = 30.0


class VendorError(OneclickError):
    """A vendor API refused a request. Never carries credentials: only status and message."""

    def __init__(self, vendor: str, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.vendor = vendor
        self.status = status
        self.message = message
        where = f" ({method} {path})" if method else ""
        super().__init__(f"{vendor} API error {status}{where}: {message}")


class VendorAuthError(VendorError):
    """401/403: the token is wrong, expired or lacks a permission."""


class VendorNotFound(VendorError):
    """404: the resource does not exist."""


class VendorConflict(VendorError):
    """409: the resource already exists or is in a conflicting state."""


class VendorUnavailable(VendorError):
    """The vendor could not be reached, or kept failing after every retry."""


def error_message(response: httpx.Response) -> str:
    """The human message from any of the vendors' error envelopes."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            return str(body["error"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
    return str(body)[:500]


def retry_delay(response: httpx.Response | None, attempt: int, base: float) -> float:
    """Honour Retry-After (seconds or HTTP date); otherwise exponential backoff with jitter."""
    if response is not None:
        header = response.headers.get("retry-after")
        if header:
            try:
                return min(max(float(header), 0.0), MAX_RETRY_DELAY)
            except ValueError:
                when = email.utils.parsedate_to_datetime(header)
                if when is not None:
                    return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_DELAY)
    return float(min(base * (2**attempt) * (0.5 + random.random()), MAX_RETRY_DELAY))


def raise_for_vendor(vendor: str, response: httpx.Response) -> None:
    if response.is_success:
        return
    kind: type[VendorError] = VendorError
    if response.status_code in (401, 403):
        kind = VendorAuthError
    elif response.status_code == 404:
        kind = VendorNotFound
    elif response.status_code == 409:
        kind = VendorConflict
    elif response.status_code in RETRY_STATUSES:
        kind = VendorUnavailable
    raise kind(
        vendor,
        response.status_code,
        error_message(response),
        method=response.request.method,
        path=response.request.url.path,
    )


def send(
    client: httpx.Client,
    vendor: str,
    method: str,
    path: str,
    *,
    retries: int = 4,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    retry_statuses: Collection[int] = RETRY_STATUSES,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request, retrying 429/5xx and connection failures; raise VendorError on failure.

    `retry_statuses` lets a vendor add its own transient statuses (Neon: 423 while operations run).
    """
    for attempt in range(retries + 1):
        try:
            response = client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the server, so even a POST is safe to send again.
            if attempt == retries:
                raise VendorUnavailable(
                    vendor, 0, f"cannot connect to {client.base_url}: {exc}", method=method, path=path
                ) from None
            sleep(retry_delay(None, attempt, backoff))
            continue
        except httpx.TimeoutException:
            raise VendorUnavailable(vendor, 0, "the request timed out", method=method, path=path) from None
        if response.status_code in retry_statuses and attempt < retries:
            sleep(retry_delay(response, attempt, backoff))
            continue
        raise_for_vendor(vendor, response)
        return response
    raise AssertionError("unreachable")


class VendorClient:
    """The HTTP set-up every vendor client shares: base URL, bearer token (only ever a header),
    retries and their back-off, and closing. A vendor client subclasses it and names VENDOR."""

    VENDOR: ClassVar[str]
    RETRY_STATUSES: ClassVar[Collection[int]] = RETRY_STATUSES

    def __init__(
        self,
        token: str,
        *,
        base_url: str,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "oneclick", **(headers or {})},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call with the shared retries; a failure raises the matching VendorError."""
        return send(
            self._http,
            self.VENDOR,
            method,
            path,
            retries=self.retries,
            backoff=self.backoff,
            sleep=self._sleep,
            retry_statuses=self.RETRY_STATUSES,
            **kwargs,
        )
