"""A tenant cannot send email through the platform's account as someone else's address.

Issue 13, medium item: "the email `from` address is not restricted to the tenant's verified
senders". User A has verified the domain shop-a.example; user B tries to send as A's CEO (and as
any address at all). The vendor stand-in shows whether anything was sent.
"""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from sandbox.upstreams import UpstreamStandIn
from service.gateway.errors import BillingError
from service.gateway.senders import add_sender
from tests.databases import query
from tests.gateway.conftest import RunningGateway, make_account, make_key


def _send(gw: RunningGateway, key: str, sender: str | None) -> httpx.Response:
    body: dict[str, object] = {
        "to": "victim@example.org",
        "subject": f"s-{uuid.uuid4().hex}",
        "text": "pay now",
    }
    if sender is not None:
        body["from"] = sender
    return httpx.post(f"{gw.url}/api/proxy/email/send", json=body, headers={"Authorization": f"Bearer {key}"})


def test_a_tenant_cannot_send_as_another_tenants_or_an_unverified_address(
    running_gateway: RunningGateway, upstream: tuple[UpstreamStandIn, str]
) -> None:
    gw, stand_in = running_gateway, upstream[0]
    domain_a = f"shop-a-{uuid.uuid4().hex[:6]}.example"
    user_a, user_b = make_account(gw.db), make_account(gw.db)
    key_a, key_b = make_key(gw.db, user_a), make_key(gw.db, user_b)
    with psycopg.connect(gw.db, autocommit=True) as conn:
        add_sender(conn, user_a, domain_a)
        add_sender(conn, user_b, f"news@shop-b-{uuid.uuid4().hex[:6]}.example")
        with pytest.raises(BillingError, match="verified for another user"):
            add_sender(conn, user_b, domain_a)  # B cannot claim A's domain either
    b_sender = query(gw.db, "SELECT sender FROM email_senders WHERE user_id = %s", [user_b])[0][0]

    for forged in (f"CEO <ceo@{domain_a}>", "security@bank.example", f"ceo@{domain_a.upper()}"):
        response = _send(gw, key_b, forged)
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert (error["type"], error["field"]) == ("sender_not_verified", "from")
        assert "oneclick gateway sender add" in error["message"]
    sent = [seen.body.lower() for seen in stand_in.seen("/v3/mail/send")]
    assert not [
        body for body in sent if domain_a.encode() in body or b"bank.example" in body
    ]  # nothing went out
    assert query(gw.db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_b]) == [(0,)]
    assert gw.gateway.leases.lease(user_b) is None  # refused before any of the budget was committed

    # What each may do: its own verified senders, and the platform's default sender.
    assert _send(gw, key_a, f"CEO <ceo@{domain_a}>").status_code == 200
    assert _send(gw, key_b, b_sender).status_code == 200
    assert _send(gw, key_b, None).status_code == 200
    assert _send(gw, key_b, "Any Name <noreply@example.com>").status_code == 200  # the platform's address
