"""Stripe billing against stripe-mock: meters, subscriptions, idempotent hourly reporting, Connect.

stripe-mock validates every request against Stripe's OpenAPI spec and answers with fixtures; it keeps
no state, so "billed once" is checked on our side: the reports ledger, and the exact identifiers and
Idempotency-Keys we send (recorded by a wrapping HTTP client).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
import stripe

from service.gateway import billing
from service.gateway.metering import Settlement, write_settlements
from service.gateway.pricing import PriceTable
from tests.contract import Contract
from tests.databases import query
from tests.gateway.conftest import make_account
from tests.gateway.servers import StripeMock


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    status: int


class RecordingClient(stripe.RequestsClient):
    """Records every request; `lose_responses` makes the next N answers vanish after Stripe got them."""

    def __init__(self) -> None:
        super().__init__(timeout=10)
        self.sent: list[Sent] = []
        self.lose_responses = 0

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        content, status, response_headers = super().request(method, url, headers, post_data)
        parsed = urlparse(url)
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or parsed.query)
        self.sent.append(Sent(method.upper(), parsed.path, parse_qs(body), dict(headers or {}), status))
        if self.lose_responses:
            self.lose_responses -= 1
            raise stripe.APIConnectionError("connection reset after the request was sent")
        return content, status, response_headers

    def to(self, path: str) -> list[Sent]:
        return [s for s in self.sent if s.path == path]


@pytest.fixture
def recorder() -> RecordingClient:
    return RecordingClient()


@pytest.fixture
def client(stripe_mock: StripeMock, recorder: RecordingClient) -> stripe.StripeClient:
    return billing.stripe_client("sk_test_123", stripe_mock.url, http_client=recorder, max_network_retries=0)


def dsn(conn: psycopg.Connection[Any]) -> str:
    """The connection's parameters, password included (`info.dsn` leaves it out)."""
    password = conn.info.password
    return f"{conn.info.dsn} password={password}" if password else conn.info.dsn


@pytest.fixture
def conn(gateway_db: str) -> Any:
    with psycopg.connect(gateway_db, autocommit=True) as connection:
        yield connection


def test_metered_prices_are_backed_by_billing_meters_and_made_once(
    conn: psycopg.Connection[Any], client: stripe.StripeClient, recorder: RecordingClient
) -> None:
    conn.execute("DELETE FROM stripe_metered_prices")
    made = billing.ensure_metered_prices(conn, client, PriceTable())
    metered = [p.key for p in PriceTable().prices if p.service in billing.METERED_SERVICES]
    assert [m.price_key for m in made] == metered
    assert {"openai_gpt_4_tokens", "openai_embedding_small_tokens", "anthropic_sonnet_tokens"} < set(metered)
    assert {"email_sends", "twilio_sms", "storage_upload_bytes"} < set(metered)
    assert len(metered) <= 20  # Stripe's limit of items in one subscription
    assert all(s.status == 200 for s in recorder.sent)
    meter = recorder.to("/v1/billing/meters")[-1]
    assert meter.method == "POST"
    assert meter.params["default_aggregation[formula]"] == ["sum"]
    assert meter.params["customer_mapping[event_payload_key]"] == ["stripe_customer_id"]
    price = recorder.to("/v1/prices")[0].params
    assert price["recurring[usage_type]"] == ["metered"]
    assert price["recurring[meter]"]  # backed by a meter, not legacy usage records
    assert price["unit_amount_decimal"] == ["0.004"]
    before = len(recorder.sent)
    billing.ensure_metered_prices(conn, client, PriceTable())
    assert len(recorder.sent) == before  # remembered: nothing made twice
    assert not [s for s in recorder.sent if "usage_records" in s.path]


def test_setup_metered_billing_makes_customer_and_subscription_once(
    conn: psycopg.Connection[Any], client: stripe.StripeClient, recorder: RecordingClient
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    subscription = billing.setup_metered_billing(conn, client, PriceTable(), user_id, "dev@example.com")
    assert subscription.startswith("sub_")
    created = recorder.to("/v1/subscriptions")[-1]
    metered = [p for p in PriceTable().prices if p.service in billing.METERED_SERVICES]
    assert len([k for k in created.params if k.startswith("items[")]) == len(metered)
    assert created.headers["Idempotency-Key"] == f"oneclick-subscription-{user_id}"
    row = query(
        dsn(conn),
        "SELECT stripe_customer_id, stripe_subscription_id, status FROM user_subscriptions "
        "WHERE user_id = %s",
        [user_id],
    )
    assert row[0][0].startswith("cus_")
    assert row[0][1] == subscription
    before = len(recorder.sent)
    assert (
        billing.setup_metered_billing(conn, client, PriceTable(), user_id, "dev@example.com") == subscription
    )
    assert len(recorder.sent) == before


def test_set_spend_limit_in_cents(conn: psycopg.Connection[Any]) -> None:
    user_id = make_account(dsn(conn))
    billing.set_spend_limit(conn, user_id, billing.dollars_to_cents("$250.50"))
    assert query(
        dsn(conn), "SELECT spend_limit_cents FROM user_subscriptions WHERE user_id = %s", [user_id]
    ) == [(25050,)]
    with pytest.raises(billing.BillingError, match="whole cents"):
        billing.dollars_to_cents("1.001")
    with pytest.raises(billing.BillingError, match="non-negative"):
        billing.set_spend_limit(conn, user_id, -1)


def _usage(url: str, user_id: str, rows: list[tuple[str, int, bool]], when: datetime) -> None:
    asyncio.run(_write_usage(url, user_id, rows, when))


async def _write_usage(url: str, user_id: str, rows: list[tuple[str, int, bool]], when: datetime) -> None:
    settlements = [
        Settlement(
            id=uuid.uuid4(),
            user_id=user_id,
            app_id="app-1",
            service="openai",
            endpoint="v1/chat/completions",
            price_key=price_key,
            unit_type="tokens",
            units=units,
            cost_cents=Decimal(0),
            billable=billable,
            period=date(when.year, when.month, 1),
            created_at=when,
        )
        for price_key, units, billable in rows
    ]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn, conn.transaction():
        # BYO-style rows need no reservation; billable rows are written as if reserved and settled.
        for s in settlements:
            if s.billable:
                await conn.execute(
                    "INSERT INTO api_reservations (id, user_id, app_id, period, service, endpoint, "
                    "price_key, unit_type, max_units, max_cost_cents, instance_id) "
                    "VALUES (%s, %s, 'app-1', %s, 'openai', 'x', %s, 'tokens', %s, 0, 'test')",
                    [s.id, user_id, s.period, s.price_key, s.units],
                )
        await write_settlements(conn, settlements)


def test_reporting_twice_bills_once(
    conn: psycopg.Connection[Any], client: stripe.StripeClient, recorder: RecordingClient
) -> None:
    user_id = make_account(dsn(conn))
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    _usage(
        dsn(conn),
        user_id,
        [
            ("openai_gpt_4_tokens", 100, True),
            ("openai_gpt_4_tokens", 23, True),
            ("anthropic_tokens", 7, True),
            ("openai_gpt_4_tokens", 1000, False),
        ],  # the last is a BYO call: never reported
        an_hour_ago,
    )
    first = billing.report_usage(conn, client)
    assert (first.claimed, first.failed) == (2, 0)
    customer = [f"cus_{user_id}"]
    events = [
        s
        for s in recorder.to("/v1/billing/meter_events")
        if s.params["payload[stripe_customer_id]"] == customer
    ]
    assert sorted((e.params["event_name"][0], e.params["payload[value]"][0]) for e in events) == [
        ("oneclick_anthropic_tokens", "7"),
        ("oneclick_openai_gpt_4_tokens", "123"),
    ]
    for event in events:
        assert event.headers["Idempotency-Key"] == event.params["identifier"][0]
    sent_before = len(recorder.sent)
    second = billing.report_usage(conn, client)
    assert (second.claimed, second.sent) == (0, 0)
    assert len(recorder.sent) == sent_before  # nothing sent again


def test_a_report_whose_answer_was_lost_is_resent_with_the_same_identifier(
    conn: psycopg.Connection[Any], client: stripe.StripeClient, recorder: RecordingClient
) -> None:
    user_id = make_account(dsn(conn))
    _usage(dsn(conn), user_id, [("twilio_sms", 3, True)], datetime.now(UTC) - timedelta(hours=2))
    conn.execute("UPDATE stripe_meter_reports SET sent_at = now() WHERE sent_at IS NULL")  # others' leftovers
    recorder.lose_responses = 1  # Stripe records the event, but we never hear back
    first = billing.report_usage(conn, client)
    assert (first.claimed, first.sent, first.failed) == (1, 0, 1)
    retry = billing.report_usage(conn, client)
    assert (retry.claimed, retry.sent, retry.failed) == (0, 1, 0)
    attempts = recorder.to("/v1/billing/meter_events")[-2:]
    assert attempts[0].params == attempts[1].params  # same identifier, timestamp and value
    assert attempts[0].headers["Idempotency-Key"] == attempts[1].headers["Idempotency-Key"]
    [(quantity, tries, error)] = query(
        dsn(conn),
        "SELECT quantity, attempts, last_error FROM stripe_meter_reports WHERE user_id = %s",
        [user_id],
    )
    assert (quantity, tries, error) == (3, 2, None)
    assert billing.report_usage(conn, client).sent == 0


def test_usage_of_the_current_hour_waits_for_the_next_hourly_report(
    conn: psycopg.Connection[Any], client: stripe.StripeClient
) -> None:
    user_id = make_account(dsn(conn))
    now = datetime.now(UTC)
    _usage(dsn(conn), user_id, [("email_sends", 2, True)], now)
    unreported = "SELECT count(*) FROM api_usage WHERE user_id = %s AND meter_report_id IS NULL"
    billing.report_usage(conn, client, now=now)
    assert query(dsn(conn), unreported, [user_id]) == [(1,)]
    billing.report_usage(conn, client, now=now + timedelta(hours=1))
    assert query(dsn(conn), unreported, [user_id]) == [(0,)]


def test_connect_express_account_onboarding_link_and_payment_intent_with_fee(
    conn: psycopg.Connection[Any], client: stripe.StripeClient, recorder: RecordingClient
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    account_id = billing.create_connected_account(conn, client, user_id, "seller@example.com")
    assert account_id.startswith("acct_")
    assert billing.create_connected_account(conn, client, user_id, "seller@example.com") == account_id
    assert len(recorder.to("/v1/accounts")) == 1
    created = recorder.to("/v1/accounts")[0].params
    assert created["type"] == ["express"]
    assert created["capabilities[transfers][requested]"] == ["true"]
    url = billing.create_onboarding_link(client, account_id, "https://x.dev/refresh", "https://x.dev/done")
    assert url.startswith("http")
    assert recorder.to("/v1/account_links")[0].params["type"] == ["account_onboarding"]
    intent = billing.create_payment_intent(client, account_id, 2599, fee_percent=Decimal("1"))
    assert intent.object == "payment_intent"
    sent = recorder.to("/v1/payment_intents")[0].params
    assert sent["application_fee_amount"] == ["26"]  # 1% of $25.99, rounded half up
    assert sent["transfer_data[destination]"] == [account_id]
    with pytest.raises(billing.BillingError, match="positive whole number of cents"):
        billing.create_payment_intent(client, account_id, 0)


def test_stripe_requests_are_operations_of_the_shared_contract(
    conn: psycopg.Connection[Any], client: stripe.StripeClient, recorder: RecordingClient
) -> None:
    if not Contract.available("stripe-billing-connect.json"):
        pytest.skip("../shared/contracts is not here")
    contract = Contract.of("stripe-billing-connect.json")
    account_id = billing.create_connected_account(
        conn, client, f"user-{uuid.uuid4().hex[:8]}", "s@example.com"
    )
    billing.create_onboarding_link(client, account_id, "https://x.dev/r", "https://x.dev/d")
    billing.create_payment_intent(client, account_id, 1000)
    conn.execute("DELETE FROM stripe_metered_prices")
    billing.ensure_metered_prices(conn, client, PriceTable())
    checked = [
        s for s in recorder.sent if s.path.startswith(("/v1/account", "/v1/payment_intents", "/v1/billing"))
    ]
    assert checked
    for sent in checked:
        assert contract.operation(sent.method, sent.path) is not None, f"{sent.method} {sent.path}"


def test_stripe_mock_serves_v1_meter_events_but_not_the_v2_stream(stripe_mock: StripeMock) -> None:
    """Why reporting uses v1 meter events: this stripe-mock (v0.203.0) has no v2 billing routes."""
    import httpx

    v2 = httpx.post(
        f"{stripe_mock.url}/v2/billing/meter_event_stream", auth=("sk_test_123", ""), json={"events": []}
    )
    assert v2.status_code == 404
    v1 = httpx.post(
        f"{stripe_mock.url}/v1/billing/meter_events",
        auth=("sk_test_123", ""),
        data={"event_name": "e", "payload[stripe_customer_id]": "cus_1", "payload[value]": "1"},
    )
    assert v1.status_code == 200
