"""The official `anthropic` Python SDK, unchanged, against the gateway (issue 15, G2 G3 G4 G5).

The SDK is pointed at the gateway only through its documented settings, `base_url` and `api_key`
(or `auth_token`), plus `default_headers` for the bring-your-own-key header. It sends either
credential as `Authorization: Bearer`, which is what G2 was about.
"""

from __future__ import annotations

import anthropic
import pytest
from anthropic import Anthropic
from anthropic.types import MessageParam

from sandbox.upstreams import UpstreamStandIn
from service.gateway.pricing import PriceTable
from tests.gateway import conftest as gateway
from tests.gateway.conftest import BYO_ANTHROPIC_KEY, RunningGateway, make_account, make_key
from tests.gateway.usage_checks import no_usage, spent, usage_api_units, usage_rows

# The gateway's fixtures, for this module: a migrated database, the vendor stand-ins, a gateway.
gateway_db = gateway.gateway_db
upstream = gateway.upstream
running_gateway = gateway.running_gateway

MESSAGES: list[MessageParam] = [{"role": "user", "content": "hello there"}]
MODEL = "claude-sonnet-4-6"
PRICES = PriceTable()


def sdk(gw: RunningGateway, **options: object) -> Anthropic:
    return Anthropic(base_url=f"{gw.url}/api/proxy/anthropic", **options)  # type: ignore[arg-type]


@pytest.fixture
def account(running_gateway: RunningGateway) -> tuple[str, str]:
    user_id = make_account(running_gateway.db)
    return user_id, make_key(running_gateway.db, user_id, "sdk-app")


def test_a_message_is_metered_as_the_sdk_reports(
    running_gateway: RunningGateway, account: tuple[str, str]
) -> None:
    user_id, key = account
    message = sdk(running_gateway, api_key=key).messages.create(model=MODEL, max_tokens=4, messages=MESSAGES)
    assert message.content[0].type == "text"
    assert message.content[0].text == "The quick brown fox"
    tokens = message.usage.input_tokens + message.usage.output_tokens
    [row] = usage_rows(running_gateway.db, user_id, 1)
    assert (row["service"], row["units"], row["billable"]) == ("anthropic", tokens, True)
    assert row["price_key"] == "anthropic_sonnet_tokens"
    assert row["cost_cents"] == PRICES.by_key("anthropic_sonnet_tokens").cost(tokens)
    assert usage_api_units(running_gateway.url, key, 1) == {"anthropic": tokens}


def test_streamed_messages_are_metered_as_the_sdk_reports(
    running_gateway: RunningGateway, account: tuple[str, str]
) -> None:
    user_id, key = account
    client = sdk(running_gateway, api_key=key)
    with client.messages.stream(model=MODEL, max_tokens=6, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.split() == ["The", "quick", "brown", "fox", "jumps", "over"]
    events = [
        event.type
        for event in client.messages.create(model=MODEL, max_tokens=6, messages=MESSAGES, stream=True)
    ]
    assert events[0] == "message_start"
    assert events[-2:] == ["message_delta", "message_stop"]
    tokens = final.usage.input_tokens + final.usage.output_tokens
    rows = usage_rows(running_gateway.db, user_id, 2)
    assert [row["units"] for row in rows] == [tokens, tokens]
    assert all(row["metadata"]["stream"] for row in rows)


def test_count_tokens_and_models_pass_through_unmetered(
    running_gateway: RunningGateway, account: tuple[str, str], upstream: tuple[UpstreamStandIn, str]
) -> None:
    user_id, key = account
    client = sdk(running_gateway, api_key=key)
    counted = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    message = client.messages.create(model=MODEL, max_tokens=1, messages=MESSAGES)
    assert counted.input_tokens == message.usage.input_tokens
    assert (
        upstream[0].seen("/v1/messages/count_tokens")[-1].headers["x-api-key"].startswith("sk-ant-platform")
    )
    assert [model.id for model in client.models.list()] == ["claude-sonnet-4-6", "claude-haiku-4-5"]
    assert client.models.retrieve("claude-haiku-4-5").display_name == "claude-haiku-4-5"
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-none")
    [row] = usage_rows(running_gateway.db, user_id, 1)  # the message only
    assert row["endpoint"] == "v1/messages"


def test_gateway_errors_are_the_sdks_exception_types(running_gateway: RunningGateway) -> None:
    with pytest.raises(anthropic.AuthenticationError) as unknown:
        sdk(running_gateway, api_key="ocgw_" + "z" * 43).messages.create(
            model=MODEL, max_tokens=4, messages=MESSAGES
        )
    assert (unknown.value.type, unknown.value.error_code) == ("authentication_error", "invalid_gateway_key")
    assert unknown.value.api_message is not None
    assert "not recognised or revoked" in unknown.value.api_message

    user_id = make_account(running_gateway.db, limit_cents=1)
    client = sdk(running_gateway, api_key=make_key(running_gateway.db, user_id))
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.create(model="claude-opus-4-1", max_tokens=4000, messages=MESSAGES)
    assert (limited.value.type, limited.value.error_code) == ("rate_limit_error", "spend_limit_reached")
    assert limited.value.response.request.headers["x-stainless-retry-count"] == "0"  # not retried

    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model=MODEL, max_tokens=-5, messages=MESSAGES)
    assert (bad.value.type, bad.value.error_code) == ("invalid_request_error", "invalid_request")
    assert "max_tokens: must be a non-negative integer" in (bad.value.api_message or "")

    past_due = make_key(running_gateway.db, make_account(running_gateway.db, status="past_due"))
    with pytest.raises(anthropic.PaymentRequiredError) as unpaid:
        sdk(running_gateway, api_key=past_due).messages.create(model=MODEL, max_tokens=4, messages=MESSAGES)
    assert (unpaid.value.type, unpaid.value.error_code) == ("billing_error", "payment_required")
    assert no_usage(running_gateway.db, user_id)


@pytest.mark.parametrize("credential", ["api_key", "auth_token"])
def test_bring_your_own_key_sent_as_bearer_works_and_bills_nothing(
    running_gateway: RunningGateway, upstream: tuple[UpstreamStandIn, str], credential: str
) -> None:
    user_id = make_account(running_gateway.db, limit_cents=0)
    gateway_key = make_key(running_gateway.db, user_id, "byo-app", mode="byo")
    client = sdk(
        running_gateway, **{credential: BYO_ANTHROPIC_KEY}, default_headers={"X-Oneclick-Key": gateway_key}
    )
    message = client.messages.create(model=MODEL, max_tokens=4, messages=MESSAGES)
    sent = upstream[0].seen("/v1/messages")[-1].headers
    assert sent["authorization"] == f"Bearer {BYO_ANTHROPIC_KEY}"  # forwarded as the SDK sent it
    assert gateway_key not in str(sent)
    assert client.messages.count_tokens(model=MODEL, messages=MESSAGES).input_tokens == 5
    [row] = usage_rows(running_gateway.db, user_id, 1)
    tokens = message.usage.input_tokens + message.usage.output_tokens
    assert (row["units"], row["billable"], row["cost_cents"]) == (tokens, False, 0)
    assert spent(running_gateway.db, user_id) == 0
    # Without an own key the gateway key is not sent on to Anthropic: a clear 401 instead.
    alone = sdk(running_gateway, api_key=gateway_key)
    with pytest.raises(anthropic.AuthenticationError) as refused:
        alone.messages.create(model=MODEL, max_tokens=4, messages=MESSAGES)
    assert "send your own Anthropic key" in (refused.value.api_message or "")
