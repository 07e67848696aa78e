"""Stripe's subscription events keep "billing active" true to Stripe; unsigned events are refused."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from sandbox.upstreams import UpstreamStandIn
from service.gateway.app import create_app
from service.gateway.settings import Secret
from tests.databases import query
from tests.gateway.conftest import RunningGateway, make_account, make_key
from tests.gateway.servers import ServerThread
from tests.helpers import stripe_signed

SECRET = "whsec_test_0123456789abcdef"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def event(kind: str, subscription: dict[str, object], created: int | None = None) -> bytes:
    body = {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "created": created or int(time.time()),
        "data": {"object": {"object": "subscription", **subscription}},
    }
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def hooked(
    running_gateway: RunningGateway,
    upstream: tuple[UpstreamStandIn, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    settings = replace(
        running_gateway.settings,
        stripe_webhook_secret=Secret(SECRET),
        journal_dir=tmp_path_factory.mktemp("hooked-journal"),
    )
    server = ServerThread(create_app(settings)).start()
    yield server.url
    server.stop()


def test_a_failed_payment_stops_platform_calls_until_it_is_paid(
    running_gateway: RunningGateway, hooked: str
) -> None:
    user_id = make_account(running_gateway.db)
    query(
        running_gateway.db,
        "UPDATE user_subscriptions SET stripe_subscription_id = %s WHERE user_id = %s RETURNING 1",
        [f"sub_{user_id}", user_id],
    )
    key = make_key(running_gateway.db, user_id)
    call = f"{hooked}/api/proxy/openai/v1/chat/completions"
    auth = {"Authorization": f"Bearer {key}"}
    past_due = event(
        "customer.subscription.updated",
        {
            "id": f"sub_{user_id}",
            "status": "past_due",
            "customer": f"cus_{user_id}",
            "current_period_start": 1700000000,
            "current_period_end": 1702592000,
        },
    )
    assert (
        httpx.post(
            f"{hooked}/api/stripe/webhook", content=past_due, headers=stripe_signed(past_due, SECRET)
        ).status_code
        == 200
    )
    refused = httpx.post(call, json=CHAT, headers=auth)
    assert refused.status_code == 429  # OpenAI's insufficient_quota (402 on the gateway's own routes)
    assert refused.json()["error"]["code"] == "payment_required"
    assert "past_due" in refused.json()["error"]["message"]
    paid = event(
        "customer.subscription.updated",
        {"id": f"sub_{user_id}", "status": "active", "customer": f"cus_{user_id}"},
    )
    assert (
        httpx.post(
            f"{hooked}/api/stripe/webhook", content=paid, headers=stripe_signed(paid, SECRET)
        ).status_code
        == 200
    )
    assert httpx.post(call, json=CHAT, headers=auth).status_code == 200
    [(status, start)] = query(
        running_gateway.db,
        "SELECT status, extract(epoch FROM current_period_start)::bigint FROM user_subscriptions "
        "WHERE user_id = %s",
        [user_id],
    )
    assert (status, start) == ("active", 1700000000)


def test_unsigned_or_wrongly_signed_events_are_400(hooked: str, running_gateway: RunningGateway) -> None:
    payload = event(
        "customer.subscription.deleted", {"id": "sub_x", "status": "canceled", "customer": "cus_x"}
    )
    for headers in ({}, stripe_signed(payload, "whsec_someone_else")):
        response = httpx.post(f"{hooked}/api/stripe/webhook", content=payload, headers=headers)
        assert response.status_code == 400
        assert "Stripe-signed" in response.json()["error"]["message"]
    unconfigured = httpx.post(
        f"{running_gateway.url}/api/stripe/webhook", content=payload, headers=stripe_signed(payload, SECRET)
    )
    assert unconfigured.status_code == 503
