"""The official `openai` Python SDK, unchanged, against the gateway (issue 15, G1 G3 G4 G5).

The SDK is pointed at the gateway only through its documented settings, `base_url` and `api_key`
(plus `default_headers` for the bring-your-own-key header), and everything it reports is checked
against what the gateway metered, in its tables and through its usage API.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from sandbox.upstreams import UpstreamStandIn
from service.gateway.app import create_app
from service.gateway.pricing import PriceTable
from tests.gateway import conftest as gateway
from tests.gateway.conftest import BYO_OPENAI_KEY, RunningGateway, make_account, make_key
from tests.gateway.servers import ServerThread
from tests.gateway.usage_checks import no_usage, spent, usage_api_units, usage_rows
from tests.helpers import free_port

# The gateway's fixtures, for this module: a migrated database, the vendor stand-ins, a gateway.
gateway_db = gateway.gateway_db
upstream = gateway.upstream
running_gateway = gateway.running_gateway

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "say something short"}
]
PRICES = PriceTable()


def sdk(gw: RunningGateway, key: str, **options: object) -> OpenAI:
    return OpenAI(base_url=f"{gw.url}/api/proxy/openai/v1", api_key=key, **options)  # type: ignore[arg-type]


@pytest.fixture
def account(running_gateway: RunningGateway) -> tuple[str, str]:
    user_id = make_account(running_gateway.db)
    return user_id, make_key(running_gateway.db, user_id, "sdk-app")


def test_chat_completion_is_metered_as_the_sdk_reports(
    running_gateway: RunningGateway, account: tuple[str, str]
) -> None:
    user_id, key = account
    completion = sdk(running_gateway, key).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=5
    )
    assert completion.choices[0].message.content == "The quick brown fox jumps"
    assert completion.usage is not None
    [row] = usage_rows(running_gateway.db, user_id, 1)
    assert row["units"] == completion.usage.total_tokens
    assert row["price_key"] == "openai_mini_tokens"  # a mini model, not GPT-4
    assert row["cost_cents"] == PRICES.by_key("openai_mini_tokens").cost(completion.usage.total_tokens)
    assert usage_api_units(running_gateway.url, key, 1) == {"openai": completion.usage.total_tokens}


def test_the_quickstart_streaming_loop_runs_and_is_metered(
    running_gateway: RunningGateway, account: tuple[str, str]
) -> None:
    user_id, key = account
    client = sdk(running_gateway, key)
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5, stream=True)
    text = ""
    for chunk in stream:  # OpenAI's quickstart, as written: every chunk has a choice
        text += chunk.choices[0].delta.content or ""
    assert text.split() == ["The", "quick", "brown", "fox", "jumps"]
    # Asked for, the usage arrives as its own chunk, and is what was metered for either call.
    asked = client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(asked)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert all(chunk.choices for chunk in chunks[:-1])
    declined = client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        max_tokens=5,
        stream=True,
        stream_options={"include_usage": False},
    )
    assert all(chunk.choices and chunk.usage is None for chunk in declined)
    rows = usage_rows(running_gateway.db, user_id, 3)
    assert [row["units"] for row in rows] == [last.usage.total_tokens] * 3
    assert {row["price_key"] for row in rows} == {"openai_gpt_4o_tokens"}
    assert all(row["metadata"]["stream"] for row in rows)


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embeddings_are_metered_at_the_embedding_price(
    running_gateway: RunningGateway, account: tuple[str, str], encoding: str
) -> None:
    user_id, key = account
    result = sdk(running_gateway, key).embeddings.create(
        model="text-embedding-3-small",
        input=["hello world", "one two three"],
        encoding_format=encoding,  # type: ignore[arg-type]
    )
    assert [item.index for item in result.data] == [0, 1]
    if encoding == "float":
        assert all(len(item.embedding) == 8 for item in result.data)
    assert result.usage.total_tokens == 5
    [row] = usage_rows(running_gateway.db, user_id, 1)
    assert (row["endpoint"], row["units"]) == ("v1/embeddings", result.usage.total_tokens)
    assert row["price_key"] == "openai_embedding_small_tokens"
    assert row["cost_cents"] == Decimal("0.000014")  # 5 x 0.00000267, rounded up to the micro-cent
    gpt4 = PRICES.for_service("openai", "gpt-4").cost(result.usage.total_tokens)
    assert gpt4 / row["cost_cents"] > 1000  # what it cost when every model was priced as GPT-4


def test_models_list_and_retrieve_pass_through_unmetered(
    running_gateway: RunningGateway, account: tuple[str, str], upstream: tuple[UpstreamStandIn, str]
) -> None:
    user_id, key = account
    client = sdk(running_gateway, key)
    assert [model.id for model in client.models.list()] == ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
    assert client.models.retrieve("gpt-4o").owned_by == "system"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("no-such-model")
    assert missing.value.code == "model_not_found"  # the vendor's own answer, relayed
    assert upstream[0].seen("/v1/models")[-1].headers["authorization"].startswith("Bearer sk-platform")
    assert no_usage(running_gateway.db, user_id)
    assert spent(running_gateway.db, user_id) == 0


def test_gateway_errors_are_the_sdks_exception_types(running_gateway: RunningGateway) -> None:
    with pytest.raises(openai.AuthenticationError) as unknown:
        sdk(running_gateway, "ocgw_" + "z" * 43).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert (unknown.value.status_code, unknown.value.code) == (401, "invalid_gateway_key")
    assert unknown.value.type == "invalid_request_error"
    assert "not recognised or revoked" in unknown.value.message

    user_id = make_account(running_gateway.db, limit_cents=1)
    client = sdk(running_gateway, make_key(running_gateway.db, user_id))
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="gpt-4", messages=MESSAGES, max_tokens=4000)
    assert (limited.value.code, limited.value.type) == ("spend_limit_reached", "insufficient_quota")
    assert limited.value.response.headers["x-should-retry"] == "false"
    assert limited.value.response.request.headers["x-stainless-retry-count"] == "0"  # asked once
    assert isinstance(limited.value.body, dict)
    assert limited.value.body["limit_cents"] == 1

    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=-5)
    assert (bad.value.code, bad.value.param) == ("invalid_request", "max_tokens")
    assert "non-negative integer" in bad.value.message

    past_due = make_key(running_gateway.db, make_account(running_gateway.db, status="past_due"))
    with pytest.raises(openai.RateLimitError) as unpaid:
        sdk(running_gateway, past_due).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert (unpaid.value.code, unpaid.value.type) == ("payment_required", "insufficient_quota")


def test_an_unreachable_upstream_is_the_sdks_server_error(
    running_gateway: RunningGateway, tmp_path: Path
) -> None:
    settings = running_gateway.settings
    dead = replace(settings.upstreams, openai_url=f"http://127.0.0.1:{free_port()}")
    # A second gateway process: its own journal (one per process).
    server = ServerThread(create_app(replace(settings, upstreams=dead, journal_dir=tmp_path))).start()
    try:
        gw = replace(running_gateway, url=server.url)
        key = make_key(running_gateway.db, make_account(running_gateway.db))
        with pytest.raises(openai.InternalServerError) as down:
            sdk(gw, key, max_retries=0).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    finally:
        server.stop()
    assert (down.value.status_code, down.value.code, down.value.type) == (
        502,
        "upstream_error",
        "server_error",
    )


def test_bring_your_own_key_through_the_sdk_bills_nothing(
    running_gateway: RunningGateway, upstream: tuple[UpstreamStandIn, str]
) -> None:
    user_id = make_account(running_gateway.db, limit_cents=0)
    gateway_key = make_key(running_gateway.db, user_id, "byo-app", mode="byo")
    client = sdk(running_gateway, BYO_OPENAI_KEY, default_headers={"X-Oneclick-Key": gateway_key})
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=3)
    assert upstream[0].seen("/v1/chat/completions")[-1].headers["authorization"] == f"Bearer {BYO_OPENAI_KEY}"
    assert completion.usage is not None
    [row] = usage_rows(running_gateway.db, user_id, 1)
    assert (row["units"], row["billable"], row["cost_cents"]) == (completion.usage.total_tokens, False, 0)
    assert "gpt-4o" in [model.id for model in client.models.list()]
