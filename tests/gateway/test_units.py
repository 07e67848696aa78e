"""Unit tests: pricing, LLM cost bounds and stream metering, email/SMS parsing, SigV4, the journal."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from service.gateway import llm
from service.gateway.errors import BadRequest, BillingError, NotFound
from service.gateway.journal import Journal, JournalBusy
from service.gateway.keys import FailedLookups, looks_like_key
from service.gateway.messaging import parse_email, sms_segments
from service.gateway.pricing import PriceTable, PricingError
from service.gateway.senders import allowed, normalise
from service.gateway.settings import Secret, UpstreamSettings
from service.gateway.storage import object_key, sign_v4
from service.gateway.upstreams import Scrubber


def test_default_prices_are_the_plans_table() -> None:
    table = PriceTable()
    gpt4 = table.for_service("openai", "gpt-4")
    assert gpt4.key == "openai_gpt_4_tokens"
    assert gpt4.cost(1000) == Decimal("4")  # $0.04 per 1K tokens
    assert gpt4.markup_percent == Decimal("33.3")
    assert table.for_service("openai", "gpt-3.5-turbo").cost(1000) == Decimal("0.3")
    assert table.for_service("openai", "some-new-model").key == "openai_gpt_4_tokens"  # the default
    assert table.for_service("email").cost(1) == Decimal("0.1")  # $0.001 per email
    assert table.for_service("sms").cost(3) == Decimal("3")  # $0.01 per SMS
    assert table.for_service("storage").cost(10**9) == Decimal("2")  # $0.02 per GB
    assert table.for_service("storage").cost(1) == Decimal("0.000001")  # rounded up, never down


@pytest.mark.parametrize(
    ("service", "model", "key", "dollars_per_million"),
    [
        ("openai", "text-embedding-3-small", "openai_embedding_small_tokens", "0.0267"),
        ("openai", "text-embedding-3-large", "openai_embedding_large_tokens", "0.174"),
        ("openai", "gpt-4o-mini", "openai_mini_tokens", "0.934"),
        ("openai", "gpt-4o-mini-2024-07-18", "openai_mini_tokens", "0.934"),
        ("openai", "gpt-4.1-nano", "openai_nano_tokens", "0.234"),
        ("openai", "o4-mini", "openai_reasoning_mini_tokens", "2.57"),
        ("openai", "gpt-4o", "openai_gpt_4o_tokens", "5.84"),
        ("openai", "gpt-5", "openai_gpt_5_tokens", "6.42"),
        ("openai", "gpt-5.2-2025-12-11", "openai_gpt_5_tokens", "6.42"),
        ("openai", "o1-pro", "openai_premium_tokens", "350"),
        ("openai", "gpt-5.2-pro", "openai_premium_tokens", "350"),
        ("openai", "gpt-4o-audio-preview", "openai_premium_tokens", "350"),
        ("openai", "gpt-4-turbo", "openai_gpt_4_tokens", "40"),
        ("anthropic", "claude-3-haiku-20240307", "anthropic_haiku_3_tokens", "0.667"),
        ("anthropic", "claude-haiku-4-5", "anthropic_haiku_tokens", "2.67"),
        ("anthropic", "claude-sonnet-4-5", "anthropic_sonnet_tokens", "8"),
        ("anthropic", "claude-opus-4-5", "anthropic_opus_45_tokens", "13.4"),
        ("anthropic", "claude-opus-4-1", "anthropic_tokens", "40"),
        ("anthropic", "claude-next", "anthropic_tokens", "40"),  # unknown: the dearest family
    ],
)
def test_language_models_are_priced_by_family(
    service: str, model: str, key: str, dollars_per_million: str
) -> None:
    price = PriceTable().for_service(service, model)
    assert price.key == key
    assert price.cost(1_000_000) == Decimal(dollars_per_million) * 100  # cents
    assert Decimal(30) <= price.markup_percent <= Decimal(35)


def test_no_known_family_is_priced_above_a_models_default_but_premium() -> None:
    table = PriceTable()
    for service, premium in (("openai", {"openai_premium_tokens"}), ("anthropic", set())):
        default = table.for_service(service, "unknown-model").price_cents_per_unit
        families = [p for p in table.prices if p.service == service and p.key not in premium]
        assert max(p.price_cents_per_unit for p in families) == default
    embedding = table.for_service("openai", "text-embedding-3-small").price_cents_per_unit
    assert table.for_service("openai", "gpt-4").price_cents_per_unit / embedding > 1000


def test_pricing_file_with_markups(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            [
                {
                    "key": "openai_tokens",
                    "service": "openai",
                    "unit_type": "tokens",
                    "provider_cents_per_unit": "0.003",
                    "markup_percent": "25",
                },
                {
                    "key": "email",
                    "service": "email",
                    "unit_type": "emails",
                    "provider_cents_per_unit": "0.08",
                    "price_cents_per_unit": "0.12",
                },
            ]
        )
    )
    table = PriceTable.load(path)
    assert table.for_service("openai", "gpt-4").price_cents_per_unit == Decimal("0.00375")
    assert table.for_service("email").cost(2) == Decimal("0.24")
    path.write_text(
        json.dumps([{"key": "x", "service": "sms", "unit_type": "sms", "provider_cents_per_unit": "abc"}])
    )
    with pytest.raises(
        PricingError, match=r"prices.json\[0\].provider_cents_per_unit: 'abc' is not a number"
    ):
        PriceTable.load(path)
    path.write_text(
        json.dumps([{"key": "x", "service": "sms", "unit_type": "sms", "provider_cents_per_unit": "1"}])
    )
    with pytest.raises(PricingError, match="price_cents_per_unit or markup_percent"):
        PriceTable.load(path)


def test_llm_bounds_cover_input_bytes_output_tokens_and_images() -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50, "n": 2}
    raw = json.dumps(body).encode()
    call = llm.inspect_call("openai", "v1/chat/completions", raw, body, 4096)
    assert call.max_input_tokens == len(raw)
    assert call.max_output_tokens == 100
    assert not call.stream
    image = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
    }
    raw = json.dumps(image).encode()
    call = llm.inspect_call("openai", "v1/chat/completions", raw, image, 4096)
    assert call.max_input_tokens == len(raw) + llm.IMAGE_TOKEN_ALLOWANCE
    assert call.max_output_tokens == 4096  # no max_tokens: the configured default
    embeddings = {"model": "text-embedding-3-small", "input": "hello"}
    assert llm.inspect_call("openai", "v1/embeddings", b"{}", embeddings, 4096).max_output_tokens == 0
    with pytest.raises(NotFound, match="supported: /api/proxy/anthropic/v1/messages"):
        llm.inspect_call("anthropic", "v1/complete", b"{}", {}, 1)
    with pytest.raises(BadRequest, match="max_tokens"):
        llm.inspect_call("anthropic", "v1/messages", b"{}", {"model": "c", "max_tokens": True}, 1)


def test_openai_streams_are_asked_for_their_usage_chunk() -> None:
    body = {"model": "gpt-4o", "stream": True, "stream_options": {"include_obfuscation": False}}
    call = llm.inspect_call("openai", "v1/chat/completions", json.dumps(body).encode(), body, 10)
    assert json.loads(call.body)["stream_options"] == {"include_obfuscation": False, "include_usage": True}
    assert call.hide_usage_chunk  # asked for by the gateway, not the caller
    asked = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True}}
    raw = json.dumps(asked).encode()
    call = llm.inspect_call("openai", "v1/chat/completions", raw, asked, 10)
    assert (call.body, call.hide_usage_chunk) == (raw, False)  # forwarded as sent
    bad = {"model": "gpt-4o", "stream": True, "stream_options": "usage"}
    with pytest.raises(BadRequest, match="stream_options: must be an object"):
        llm.inspect_call("openai", "v1/chat/completions", b"{}", bad, 10)


def test_stream_meter_reads_usage_split_across_chunks() -> None:
    stream = (
        b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}\n\n'
        b"data: [DONE]\n\n"
    )
    meter = llm.StreamMeter("openai")
    for i in range(0, len(stream), 7):  # chunk boundaries fall anywhere
        meter.feed(stream[i : i + 7])
    assert meter.total == 10
    anthropic = llm.StreamMeter("anthropic")
    anthropic.feed(
        b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":12,'
    )
    anthropic.feed(
        b'"cache_read_input_tokens":3,"output_tokens":1}}}\n\nevent: content_block_delta\ndata: {}\n\n'
    )
    assert anthropic.total is None
    assert anthropic.estimate(0) == 15 + 2  # input so far + events seen, for a stream cut short
    anthropic.feed(b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":9}}\n\n')
    assert anthropic.total == 24


def test_sms_segments_follow_gsm7_and_ucs2_rules() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("€" * 80) == 1  # extended GSM characters count twice
    assert sms_segments("€" * 81) == 2
    assert sms_segments("é" * 160) == 1  # é is in GSM-7
    assert sms_segments("ü" + "ł" * 69) == 1  # ł is not: UCS-2, 70 per message
    assert sms_segments("ł" * 71) == 2
    assert sms_segments("😀" * 35) == 1  # two UTF-16 units each


def test_email_addresses_and_recipient_count() -> None:
    email = parse_email(
        {
            "from": "Shop <shop@example.com>",
            "to": ["a@x.co", "B <b@x.co>"],
            "bcc": "c@x.co",
            "subject": "s",
            "html": "<p>hi</p>",
        },
        None,
    )
    assert email.recipients == 3
    assert email.resend_body()["to"] == ["a@x.co", "B <b@x.co>"]
    assert email.sendgrid_body()["from"] == {"email": "shop@example.com", "name": "Shop"}
    with pytest.raises(BadRequest, match="from: required"):
        parse_email({"to": "a@x.co", "subject": "s", "text": "t"}, None)


def test_sigv4_matches_the_aws_s3_example() -> None:
    # AWS's documented "PUT Object" example (Signature Version 4, header authentication).
    headers = sign_v4(
        "PUT",
        "examplebucket.s3.amazonaws.com",
        "/test$file.text",
        b"Welcome to Amazon S3.",
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        now=datetime(2013, 5, 24, tzinfo=UTC),
        extra_headers={"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    )


def test_object_keys_stay_under_the_users_prefix() -> None:
    assert object_key("u1", "app", "a/b c.png") == "u1/app/a/b c.png"
    for bad in ("../x", "a/../../x", "/x", "a//b", "a\\b", "\x00"):
        with pytest.raises(BadRequest):
            object_key("u1", "app", bad)


def test_secrets_print_masked_and_are_scrubbed() -> None:
    settings = UpstreamSettings(openai_key=Secret("sk-platform-123456789"))
    assert "sk-platform" not in repr(settings)
    assert Scrubber(settings.master_keys())(b"bad key sk-platform-123456789!") == b"bad key [redacted]!"


def test_journal_is_one_process_at_a_time_and_replays_leftovers(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with pytest.raises(JournalBusy, match="its own"):
        Journal(tmp_path)
    journal.append({"n": 1})
    sealed = journal.seal()
    journal.append({"n": 2})
    with sealed.open("ab") as cut:
        cut.write(b'{"n": 3, "trunc')  # a line cut short by a crash
    journal._fd, fd = -1, journal._fd  # simulate the process dying: nothing is closed cleanly
    import fcntl
    import os

    fcntl.flock(journal._lock_fd, fcntl.LOCK_UN)
    os.close(fd)
    again = Journal(tmp_path)
    assert again.instance_id == journal.instance_id
    assert [r for p in again.leftovers() for r in Journal.read(p)] == [{"n": 1}, {"n": 2}]
    again.close()


def test_usage_counts_that_are_not_whole_non_negative_numbers_are_refused() -> None:
    assert (
        llm.usage_tokens(
            "openai", {"usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
        )
        == 10
    )
    assert (
        llm.usage_tokens("openai", {"usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 1}})
        == 10
    )
    for bad in (-1, 2.5, True, "7"):
        with pytest.raises(llm.InvalidUsage):
            llm.usage_tokens("openai", {"usage": {"prompt_tokens": bad, "total_tokens": 10}})
        with pytest.raises(llm.InvalidUsage):
            llm.usage_tokens("anthropic", {"usage": {"input_tokens": 5, "output_tokens": bad}})
    meter = llm.StreamMeter("anthropic")
    meter.feed(b'data: {"type":"message_delta","usage":{"output_tokens":-9000}}\n\n')
    assert meter.invalid
    with pytest.raises(BadRequest, match="max_tokens: at most"):
        llm.inspect_call("openai", "v1/chat/completions", b"{}", {"model": "m", "max_tokens": 10**20}, 1)


def test_stream_scrubber_catches_a_key_cut_anywhere() -> None:
    key = "sk-platform-openai-5f0c1d2e3a4b5c6d7e8f"
    body = f"data: a {key} b sk-plat {key}\n\n".encode()
    scrubber = Scrubber([key])
    for size in (1, 2, 5, 13, len(body)):
        stream = scrubber.stream()
        out = b"".join(stream.feed(body[i : i + size]) for i in range(0, len(body), size)) + stream.end()
        assert out == scrubber(body) == body.replace(key.encode(), b"[redacted]")
    stream = scrubber.stream()
    assert stream.feed(b"data: x\n\n") == b"data: x\n\n"  # nothing held back from ordinary chunks
    assert stream.feed(key[:15].encode()) == b""
    assert stream.end() == b"[redacted]"  # a stream ending inside the key


def test_failed_key_lookups_are_limited_per_client_and_refunded_for_real_keys() -> None:
    limiter = FailedLookups(limit=3, window=60)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1", 100.0) is None
        limiter.failed("10.0.0.1", 100.0)
    assert limiter.retry_after("10.0.0.1", 130.0) == pytest.approx(30.0)
    assert limiter.retry_after("10.0.0.2", 130.0) is None  # others are not affected
    assert limiter.retry_after("10.0.0.1", 160.0) is None  # a new window
    limiter.refund("10.0.0.1")
    assert limiter.retry_after("10.0.0.1", 130.0) is None
    assert looks_like_key("ocgw_" + "A" * 43)
    assert not looks_like_key("ocgw_" + "A" * 42)
    assert not looks_like_key("ocgw_" + "A" * 42 + "!")


def test_email_senders_are_addresses_or_domains() -> None:
    assert normalise("News@Shop.Example") == "news@shop.example"
    assert normalise("shop.example") == normalise("@shop.example") == "@shop.example"
    for bad in ("", "a@b", "x y@shop.example", "<a@shop.example>", "a@@shop.example"):
        with pytest.raises(BillingError):
            normalise(bad)
    verified = frozenset({"news@shop.example", "@brand.example"})
    assert allowed("NEWS@shop.example", verified)
    assert allowed("anyone@brand.example", verified)
    assert not allowed("other@shop.example", verified)
    assert not allowed("x@sub.brand.example", verified)


def test_an_admission_in_flight_outlives_the_segment_it_was_journaled_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import uuid
    from datetime import date
    from typing import Any, cast

    from service.gateway.metering import Settlement, UsageWriter

    def call(cost: str) -> Settlement:
        return Settlement(
            id=uuid.uuid4(),
            user_id="u",
            app_id="a",
            service="openai",
            endpoint="v1/chat/completions",
            price_key="openai_gpt_4_tokens",
            unit_type="tokens",
            units=1,
            cost_cents=Decimal(cost),
            billable=True,
            period=date(2026, 1, 1),
            lease="proc",
        )

    journal = Journal(tmp_path)
    writer = UsageWriter(cast(Any, None), journal)
    written: list[Settlement] = []

    async def to_the_database(batch: list[Settlement]) -> None:
        written.extend(batch)

    monkeypatch.setattr(writer, "_write", to_the_database)
    long, short = call("9"), call("1")
    writer.admit(long)
    writer.admit(short)
    writer.settle(short)
    assert asyncio.run(writer.flush()) == 1  # `short` is written and its segment deleted ...
    assert written == [short]
    left = [r for p in journal.segments() for r in Journal.read(p)]
    assert [(r["id"], r.get("admission")) for r in left] == [(str(long.id), True)]  # ... `long` stays
    writer.settle(long)
    assert asyncio.run(writer.flush()) == 1
    assert not [r for p in journal.segments() for r in Journal.read(p)]
    journal.close()
