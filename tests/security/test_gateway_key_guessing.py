"""Guessing gateway keys cannot become a load on the database.

Issue 13, medium item: "every unknown key costs a database query (no rate limit on 401s)". A client
sends well-formed keys that do not exist, each new. Past the limit it is answered 429 from memory:
shown by locking the keys table, which would block any query, while the answers still come at once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from sandbox.upstreams import UpstreamStandIn
from service.gateway.state import Gateway
from tests.gateway.conftest import make_account, make_key
from tests.security.gateway_fixtures import start_gateway

LIMIT = 10
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@pytest.fixture
def guarded(
    gateway_db: str, upstream: tuple[UpstreamStandIn, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Gateway]]:
    server, gateway = start_gateway(
        gateway_db, upstream[1], tmp_path_factory.mktemp("guarded-journal"), failed_key_limit=LIMIT
    )
    yield server.url, gateway
    server.stop()


def _guess(url: str, timeout: float = 10) -> httpx.Response:
    key = "ocgw_" + secrets.token_urlsafe(32)  # well formed, never issued
    return httpx.post(
        f"{url}/api/proxy/openai/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
        timeout=timeout,
    )


def test_a_client_guessing_keys_is_answered_429_without_a_query(
    guarded: tuple[str, Gateway], gateway_db: str
) -> None:
    url, gateway = guarded
    good = make_key(gateway_db, make_account(gateway_db))

    def call_with_good_key() -> int:
        return httpx.post(
            f"{url}/api/proxy/openai/v1/chat/completions",
            json=CHAT,
            headers={"Authorization": f"Bearer {good}"},
            timeout=5,
        ).status_code

    assert call_with_good_key() == 200  # now cached

    queries_before = gateway.keys.queries
    first = [_guess(url) for _ in range(LIMIT)]
    assert [r.status_code for r in first] == [401] * LIMIT
    assert gateway.keys.queries - queries_before == LIMIT

    with psycopg.connect(gateway_db) as locker:
        # Any lookup of a key now waits for this lock; answers that come at once made no query.
        locker.execute("LOCK TABLE gateway_keys IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        later = [_guess(url, timeout=5) for _ in range(3 * LIMIT)]
        elapsed = time.monotonic() - started
        # The same client's cached key keeps working meanwhile.
        assert call_with_good_key() == 200
        locker.rollback()
    assert [r.status_code for r in later] == [429] * (3 * LIMIT)
    assert elapsed < 5
    assert gateway.keys.queries - queries_before == LIMIT
    error = later[0].json()["error"]
    assert error["code"] == "too_many_failed_keys"
    assert "try again in" in error["message"]
    assert 1 <= int(later[0].headers["retry-after"]) <= 60
    assert error["retry_after_seconds"] == int(later[0].headers["retry-after"])
