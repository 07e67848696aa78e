"""A late or replayed Stripe webhook cannot re-activate a canceled subscription.

Issue 13, medium item. Stripe delivers events out of order and retries them for days; the attacker
(or just the network) delivers an old `customer.subscription.updated` (status active) after the
`customer.subscription.deleted`. Events are signed exactly as Stripe signs them and go through the
real gateway's webhook route; the platform-key call afterwards shows whether billing is active.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx

from tests.databases import query
from tests.gateway.conftest import make_account, make_key
from tests.helpers import stripe_signed
from tests.security.gateway_fixtures import WEBHOOK_SECRET, HostileGateway

EMAIL = {"to": "someone@example.com", "subject": "Hi", "text": "Hello"}


def event(kind: str, subscription: str, customer: str, status: str, created: int) -> bytes:
    body = {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "created": created,
        "data": {
            "object": {"object": "subscription", "id": subscription, "customer": customer, "status": status}
        },
    }
    return json.dumps(body).encode()


def deliver(gw: HostileGateway, payload: bytes) -> dict[str, object]:
    response = httpx.post(
        f"{gw.url}/api/stripe/webhook", content=payload, headers=stripe_signed(payload, WEBHOOK_SECRET)
    )
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_a_late_or_replayed_event_cannot_reactivate_a_canceled_subscription(
    hostile_gateway: HostileGateway,
) -> None:
    gw = hostile_gateway
    user_id = make_account(gw.db)
    subscription, customer = f"sub_{user_id}", f"cus_{user_id}"
    query(
        gw.db,
        "UPDATE user_subscriptions SET stripe_subscription_id = %s WHERE user_id = %s RETURNING 1",
        [subscription, user_id],
    )
    key = make_key(gw.db, user_id)
    now = int(time.time())
    renewed = event("customer.subscription.updated", subscription, customer, "active", now - 120)
    canceled = event("customer.subscription.deleted", subscription, customer, "canceled", now - 60)
    deliver(gw, renewed)
    deliver(gw, canceled)

    def email() -> httpx.Response:
        return httpx.post(
            f"{gw.url}/api/proxy/email/send", json=EMAIL, headers={"Authorization": f"Bearer {key}"}
        )

    refused = email()
    assert refused.status_code == 402
    assert "canceled" in refused.json()["error"]["message"]

    # The old event again (a replay), an even older one arriving late, and one made in the same
    # second as the cancellation: none may bring the subscription back.
    late = event("customer.subscription.updated", subscription, customer, "active", now - 600)
    same_second = event("customer.subscription.updated", subscription, customer, "active", now - 60)
    answers = [deliver(gw, payload) for payload in (renewed, late, same_second)]

    assert query(gw.db, "SELECT status FROM user_subscriptions WHERE user_id = %s", [user_id]) == [
        ("canceled",)
    ]
    assert email().status_code == 402
    assert query(gw.db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(0,)]
    assert [answer.get("applied") for answer in answers] == [False, False, False]  # acknowledged, ignored
