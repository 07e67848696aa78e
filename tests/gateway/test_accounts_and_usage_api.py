"""Twilio subaccounts and SendGrid subusers, and the usage dashboard's API."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import psycopg
import pytest

from sandbox.upstreams import UpstreamStandIn
from service.gateway.errors import BillingError
from service.gateway.subaccounts import create_sendgrid_subuser, create_twilio_subaccount
from tests.databases import query
from tests.gateway.conftest import (
    SENDGRID_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    RunningGateway,
    make_account,
    make_key,
)
from tests.helpers import wait_for

CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "say something short"}], "max_tokens": 5}
ADMIN = {"Authorization": "Bearer admin-token-for-tests-0001"}


@pytest.fixture
def conn(running_gateway: RunningGateway) -> Any:
    with psycopg.connect(running_gateway.db, autocommit=True) as connection:
        yield connection


def test_twilio_subaccount_is_made_once_and_carries_the_users_sms(
    running_gateway: RunningGateway, upstream: tuple[UpstreamStandIn, str], conn: psycopg.Connection[Any]
) -> None:
    user_id = make_account(running_gateway.db)
    with httpx.Client() as http:
        sid = create_twilio_subaccount(conn, http, running_gateway.settings.upstreams, user_id, "My app")
        assert (
            create_twilio_subaccount(conn, http, running_gateway.settings.upstreams, user_id, "My app") == sid
        )
    made = upstream[0].seen("/2010-04-01/Accounts.json")
    assert len([m for m in made if f"User-{user_id}".encode() in m.body]) == 1
    assert (
        made[-1].headers["authorization"]
        == "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    )
    assert query(
        running_gateway.db, "SELECT external_id FROM provider_subaccounts WHERE user_id = %s", [user_id]
    ) == [(sid,)]
    key = make_key(running_gateway.db, user_id)
    sent = httpx.post(
        f"{running_gateway.url}/api/proxy/sms/send",
        json={"to": "+14155550123", "body": "hello"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert sent.status_code == 200
    assert upstream[0].seen(f"/2010-04-01/Accounts/{sid}/Messages.json")


def test_sendgrid_subuser_is_made_once_and_sends_on_behalf_of_the_user(
    running_gateway: RunningGateway, upstream: tuple[UpstreamStandIn, str], conn: psycopg.Connection[Any]
) -> None:
    user_id = make_account(running_gateway.db)
    up = running_gateway.settings.upstreams
    with httpx.Client() as http:
        with pytest.raises(BillingError, match="sending IP"):
            create_sendgrid_subuser(conn, http, up, user_id, "u@example.com", [])
        name = create_sendgrid_subuser(conn, http, up, user_id, "u@example.com", ["203.0.113.7"])
        assert create_sendgrid_subuser(conn, http, up, user_id, "u@example.com", ["203.0.113.7"]) == name
    request = upstream[0].seen("/v3/subusers")[-1]
    assert request.headers["authorization"] == f"Bearer {SENDGRID_KEY}"
    assert json.loads(request.body)["ips"] == ["203.0.113.7"]
    key = make_key(running_gateway.db, user_id)
    sent = httpx.post(
        f"{running_gateway.url}/api/proxy/email/send",
        json={"to": "a@example.com", "subject": "s", "text": "t"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert sent.status_code == 200
    assert upstream[0].seen("/v3/mail/send")[-1].headers["on-behalf-of"] == name


def test_usage_current_history_apps_and_alerts(running_gateway: RunningGateway) -> None:
    user_id = make_account(running_gateway.db, limit_cents=20)  # 20 cents: a few calls pass 1%
    saas, portal = (
        make_key(running_gateway.db, user_id, "my-saas-app"),
        make_key(running_gateway.db, user_id, "portal"),
    )
    url = running_gateway.url
    set_alerts = httpx.put(
        f"{url}/api/usage/alerts",
        json={"thresholds_percent": [1, 90]},
        headers={"Authorization": f"Bearer {saas}"},
    )
    assert set_alerts.json()["thresholds_percent"] == [1, 90]
    for key, count in ((saas, 3), (portal, 1)):
        for _ in range(count):
            assert (
                httpx.post(
                    f"{url}/api/proxy/openai/v1/chat/completions",
                    json=CHAT,
                    headers={"Authorization": f"Bearer {key}"},
                ).status_code
                == 200
            )
    assert (
        httpx.post(
            f"{url}/api/proxy/email/send",
            json={"to": "a@b.co", "subject": "s", "text": "t"},
            headers={"Authorization": f"Bearer {saas}"},
        ).status_code
        == 200
    )

    def current() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(
            f"{url}/api/usage/current", params={"user_id": user_id}, headers=ADMIN
        ).json()
        return body if sum(s["calls"] for s in body["services"]) == 5 and body["alerts"]["triggered"] else {}

    usage = wait_for(current)
    assert usage["spend_limit_cents"] == 20
    assert usage["spent_cents_exact"] == "0.276000"  # 4 x 11 tokens x 0.004 + 1 email x 0.1
    assert usage["billing_status"] == "active"
    assert {s["service"]: s["units"] for s in usage["services"]} == {"openai": 44, "email": 1}
    assert [a["app_id"] for a in usage["apps"]] == ["my-saas-app", "portal"]
    assert usage["apps"][0]["share_percent"] == 84.1  # (0.132 + 0.1) / 0.276
    assert [a["threshold_percent"] for a in usage["alerts"]["triggered"]] == [1]  # 1.38% of the limit
    history = httpx.get(
        f"{url}/api/usage/history", params={"user_id": user_id, "months": 3}, headers=ADMIN
    ).json()
    assert len(history["months"]) == 1
    assert history["months"][0]["total_cost_cents"] == 0
    apps = httpx.get(f"{url}/api/usage/apps", headers={"Authorization": f"Bearer {portal}"}).json()
    assert apps["user_id"] == user_id
    assert apps["apps"][1]["services"] == [
        {"service": "openai", "unit_type": "tokens", "calls": 1, "units": 11, "cost_cents": 0}
    ]


def test_usage_api_refuses_missing_credentials_and_bad_parameters(running_gateway: RunningGateway) -> None:
    url = running_gateway.url
    assert httpx.get(f"{url}/api/usage/current").status_code == 401
    assert (
        httpx.get(f"{url}/api/usage/current", headers=ADMIN).json()["error"]["message"].startswith("user_id")
    )
    bad_month = httpx.get(
        f"{url}/api/usage/apps", params={"user_id": "u", "period": "12/2025"}, headers=ADMIN
    )
    assert bad_month.status_code == 400
    assert "YYYY-MM" in bad_month.json()["error"]["message"]
    assert (
        httpx.get(
            f"{url}/api/usage/history", params={"user_id": "u", "months": "99"}, headers=ADMIN
        ).status_code
        == 400
    )
