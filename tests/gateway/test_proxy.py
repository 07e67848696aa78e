"""The proxy routes against the vendor stand-ins and a real PostgreSQL: metering is exact."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from sandbox.upstreams import UpstreamStandIn
from tests.databases import query
from tests.gateway.conftest import BYO_OPENAI_KEY, OPENAI_KEY, RunningGateway, make_account, make_key
from tests.helpers import wait_for

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "say something short"}], "max_tokens": 5}
# Stand-in usage: 3 words + 3 per message = 6 prompt tokens; 5 reply tokens (max_tokens).
CHAT_TOKENS = 11


def usage_rows(gw: RunningGateway, user_id: str, count: int = 1) -> list[tuple[object, ...]]:
    sql = (
        "SELECT service, units, unit_type, cost_cents, billable, app_id, request_metadata"
        " FROM api_usage WHERE user_id = %s"
    )

    def enough() -> list[tuple[object, ...]]:
        rows = query(gw.db, sql, [user_id])
        return rows if len(rows) >= count else []

    return wait_for(enough)


def spend(gw: RunningGateway, user_id: str) -> tuple[Decimal, Decimal]:
    rows = query(gw.db, "SELECT spent_cents, reserved_cents FROM api_spend WHERE user_id = %s", [user_id])
    return rows[0] if rows else (Decimal(0), Decimal(0))


@pytest.fixture
def account(running_gateway: RunningGateway) -> tuple[str, str]:
    user_id = make_account(running_gateway.db)
    return user_id, make_key(running_gateway.db, user_id, "my-saas-app")


def test_openai_chat_is_metered_exactly(running_gateway: RunningGateway, account: tuple[str, str]) -> None:
    user_id, key = account
    response = httpx.post(
        f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["total_tokens"] == CHAT_TOKENS
    assert "openai-organization" not in response.headers
    assert "set-cookie" not in response.headers
    [(service, units, unit_type, cost, billable, app_id, _)] = usage_rows(running_gateway, user_id)
    assert (service, units, unit_type, billable, app_id) == (
        "openai",
        CHAT_TOKENS,
        "tokens",
        True,
        "my-saas-app",
    )
    assert cost == Decimal("0.004") * CHAT_TOKENS  # GPT-4 class: $0.04 per 1K tokens
    assert wait_for(lambda: spend(running_gateway, user_id) == (cost, 0))
    assert query(
        running_gateway.db, "SELECT count(*) FROM api_reservations WHERE user_id = %s", [user_id]
    ) == [(0,)]
    monthly = query(
        running_gateway.db,
        "SELECT openai_tokens, total_cost_cents FROM api_usage_monthly WHERE user_id = %s",
        [user_id],
    )
    assert monthly == [(CHAT_TOKENS, cost)]


def test_openai_stream_passes_chunk_by_chunk_and_meters_the_final_usage_chunk(
    running_gateway: RunningGateway, account: tuple[str, str], upstream: tuple[UpstreamStandIn, str]
) -> None:
    user_id, key = account
    arrivals: list[float] = []
    chunks: list[bytes] = []
    start = time.monotonic()
    upstream[0].stream_delay = 0.08
    try:
        with httpx.stream(
            "POST",
            f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for chunk in response.iter_raw():
                arrivals.append(time.monotonic() - start)
                chunks.append(chunk)
    finally:
        upstream[0].stream_delay = 0.0
    text = b"".join(chunks).decode()
    # The first word reached the caller long before the stream ended: nothing was buffered.
    assert arrivals[0] < arrivals[-1] - 0.25
    assert text.rstrip().endswith("data: [DONE]")
    final = [
        json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {") and '"usage"' in line
    ]
    assert final[-1]["usage"]["total_tokens"] == CHAT_TOKENS
    # The caller did not ask for the usage chunk; the gateway asked the upstream for it.
    sent = json.loads(upstream[0].seen("/v1/chat/completions")[-1].body)
    assert sent["stream_options"] == {"include_usage": True}
    [(service, units, *_rest)] = usage_rows(running_gateway, user_id)
    assert (service, units) == ("openai", CHAT_TOKENS)


def test_anthropic_messages_json_and_stream_are_metered_exactly(
    running_gateway: RunningGateway, account: tuple[str, str]
) -> None:
    user_id, key = account
    body = {
        "model": "claude-sonnet-4",
        "max_tokens": 4,
        "messages": [{"role": "user", "content": "hello there"}],
    }
    headers = {"x-api-key": key}  # the Anthropic SDK's header works for the gateway key too
    url = f"{running_gateway.url}/api/proxy/anthropic/v1/messages"
    plain = httpx.post(url, json=body, headers=headers)
    assert plain.status_code == 200, plain.text
    assert plain.json()["usage"] == {"input_tokens": 5, "output_tokens": 4}
    streamed = httpx.post(url, json={**body, "stream": True}, headers=headers)
    assert streamed.status_code == 200
    assert "event: message_delta" in streamed.text
    rows = usage_rows(running_gateway, user_id, 2)
    assert sorted((r[0], r[1], r[3]) for r in rows) == [("anthropic", 9, Decimal("0.018"))] * 2


def test_email_sms_and_storage_are_metered_per_recipient_segment_and_byte(
    running_gateway: RunningGateway, account: tuple[str, str], upstream: tuple[UpstreamStandIn, str]
) -> None:
    user_id, key = account
    auth = {"Authorization": f"Bearer {key}"}
    email = httpx.post(
        f"{running_gateway.url}/api/proxy/email/send",
        json={
            "to": ["a@example.com", "B <b@example.com>"],
            "cc": "c@example.com",
            "subject": "Hi",
            "text": "Hello",
        },
        headers=auth,
    )
    assert email.status_code == 200, email.text
    assert email.json()["recipients"] == 3
    assert email.json()["provider"] == "sendgrid"
    sendgrid = json.loads(upstream[0].seen("/v3/mail/send")[-1].body)
    assert sendgrid["personalizations"][0]["to"][1] == {"email": "b@example.com", "name": "B"}
    sms = httpx.post(
        f"{running_gateway.url}/api/proxy/sms/send",
        json={"to": "+14155550123", "body": "x" * 200},
        headers=auth,
    )
    assert sms.status_code == 200, sms.text
    assert sms.json()["segments"] == 2
    upload = httpx.post(
        f"{running_gateway.url}/api/proxy/storage/upload",
        params={"key": "images/logo.png"},
        content=b"\x89PNG" + b"0" * 996,
        headers={**auth, "content-type": "image/png"},
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["key"] == f"{user_id}/my-saas-app/images/logo.png"
    assert (
        upstream[0].seen("/platform-bucket/")[-1].path
        == f"/platform-bucket/{user_id}/my-saas-app/images/logo.png"
    )
    rows = {r[0]: (r[1], r[3]) for r in usage_rows(running_gateway, user_id, 3)}
    assert rows == {
        "email": (3, Decimal("0.3")),
        "sms": (2, Decimal("2")),
        "storage": (1000, Decimal("0.000002")),
    }


def test_byo_key_forwards_the_callers_key_and_bills_nothing(
    running_gateway: RunningGateway, upstream: tuple[UpstreamStandIn, str]
) -> None:
    user_id = make_account(running_gateway.db, limit_cents=0)  # could not afford a single platform call
    key = make_key(running_gateway.db, user_id, "byo-app", mode="byo")
    response = httpx.post(
        f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
        json=CHAT,
        headers={"X-Oneclick-Key": key, "Authorization": f"Bearer {BYO_OPENAI_KEY}"},
    )
    assert response.status_code == 200, response.text
    assert upstream[0].seen("/v1/chat/completions")[-1].headers["authorization"] == f"Bearer {BYO_OPENAI_KEY}"
    [(service, units, _, cost, billable, _, metadata)] = usage_rows(running_gateway, user_id)
    assert (service, units, cost, billable, metadata["byo"]) == ("openai", CHAT_TOKENS, 0, False, True)
    assert query(running_gateway.db, "SELECT count(*) FROM api_spend WHERE user_id = %s", [user_id]) == [(0,)]
    missing = httpx.post(
        f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
        json=CHAT,
        headers={"X-Oneclick-Key": key},
    )
    assert missing.status_code == 401
    assert "your own OpenAI key" in missing.json()["error"]["message"]


def test_platform_key_replaces_whatever_the_caller_sent(
    running_gateway: RunningGateway, account: tuple[str, str], upstream: tuple[UpstreamStandIn, str]
) -> None:
    _, key = account
    response = httpx.post(
        f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
        json=CHAT,
        headers={"X-Oneclick-Key": key, "Authorization": "Bearer sk-someone-else"},
    )
    assert response.status_code == 200
    assert upstream[0].seen("/v1/chat/completions")[-1].headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_billing_not_set_up_is_a_clear_402(running_gateway: RunningGateway) -> None:
    user_id = make_account(running_gateway.db, status="past_due")
    key = make_key(running_gateway.db, user_id)
    response = httpx.post(
        f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 402
    assert response.json()["error"]["type"] == "payment_required"
    assert "past_due" in response.json()["error"]["message"]


def test_spend_limit_refusal_names_the_limit_and_current_spend(running_gateway: RunningGateway) -> None:
    user_id = make_account(running_gateway.db, limit_cents=1)
    key = make_key(running_gateway.db, user_id)
    response = httpx.post(
        f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
        json={**CHAT, "max_tokens": 4000},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["type"] == "spend_limit_reached"
    assert error["limit_cents"] == 1
    assert Decimal(error["spent_cents"]) == 0
    assert "limit $0.01, spent $0.00" in error["message"]
    assert "max_tokens" in error["message"]


def test_a_stream_the_caller_abandons_is_settled_from_what_passed(
    running_gateway: RunningGateway, account: tuple[str, str], upstream: tuple[UpstreamStandIn, str]
) -> None:
    user_id, key = account
    upstream[0].stream_delay = 0.2
    try:
        with httpx.stream(
            "POST",
            f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            for _ in response.iter_raw():
                break  # the caller goes away after the first word
    finally:
        upstream[0].stream_delay = 0.0
    [(_, units, _, cost, _, _, metadata)] = usage_rows(running_gateway, user_id)
    assert metadata["usage"] == "estimated: stream cut short"
    assert 0 < units < 100  # what passed, not the reserved maximum
    assert cost == Decimal("0.004") * units
    assert wait_for(lambda: spend(running_gateway, user_id) == (cost, 0))
