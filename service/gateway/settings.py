"""The gateway's configuration, read once from the environment (or built directly by tests).

Master keys are wrapped in `Secret`, whose repr and str are masked, so a settings object that
ends up in a log line or a traceback shows no key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.paths import state_root
from core.errors import UserError
from service.gateway.pricing import PriceTable


class Secret:
    """A credential that prints as `Secret('****')`; `.reveal()` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class GatewayConfigError(UserError, ValueError):
    """The gateway's configuration is incomplete or malformed; the message names the setting."""


def _number(name: str, default: str, kind: type[int] | type[float]) -> Any:
    text = os.environ.get(name, default)
    try:
        value = kind(text)
    except ValueError:
        raise GatewayConfigError(f"{name}: {text!r} is not a number") from None
    if value <= 0:
        raise GatewayConfigError(f"{name}: must be positive, got {text}")
    return value


def _secret(name: str) -> Secret | None:
    value = os.environ.get(name)
    return Secret(value) if value else None


@dataclass(frozen=True)
class UpstreamSettings:
    """Where each vendor lives and the platform's credentials for it (None: not offered)."""

    openai_url: str = "https://api.openai.com"
    openai_key: Secret | None = None
    anthropic_url: str = "https://api.anthropic.com"
    anthropic_key: Secret | None = None
    email_provider: str = "sendgrid"  # "sendgrid" | "resend"
    sendgrid_url: str = "https://api.sendgrid.com"
    sendgrid_key: Secret | None = None
    resend_url: str = "https://api.resend.com"
    resend_key: Secret | None = None
    email_from: str | None = None  # default sender when a request names none
    twilio_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: Secret | None = None
    twilio_from: str | None = None
    storage_url: str | None = None  # S3-compatible endpoint, e.g. an R2 account endpoint
    storage_bucket: str | None = None
    storage_region: str = "auto"
    storage_access_key_id: str | None = None
    storage_secret_access_key: Secret | None = None

    def master_keys(self) -> list[str]:
        """Every platform credential, for scrubbing and for tests that prove none leaks."""
        secrets = (
            self.openai_key,
            self.anthropic_key,
            self.sendgrid_key,
            self.resend_key,
            self.twilio_auth_token,
            self.storage_secret_access_key,
        )
        return [s.reveal() for s in secrets if s]

    @staticmethod
    def from_env() -> UpstreamSettings:
        env = os.environ.get
        return UpstreamSettings(
            openai_url=env("ONECLICK_OPENAI_URL", UpstreamSettings.openai_url),
            openai_key=_secret("PLATFORM_OPENAI_KEY"),
            anthropic_url=env("ONECLICK_ANTHROPIC_URL", UpstreamSettings.anthropic_url),
            anthropic_key=_secret("PLATFORM_ANTHROPIC_KEY"),
            email_provider=env("ONECLICK_EMAIL_PROVIDER", "sendgrid"),
            sendgrid_url=env("ONECLICK_SENDGRID_URL", UpstreamSettings.sendgrid_url),
            sendgrid_key=_secret("PLATFORM_SENDGRID_KEY"),
            resend_url=env("ONECLICK_RESEND_URL", UpstreamSettings.resend_url),
            resend_key=_secret("PLATFORM_RESEND_KEY"),
            email_from=env("PLATFORM_EMAIL_FROM"),
            twilio_url=env("ONECLICK_TWILIO_URL", UpstreamSettings.twilio_url),
            twilio_account_sid=env("PLATFORM_TWILIO_SID"),
            twilio_auth_token=_secret("PLATFORM_TWILIO_TOKEN"),
            twilio_from=env("PLATFORM_TWILIO_NUMBER"),
            storage_url=env("ONECLICK_STORAGE_URL"),
            storage_bucket=env("ONECLICK_STORAGE_BUCKET"),
            storage_region=env("ONECLICK_STORAGE_REGION", "auto"),
            storage_access_key_id=env("PLATFORM_STORAGE_ACCESS_KEY_ID"),
            storage_secret_access_key=_secret("PLATFORM_STORAGE_SECRET_ACCESS_KEY"),
        )


@dataclass(frozen=True)
class GatewaySettings:
    database_url: str
    upstreams: UpstreamSettings = field(default_factory=UpstreamSettings)
    prices: PriceTable = field(default_factory=PriceTable)
    # Local append-only journal of settled calls: replayed after a crash (see metering.py).
    journal_dir: Path = Path(".state/gateway/journal")
    max_body_bytes: int = 1_000_000  # JSON requests
    max_upload_bytes: int = 25_000_000  # storage uploads
    # Reservation for an LLM call that names no max_tokens.
    default_max_output_tokens: int = 4096
    flush_interval_seconds: float = 0.05
    flush_max_batch: int = 500
    upstream_timeout_seconds: float = 600.0
    # A reservation older than this is a crashed call's: settled at its reserved maximum.
    reservation_ttl_seconds: float = 900.0
    # Budget leases (leases.py): a lease covers about this many calls like the one asking for it,
    # is admitted against for this long after the database last confirmed it (billing status and
    # limit changes reach a process within it), and is given back this long after its process
    # stopped extending it (a crash).
    lease_calls: int = 50
    lease_seconds: float = 5.0
    lease_ttl_seconds: float = 60.0
    key_cache_seconds: float = 30.0
    # Unknown keys one client address may present per window before it is answered 429, unqueried.
    failed_key_limit: int = 20
    failed_key_window_seconds: float = 60.0
    # How long a user's verified email senders are remembered (a removed sender works this long).
    sender_cache_seconds: float = 30.0
    pool_min_size: int = 4  # opening a connection mid-burst costs milliseconds
    pool_max_size: int = 10
    # Platform-side token for the usage API (`?user_id=`); without it only gateway keys work.
    admin_token: Secret | None = None
    # Hourly Stripe meter reporting from inside the gateway (needs a Stripe key).
    stripe_api_key: Secret | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: Secret | None = None
    report_interval_seconds: float = 3600.0
    alert_webhook_url: str | None = None

    @staticmethod
    def from_env(database_url: str | None = None, journal_dir: Path | None = None) -> GatewaySettings:
        env = os.environ.get
        url = database_url or env("ONECLICK_GATEWAY_DATABASE_URL") or env("DATABASE_URL")
        if not url:
            raise GatewayConfigError("no database: pass --database-url or set ONECLICK_GATEWAY_DATABASE_URL")
        pricing_file = env("ONECLICK_GATEWAY_PRICING")
        provider = env("ONECLICK_EMAIL_PROVIDER", "sendgrid")
        if provider not in ("sendgrid", "resend"):
            raise GatewayConfigError(f"ONECLICK_EMAIL_PROVIDER: 'sendgrid' or 'resend', got {provider!r}")
        return GatewaySettings(
            database_url=url,
            upstreams=UpstreamSettings.from_env(),
            prices=PriceTable.load(Path(pricing_file)) if pricing_file else PriceTable(),
            journal_dir=journal_dir
            or Path(env("ONECLICK_GATEWAY_JOURNAL_DIR") or state_root() / "gateway" / "journal"),
            flush_interval_seconds=_number("ONECLICK_GATEWAY_FLUSH_SECONDS", "0.05", float),
            reservation_ttl_seconds=_number("ONECLICK_GATEWAY_RESERVATION_TTL_SECONDS", "900", float),
            lease_calls=_number("ONECLICK_GATEWAY_LEASE_CALLS", "50", int),
            lease_seconds=_number("ONECLICK_GATEWAY_LEASE_SECONDS", "5", float),
            lease_ttl_seconds=_number("ONECLICK_GATEWAY_LEASE_TTL_SECONDS", "60", float),
            max_body_bytes=_number("ONECLICK_GATEWAY_MAX_BODY_BYTES", "1000000", int),
            max_upload_bytes=_number("ONECLICK_GATEWAY_MAX_UPLOAD_BYTES", "25000000", int),
            admin_token=_secret("ONECLICK_GATEWAY_ADMIN_TOKEN"),
            stripe_api_key=_secret("STRIPE_SECRET_KEY"),
            stripe_api_base=env("ONECLICK_STRIPE_API_BASE"),
            stripe_webhook_secret=_secret("STRIPE_WEBHOOK_SECRET"),
            alert_webhook_url=env("ONECLICK_GATEWAY_ALERT_WEBHOOK"),
        )
