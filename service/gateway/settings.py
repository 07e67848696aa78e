"""The gateway's configuration: built from the process's settings (core/settings.py) or by tests.

Master keys are wrapped in `Secret`, whose repr and str are masked, so a settings object that
ends up in a log line or a traceback shows no key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from core.settings import Gateway, Secret, Upstreams, settings
from service.gateway.pricing import PriceTable

__all__ = ["GatewayConfigError", "GatewaySettings", "Secret", "UpstreamSettings"]

# Where each vendor lives and the platform's credentials for it (None: not offered).
UpstreamSettings = Upstreams


class GatewayConfigError(UserError, ValueError):
    """The gateway's configuration is incomplete or malformed; the message names the setting."""


@dataclass(frozen=True)
class GatewaySettings:
    """What one gateway process runs with; the defaults of what the environment sets are
    core/settings.py's `Gateway` section's."""

    database_url: str
    upstreams: UpstreamSettings = field(default_factory=UpstreamSettings)
    prices: PriceTable = field(default_factory=PriceTable)
    # Local append-only journal of settled calls: replayed after a crash (see metering.py).
    journal_dir: Path = Path(".state/gateway/journal")
    max_body_bytes: int = Gateway.max_body_bytes  # JSON requests
    max_upload_bytes: int = Gateway.max_upload_bytes  # storage uploads
    # Reservation for an LLM call that names no max_tokens.
    default_max_output_tokens: int = 4096
    flush_interval_seconds: float = Gateway.flush_seconds
    flush_max_batch: int = 500
    upstream_timeout_seconds: float = 600.0
    # A reservation older than this is a crashed call's: settled at its reserved maximum.
    reservation_ttl_seconds: float = Gateway.reservation_ttl_seconds
    # Budget leases (leases.py): a lease covers about this many calls like the one asking for it,
    # is admitted against for this long after the database last confirmed it (billing status and
    # limit changes reach a process within it), and is given back this long after its process
    # stopped extending it (a crash).
    lease_calls: int = Gateway.lease_calls
    lease_seconds: float = Gateway.lease_seconds
    lease_ttl_seconds: float = Gateway.lease_ttl_seconds
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
        """From this process's settings; the arguments are the command line's, which win."""
        current = settings()
        gateway = current.gateway
        url = database_url or gateway.database_url
        if not url:
            raise GatewayConfigError("no database: pass --database-url or set ONECLICK_GATEWAY_DATABASE_URL")
        return GatewaySettings(
            database_url=url,
            upstreams=current.upstreams,
            prices=PriceTable.load(gateway.pricing_file) if gateway.pricing_file else PriceTable(),
            journal_dir=journal_dir or current.paths.gateway_journal_dir,
            flush_interval_seconds=gateway.flush_seconds,
            reservation_ttl_seconds=gateway.reservation_ttl_seconds,
            lease_calls=gateway.lease_calls,
            lease_seconds=gateway.lease_seconds,
            lease_ttl_seconds=gateway.lease_ttl_seconds,
            max_body_bytes=gateway.max_body_bytes,
            max_upload_bytes=gateway.max_upload_bytes,
            admin_token=gateway.admin_token,
            stripe_api_key=gateway.stripe_api_key,
            stripe_api_base=gateway.stripe_api_base,
            stripe_webhook_secret=gateway.stripe_webhook_secret,
            alert_webhook_url=gateway.alert_webhook_url,
        )
