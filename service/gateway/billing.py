"""Stripe, through the official library: metered billing on Billing Meters, spend limits, Connect.

- `ensure_metered_prices`: one Billing Meter per price in the table (event `oneclick_<key>`, summed,
  customer mapped by `stripe_customer_id`) and a monthly metered price backed by it, made once and
  remembered in `stripe_metered_prices`. (Legacy usage records are retired by Stripe; meters only.)
- `setup_metered_billing`: the user's customer and a subscription with every metered price.
- `report_usage`: the hourly batch. Usage rows are first claimed into `stripe_meter_reports` rows
  (one per user and price), each with an identifier fixed at that moment; then every unsent report
  is sent as a meter event with that identifier (and the same Idempotency-Key). Re-running after a
  crash or a failure re-sends only unsent reports, with the same identifiers, which Stripe
  deduplicates: a report is billed once however often it is sent.
- `set_spend_limit`, `set_alert_thresholds`: the user's limits (cents).
- Connect: express accounts, onboarding links, payment intents with an application fee.

Amounts sent to Stripe are whole cents; per-unit prices are decimal cents (`unit_amount_decimal`).
Stripe errors are recorded by class and code only: their messages can quote part of the API key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg
import stripe

from service.gateway.errors import BillingError
from service.gateway.pricing import Price, PriceTable
from service.gateway.settings import GatewaySettings

__all__ = ["BillingError"]  # raised by this module's functions; defined with the other errors

log = logging.getLogger("oneclick.gateway.billing")

# Stripe accepts meter events up to 35 days old; older usage is reported as of 34 days ago.
MAX_EVENT_AGE = timedelta(days=34)
# Services whose usage is billed through meters (voice and bandwidth have no route yet).
METERED_SERVICES = ("openai", "anthropic", "email", "sms", "storage")

Connection = psycopg.Connection[Any]


def stripe_client(api_key: str, api_base: str | None = None, **kwargs: Any) -> stripe.StripeClient:
    if api_base:  # e.g. stripe-mock's address
        kwargs["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(api_key, **kwargs)


def _error_text(exc: stripe.StripeError) -> str:
    return f"{type(exc).__name__} (status {exc.http_status}, code {exc.code})"


# Catalogue --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeteredPrice:
    price_key: str
    meter_id: str
    meter_event_name: str
    stripe_price_id: str


def _metered(prices: PriceTable) -> list[Price]:
    return [p for p in prices.prices if p.service in METERED_SERVICES]


def ensure_metered_prices(
    conn: Connection, client: stripe.StripeClient, prices: PriceTable
) -> list[MeteredPrice]:
    """Make (once) a Billing Meter and a metered monthly price for each billable price."""
    known = {
        row[0]: MeteredPrice(*row)
        for row in conn.execute(
            "SELECT price_key, meter_id, meter_event_name, stripe_price_id FROM stripe_metered_prices"
        ).fetchall()
    }
    result = []
    existing_meters: dict[str, str] | None = None
    for price in _metered(prices):
        if price.key in known:
            result.append(known[price.key])
            continue
        if existing_meters is None:
            existing_meters = {
                m.event_name: m.id
                for m in client.v1.billing.meters.list({"status": "active", "limit": 100}).data
            }
        meter_id = existing_meters.get(price.meter_event_name)
        if meter_id is None:
            meter = client.v1.billing.meters.create(
                {
                    "display_name": price.description or price.key,
                    "event_name": price.meter_event_name,
                    "default_aggregation": {"formula": "sum"},
                    "customer_mapping": {"type": "by_id", "event_payload_key": "stripe_customer_id"},
                    "value_settings": {"event_payload_key": "value"},
                },
                {"idempotency_key": f"oneclick-meter-{price.key}"},
            )
            meter_id = meter.id
        stripe_price = client.v1.prices.create(
            {
                "currency": "usd",
                "unit_amount_decimal": price.price_cents_per_unit,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter_id},
                "product_data": {"name": price.description or price.key},
                "lookup_key": price.meter_event_name,
                "metadata": {"price_key": price.key, "unit_type": price.unit_type},
            },
            {"idempotency_key": f"oneclick-price-{price.key}-{price.price_cents_per_unit}"},
        )
        metered = MeteredPrice(price.key, meter_id, price.meter_event_name, stripe_price.id)
        conn.execute(
            "INSERT INTO stripe_metered_prices (price_key, meter_id, meter_event_name, stripe_price_id, "
            "unit_amount_decimal) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (price_key) DO NOTHING",
            [price.key, meter_id, price.meter_event_name, stripe_price.id, str(price.price_cents_per_unit)],
        )
        result.append(metered)
    return result


# Customers and subscriptions ------------------------------------------------------------------


def setup_metered_billing(
    conn: Connection,
    client: stripe.StripeClient,
    prices: PriceTable,
    user_id: str,
    email: str,
    *,
    payment_method: str | None = None,
) -> str:
    """Create (once) the user's customer and metered subscription; returns the subscription id."""
    conn.execute(
        "INSERT INTO user_subscriptions (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING", [user_id]
    )
    row = conn.execute(
        "SELECT stripe_customer_id, stripe_subscription_id FROM user_subscriptions WHERE user_id = %s",
        [user_id],
    ).fetchone()
    assert row is not None
    customer_id, subscription_id = row
    if subscription_id:
        return str(subscription_id)
    if not customer_id:
        customer_params: dict[str, Any] = {"email": email, "metadata": {"user_id": user_id}}
        if payment_method:
            customer_params["payment_method"] = payment_method
            customer_params["invoice_settings"] = {"default_payment_method": payment_method}
        customer = client.v1.customers.create(
            customer_params,  # type: ignore[arg-type]
            {"idempotency_key": f"oneclick-customer-{user_id}"},
        )
        customer_id = customer.id
        conn.execute(
            "UPDATE user_subscriptions SET stripe_customer_id = %s, updated_at = now() WHERE user_id = %s",
            [customer_id, user_id],
        )
    metered = ensure_metered_prices(conn, client, prices)
    subscription = client.v1.subscriptions.create(
        {
            "customer": customer_id,
            "items": [{"price": m.stripe_price_id} for m in metered],
            "metadata": {"user_id": user_id},
        },
        {"idempotency_key": f"oneclick-subscription-{user_id}"},
    )
    conn.execute(
        "UPDATE user_subscriptions SET stripe_subscription_id = %s, status = %s, updated_at = now() "
        "WHERE user_id = %s",
        [subscription.id, subscription.status, user_id],
    )
    return subscription.id


def set_spend_limit(conn: Connection, user_id: str, limit_cents: int) -> None:
    """The most a user's managed API calls may cost per month, in cents (0 blocks platform-key calls)."""
    if isinstance(limit_cents, bool) or not isinstance(limit_cents, int) or limit_cents < 0:
        raise BillingError(f"spend limit: a whole, non-negative number of cents, got {limit_cents!r}")
    conn.execute(
        "INSERT INTO user_subscriptions (user_id, spend_limit_cents) VALUES (%s, %s) "
        "ON CONFLICT (user_id) DO UPDATE "
        "SET spend_limit_cents = EXCLUDED.spend_limit_cents, updated_at = now()",
        [user_id, limit_cents],
    )


def dollars_to_cents(text: str) -> int:
    """ "100", "100.5", "$1,000.00" → cents; refuses fractions of a cent."""
    try:
        amount = Decimal(text.replace("$", "").replace(",", "").strip())
    except ArithmeticError:
        raise BillingError(f"{text!r} is not an amount of dollars, e.g. 100 or 99.50") from None
    cents = amount * 100
    if not amount.is_finite() or cents != cents.to_integral_value() or cents < 0:
        raise BillingError(f"{text!r} is not a non-negative amount in whole cents, e.g. 100 or 99.50")
    return int(cents)


# Hourly meter reporting -----------------------------------------------------------------------

# Both statements select the same rows: billable usage before the cutoff, not yet in a report, of
# users with a Stripe customer.
_CLAIM_REPORTS = """
INSERT INTO stripe_meter_reports
  (identifier, user_id, stripe_customer_id, price_key, event_name, quantity, event_timestamp)
SELECT 'oneclick_' || gen_random_uuid(), u.user_id, s.stripe_customer_id, u.price_key,
       'oneclick_' || u.price_key, sum(u.units), max(u.created_at)
FROM api_usage u JOIN user_subscriptions s ON s.user_id = u.user_id
WHERE u.meter_report_id IS NULL AND u.billable AND u.units > 0 AND u.created_at < %(cutoff)s
  AND s.stripe_customer_id IS NOT NULL
GROUP BY u.user_id, s.stripe_customer_id, u.price_key
RETURNING id
"""
_CLAIM_USAGE = """
UPDATE api_usage u SET meter_report_id = r.id
FROM stripe_meter_reports r, user_subscriptions s
WHERE r.id = ANY(%(ids)s) AND u.user_id = r.user_id AND u.price_key = r.price_key AND s.user_id = u.user_id
  AND u.meter_report_id IS NULL AND u.billable AND u.units > 0 AND u.created_at < %(cutoff)s
  AND s.stripe_customer_id IS NOT NULL
"""


@dataclass(frozen=True)
class ReportResult:
    claimed: int  # new reports made from unreported usage
    sent: int  # reports sent to Stripe in this run
    failed: int  # reports left unsent (retried next run)


def claim_usage(conn: Connection, cutoff: datetime) -> int:
    """Group unreported usage before `cutoff` into reports (one per user and price); returns how many."""
    with conn.transaction():
        # One snapshot for both statements: the rows counted are exactly the rows claimed.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('oneclick.stripe_meter_reports'))")
        reports = conn.execute(_CLAIM_REPORTS, {"cutoff": cutoff}).fetchall()
        if reports:
            conn.execute(_CLAIM_USAGE, {"ids": [r[0] for r in reports], "cutoff": cutoff})
    return len(reports)


def send_reports(conn: Connection, client: stripe.StripeClient, now: datetime) -> tuple[int, int]:
    """Send every unsent report as a meter event; returns (sent, failed)."""
    pending = conn.execute(
        "SELECT id, identifier, stripe_customer_id, event_name, quantity, event_timestamp "
        "FROM stripe_meter_reports WHERE sent_at IS NULL ORDER BY id"
    ).fetchall()
    sent = failed = 0
    for report_id, identifier, customer_id, event_name, quantity, timestamp in pending:
        moment = min(max(timestamp, now - MAX_EVENT_AGE), now)
        try:
            client.v1.billing.meter_events.create(
                {
                    "event_name": event_name,
                    "identifier": identifier,
                    "timestamp": int(moment.timestamp()),
                    "payload": {"stripe_customer_id": customer_id, "value": str(quantity)},
                },
                {"idempotency_key": identifier},
            )
        except stripe.StripeError as exc:
            failed += 1
            conn.execute(
                "UPDATE stripe_meter_reports SET attempts = attempts + 1, last_error = %s WHERE id = %s",
                [_error_text(exc), report_id],
            )
            log.warning("meter event %s not sent: %s", identifier, _error_text(exc))
            continue
        sent += 1
        conn.execute(
            "UPDATE stripe_meter_reports SET attempts = attempts + 1, sent_at = now(), last_error = NULL "
            "WHERE id = %s",
            [report_id],
        )
    return sent, failed


def report_usage(
    conn: Connection, client: stripe.StripeClient, *, now: datetime | None = None
) -> ReportResult:
    """The hourly batch: claim usage made before this hour began, then send what is unsent."""
    moment = now or datetime.now(UTC)
    cutoff = moment.replace(minute=0, second=0, microsecond=0)
    claimed = claim_usage(conn, cutoff)
    sent, failed = send_reports(conn, client, moment)
    return ReportResult(claimed, sent, failed)


def report_usage_from_settings(settings: GatewaySettings) -> int:
    assert settings.stripe_api_key is not None
    client = stripe_client(settings.stripe_api_key.reveal(), settings.stripe_api_base)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        return report_usage(conn, client).sent


# Connect --------------------------------------------------------------------------------------


def create_connected_account(
    conn: Connection, client: stripe.StripeClient, user_id: str, email: str, country: str = "US"
) -> str:
    """The user's Express account for taking payments in their apps (made once); returns its id."""
    row = conn.execute(
        "SELECT account_id FROM stripe_connected_accounts WHERE user_id = %s", [user_id]
    ).fetchone()
    if row:
        return str(row[0])
    account = client.v1.accounts.create(
        {
            "type": "express",
            "country": country,
            "email": email,
            "metadata": {"user_id": user_id},
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        },
        {"idempotency_key": f"oneclick-account-{user_id}"},
    )
    conn.execute(
        "INSERT INTO stripe_connected_accounts (user_id, account_id) VALUES (%s, %s) "
        "ON CONFLICT (user_id) DO NOTHING",
        [user_id, account.id],
    )
    return account.id


def create_onboarding_link(
    client: stripe.StripeClient, account_id: str, refresh_url: str, return_url: str
) -> str:
    link = client.v1.account_links.create(
        {
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
    )
    return link.url


def application_fee(amount_cents: int, fee_percent: Decimal) -> int:
    return int((Decimal(amount_cents) * fee_percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def create_payment_intent(
    client: stripe.StripeClient,
    connected_account_id: str,
    amount_cents: int,
    *,
    currency: str = "usd",
    fee_percent: Decimal = Decimal("1"),
    idempotency_key: str | None = None,
) -> stripe.PaymentIntent:
    """A payment by an app's customer: the connected account gets it less the platform's fee."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise BillingError(f"amount: a positive whole number of cents, got {amount_cents!r}")
    if not Decimal(0) <= fee_percent <= Decimal(100):
        raise BillingError(f"fee_percent: between 0 and 100, got {fee_percent}")
    options: stripe.RequestOptions = {"idempotency_key": idempotency_key} if idempotency_key else {}
    return client.v1.payment_intents.create(
        {
            "amount": amount_cents,
            "currency": currency,
            "application_fee_amount": application_fee(amount_cents, fee_percent),
            "transfer_data": {"destination": connected_account_id},
            "automatic_payment_methods": {"enabled": True},
        },
        options,
    )
