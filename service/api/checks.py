"""Values routes check by hand (path and body ids, domain names) and the answer when a vendor fails."""

from __future__ import annotations

from components.spec import APP_ID, HOSTNAME
from components.targets import TargetError
from service.errors import ApiError


def check_app_id(value: str, field: str = "appId") -> str:
    if not APP_ID.match(value):
        raise ApiError(
            422,
            "invalid",
            f"{value[:80]!r} is not an app id",
            field=field,
            fix="use the app's id: lowercase letters, digits and dashes (e.g. 'app-123')",
        )
    return value


def checked_domain(value: str) -> str:
    """The domain normalised (lower case, no trailing dot), or a 422 naming the field."""
    domain = value.strip().lower().rstrip(".")
    if not HOSTNAME.match(domain):
        raise ApiError(
            422,
            "invalid",
            f"{value[:80]!r} is not a domain name",
            field="domain",
            fix="use a domain name like 'shop.example.com'",
        )
    return domain


def vendor_unavailable(vendor: str, exc: Exception) -> ApiError:
    """503 when the vendor is not configured here, 502 when it answered with an error."""
    if isinstance(exc, TargetError):
        return ApiError(503, "vendor_unavailable", str(exc), fix=f"configure or start {vendor}")
    return ApiError(502, "vendor_error", f"{vendor} answered with an error: {exc}", fix="try again shortly")
