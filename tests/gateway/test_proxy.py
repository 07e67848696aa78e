"""The proxy routes against the vendor stand-ins and a real PostgreSQL: metering is exact."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.upstreams import UpstreamStandIn
from service.gateway import llm
from tests.databases import query
from tests.gateway.conftest import BYO_OPENAI_KEY, OPENAI_KEY, RunningGateway, make_account, make_key
from tests.helpers import wait_for

CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "say something short"}], "max_tokens": 5}
# Stand-in usage: 3 words + 3 per message = 6 prompt tokens; 5 reply tokens (max_tokens).
CHAT_TOKENS = 11


def usage_rows(gw: RunningGateway, user_id: str, count: int = 1) -> list[tuple[Any, ...]]:
    sql = (
        "SELECT service, units, unit_type, cost_cents, billable, app_id, request_metadata"
        " FROM api_usage WHERE user_id = %s"
    )

    def enough() -> list[tuple[Any, ...]]:
        rows = query(gw.db, sql, [user_id])
        return rows if len(rows) >= count else []

    return wait_for(enough)


def spend(gw: RunningGateway, user_id: str) -> tuple[Any, ...]:
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
    assert text.endswith("data: [DONE]\n\n")
    # The caller did not ask for the usage chunk: the gateway asked the upstream for it, metered it
    # and left it out, so every chunk the caller sees has a choice (OpenAI's quickstart loop).
    sent = json.loads(upstream[0].seen("/v1/chat/completions")[-1].body)
    assert sent["stream_options"] == {"include_usage": True}
    events = _events(text)
    assert len(events) == 5
    assert all(event["choices"] for event in events)
    [(service, units, *_rest)] = usage_rows(running_gateway, user_id)
    assert (service, units) == ("openai", CHAT_TOKENS)


def _events(text: str) -> list[dict[str, Any]]:
    assert "\n\n\n" not in text  # a dropped event leaves no stray blank line behind
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


@pytest.mark.parametrize(
    ("options", "relayed"),
    [({"include_usage": True}, True), ({"include_usage": False}, False), ({}, False)],
    ids=["asked", "declined", "empty-options"],
)
def test_the_usage_chunk_reaches_the_caller_only_when_asked_for(
    running_gateway: RunningGateway,
    account: tuple[str, str],
    upstream: tuple[UpstreamStandIn, str],
    options: dict[str, bool],
    relayed: bool,
) -> None:
    user_id, key = account
    response = httpx.post(
        f"{running_gateway.url}/api/proxy/openai/v1/chat/completions",
        json={**CHAT, "stream": True, "stream_options": options},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    sent = json.loads(upstream[0].seen("/v1/chat/completions")[-1].body)
    assert sent["stream_options"]["include_usage"] is True  # metering needs it either way
    usage = [event for event in _events(response.text) if event.get("usage")]
    assert usage == ([{**usage[0], "choices": []}] if relayed else [])
    if relayed:
        assert usage[0]["usage"]["total_tokens"] == CHAT_TOKENS
    assert response.text.endswith("data: [DONE]\n\n")
    [(_, units, *_rest)] = usage_rows(running_gateway, user_id)
    assert units == CHAT_TOKENS


def test_a_usage_chunk_split_across_reads_is_still_left_out() -> None:
    meter = llm.StreamMeter("openai", hide_usage_chunk=True)
    stream = (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":6,"completion_tokens":1,"total_tokens":7}}\n\n'
        b"data: [DONE]\n\n"
    )
    relayed = b"".join(meter.feed(stream[i : i + 7]) for i in range(0, len(stream), 7)) + meter.end()
    assert relayed == (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}\n\ndata: [DONE]\n\n'
    )
    assert meter.total == 7


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
    # Claude Sonnet: $3 in / $15 out per 1M blended 3:1 is $6, plus a third: 0.0008 cent a token.
    assert sorted((r[0], r[1], r[3]) for r in rows) == [("anthropic", 9, Decimal("0.0072"))] * 2


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


ANTHROPIC_CHAT = {
    "model": "claude-sonnet-4",
    "max_tokens": 4,
    "messages": [{"role": "user", "content": "hi"}],
}


def _refusals(gw: RunningGateway, key: str, **extra: object) -> dict[str, httpx.Response]:
    auth = {"Authorization": f"Bearer {key}"}
    return {
        "openai": httpx.post(
            f"{gw.url}/api/proxy/openai/v1/chat/completions", json={**CHAT, **extra}, headers=auth
        ),
        "anthropic": httpx.post(
            f"{gw.url}/api/proxy/anthropic/v1/messages", json={**ANTHROPIC_CHAT, **extra}, headers=auth
        ),
        "email": httpx.post(
            f"{gw.url}/api/proxy/email/send", json={"to": "a@b.co", "subject": "s", "text": "t"}, headers=auth
        ),
    }


def test_billing_not_set_up_is_refused_in_each_vendors_terms(running_gateway: RunningGateway) -> None:
    user_id = make_account(running_gateway.db, status="past_due")
    refused = _refusals(running_gateway, make_key(running_gateway.db, user_id))
    openai, anthropic, email = refused["openai"], refused["anthropic"], refused["email"]
    # OpenAI answers billing trouble with 429 insufficient_quota, Anthropic with 402 billing_error.
    assert openai.status_code == 429
    assert openai.headers["x-should-retry"] == "false"  # the SDKs would otherwise retry a 429
    error = openai.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("insufficient_quota", "payment_required", None)
    assert "past_due" in error["message"]
    assert anthropic.status_code == 402
    body = anthropic.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "billing_error"
    assert body["error"]["details"]["error_code"] == "payment_required"
    assert "past_due" in body["error"]["message"]
    assert email.status_code == 402  # the gateway's own routes keep its own status and shape
    assert (email.json()["error"]["type"], email.json()["error"]["code"]) == ("payment_required",) * 2


def test_spend_limit_refusal_names_the_limit_and_current_spend(running_gateway: RunningGateway) -> None:
    user_id = make_account(running_gateway.db, limit_cents=1)
    refused = _refusals(running_gateway, make_key(running_gateway.db, user_id), max_tokens=4000)
    assert refused["openai"].status_code == 429
    error = refused["openai"].json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "spend_limit_reached")
    assert error["limit_cents"] == 1
    assert Decimal(error["spent_cents"]) == 0
    assert "limit $0.01, spent $0.00" in error["message"]
    assert "max_tokens" in error["message"]
    assert refused["anthropic"].status_code == 429
    assert refused["anthropic"].headers["x-should-retry"] == "false"
    anthropic = refused["anthropic"].json()["error"]
    assert anthropic["type"] == "rate_limit_error"
    assert anthropic["details"]["error_code"] == "spend_limit_reached"
    assert anthropic["details"]["limit_cents"] == 1
    assert refused["email"].status_code == 200  # 0.1 cent: within the limit (its 402: test_spend_limits)


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
