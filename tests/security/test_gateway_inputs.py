"""Hostile request bodies get a 400 in the gateway's error shape, never a 500, and cost nothing.

Issue 13, medium item: "500 on deeply nested JSON and on numbers out of range". Each body goes to
the real gateway; afterwards the account has no usage, no spend and no reservation.
"""

from __future__ import annotations

import httpx
import pytest

from tests.databases import query
from tests.gateway.conftest import RunningGateway, make_account, make_key

NESTED = b'{"model": "gpt-4o", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
HUGE_INT = b"9" * 5000  # more digits than Python converts to int by default


@pytest.mark.parametrize(
    ("path", "body", "fragment", "field"),
    [
        ("/api/proxy/openai/v1/chat/completions", NESTED, "nested too deeply", None),
        ("/api/proxy/anthropic/v1/messages", NESTED, "nested too deeply", None),
        (
            "/api/proxy/email/send",
            b'{"to": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "nested too deeply",
            None,
        ),
        (
            "/api/proxy/sms/send",
            b'{"to": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "nested too deeply",
            None,
        ),
        (
            "/api/proxy/openai/v1/chat/completions",
            b'{"model": "gpt-4o", "messages": [], "max_tokens": 100000000000000000000000000000}',
            "max_tokens: at most",
            "max_tokens",
        ),
        (
            "/api/proxy/openai/v1/chat/completions",
            b'{"model": "gpt-4o", "messages": [], "max_tokens": 5, "n": 99999999999999999999}',
            "n: at most",
            "n",
        ),
        (
            "/api/proxy/anthropic/v1/messages",
            b'{"model": "claude", "messages": [], "max_tokens": 9223372036854775808}',
            "max_tokens: at most",
            "max_tokens",
        ),
        (
            "/api/proxy/openai/v1/chat/completions",
            b'{"model": "gpt-4o", "max_tokens": ' + HUGE_INT + b"}",
            "number too large",
            None,
        ),
        (
            "/api/proxy/openai/v1/chat/completions",
            b'{"model": "gpt-4o", "max_tokens": 1e400}',
            "max_tokens",
            "max_tokens",
        ),
    ],
    ids=[
        "nested-openai",
        "nested-anthropic",
        "nested-email",
        "nested-sms",
        "max-tokens-1e29",
        "n-1e20",
        "max-tokens-2^63",
        "5000-digit-int",
        "float-infinity",
    ],
)
def test_hostile_bodies_are_400_and_cost_nothing(
    running_gateway: RunningGateway, path: str, body: bytes, fragment: str, field: str | None
) -> None:
    gw = running_gateway
    user_id = make_account(gw.db)
    key = make_key(gw.db, user_id)
    response = httpx.post(
        f"{gw.url}{path}",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) >= {"type", "message"}
    assert fragment in error["message"]
    assert error.get("field", error.get("details", {}).get("field")) == field  # Anthropic's: in details
    assert "Traceback" not in response.text
    assert len(response.text) < 1000
    assert query(gw.db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(0,)]
    assert gw.gateway.leases.lease(user_id) is None  # refused before any of the budget was committed
    assert query(gw.db, "SELECT count(*) FROM api_spend WHERE user_id = %s", [user_id]) == [(0,)]


def test_usage_api_numbers_out_of_range_are_400(running_gateway: RunningGateway) -> None:
    gw = running_gateway
    key = make_key(gw.db, make_account(gw.db))
    auth = {"Authorization": f"Bearer {key}"}
    for months in ("9" * 5000, "²", "99999999999999999999"):
        response = httpx.get(f"{gw.url}/api/usage/history", params={"months": months}, headers=auth)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["field"] == "months"
    nested = b'{"thresholds_percent": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = httpx.put(f"{gw.url}/api/usage/alerts", content=nested, headers=auth)
    assert response.status_code in (400, 413), response.text  # the alerts body is capped at 10 kB
    assert response.json()["error"]["type"] in ("malformed_json", "payload_too_large")
    deep = b'{"thresholds_percent": ' + b"[" * 4000 + b"]" * 4000 + b"}"
    response = httpx.put(f"{gw.url}/api/usage/alerts", content=deep, headers=auth)
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["error"]["message"]
