"""A vendor's usage figures cannot bill Stripe past the spend limit, nor lower anyone's spend.

Issue 13, item 8 (Stripe billed 10^15 tokens while the gateway capped the cost) and the medium item
"negative or absurd usage lowers spend" (-$2,000 against a $100 limit). The calls go through the
real gateway to a vendor that reports what the attack needs; the hourly report goes to stripe-mock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import pytest
import stripe

from service.gateway import billing, llm
from service.gateway.pricing import PriceTable
from tests.databases import query
from tests.gateway.conftest import make_account, make_key
from tests.gateway.servers import StripeMock
from tests.helpers import wait_for
from tests.security.gateway_fixtures import HostileGateway

CHAT = "/api/proxy/openai/v1/chat/completions"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
PRICE = PriceTable().for_service("openai", "gpt-4o")


def reserved_maximum(body: dict[str, Any]) -> int:
    """The most tokens the gateway reserves for `body` sent as `post` sends it."""
    raw = json.dumps(body).encode()
    return llm.inspect_call("openai", "v1/chat/completions", raw, dict(body), 4096).max_tokens


def post(gw: HostileGateway, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{gw.url}{CHAT}",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


class MeterEvents(stripe.RequestsClient):
    """Keeps the meter events the report sends."""

    def __init__(self) -> None:
        super().__init__(timeout=10)
        self.events: list[dict[str, list[str]]] = []

    def request(  # type: ignore[override]  # stripe's stubs disagree with its own subclasses
        self, method: str, url: str, headers: Any, post_data: Any = None
    ) -> Any:
        answer = super().request(method, url, headers, post_data)
        if urlparse(url).path == "/v1/billing/meter_events":
            self.events.append(parse_qs(post_data.decode() if isinstance(post_data, bytes) else post_data))
        return answer


def _usage(gw: HostileGateway, user_id: str) -> list[tuple[Any, ...]]:
    sql = "SELECT units, cost_cents, request_metadata FROM api_usage WHERE user_id = %s"
    return wait_for(lambda: query(gw.db, sql, [user_id]))


def _spend(gw: HostileGateway, user_id: str) -> tuple[Decimal, Decimal]:
    def settled() -> tuple[Decimal, Decimal] | None:
        rows = query(gw.db, "SELECT spent_cents, reserved_cents FROM api_spend WHERE user_id = %s", [user_id])
        return rows[0] if rows and rows[0][1] == 0 else None

    result = wait_for(settled)
    assert result is not None, "the call's reservation was never settled"
    return result


def test_stripe_is_never_billed_more_units_than_the_reservation_allowed(
    hostile_gateway: HostileGateway, stripe_mock: StripeMock
) -> None:
    gw = hostile_gateway
    user_id = make_account(gw.db, limit_cents=10_000)  # $100
    key = make_key(gw.db, user_id)
    gw.vendor.usage = {"prompt_tokens": 10**15, "completion_tokens": 5, "total_tokens": 10**15 + 5}
    response = post(gw, key, BODY)
    assert response.status_code == 200, response.text

    maximum = reserved_maximum(BODY)
    [(units, cost, metadata)] = _usage(gw, user_id)
    assert units == maximum  # what Stripe will be billed for: the reserved maximum, not 10^15
    assert cost == PRICE.cost(maximum)
    assert metadata["reported_units"] == str(10**15 + 5)
    spent, _ = _spend(gw, user_id)
    assert spent == cost <= 10_000

    # The hourly report (next hour, so this call is included) sends what the usage rows say.
    recorder = MeterEvents()
    client = billing.stripe_client(
        "sk_test_123", stripe_mock.url, http_client=recorder, max_network_retries=0
    )
    with psycopg.connect(gw.db, autocommit=True) as conn:
        billing.report_usage(conn, client, now=datetime.now(UTC) + timedelta(hours=1))
    ours = [e for e in recorder.events if e["payload[stripe_customer_id]"] == [f"cus_{user_id}"]]
    assert [e["payload[value]"] for e in ours] == [[str(maximum)]]
    assert Decimal(ours[0]["payload[value]"][0]) * PRICE.price_cents_per_unit <= 10_000


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_negative_usage_is_billed_at_the_reserved_maximum(
    hostile_gateway: HostileGateway, stream: bool
) -> None:
    gw = hostile_gateway
    user_id = make_account(gw.db, limit_cents=10_000)  # $100
    key = make_key(gw.db, user_id)
    # -50,000,000 tokens at 0.004 cent: -$2,000.
    gw.vendor.usage = {"prompt_tokens": -50_000_000, "completion_tokens": 5, "total_tokens": -49_999_995}
    body = {**BODY, "stream": stream}
    response = post(gw, key, body)
    assert response.status_code == 200, response.text

    maximum = reserved_maximum(body)
    [(units, cost, metadata)] = _usage(gw, user_id)
    assert (units, cost) == (maximum, PRICE.cost(maximum))
    assert metadata["usage"] == "not a count of tokens: billed at the reserved maximum"
    spent, reserved = _spend(gw, user_id)
    assert spent == PRICE.cost(maximum) > 0  # not -$2,000: the spend went up, never down
    assert reserved == 0
    [(monthly,)] = query(
        gw.db, "SELECT sum(cost_cents) FROM api_usage_app_monthly WHERE user_id = %s", [user_id]
    )
    assert monthly == spent
