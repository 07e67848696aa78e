"""Spend limits hold under concurrency: 200 simultaneous calls against a nearly exhausted limit."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx

from tests.databases import query
from tests.gateway.conftest import RunningGateway, make_account, make_key
from tests.helpers import wait_for

CONCURRENT = 200


async def _fire(url: str, key: str, body: dict[str, object], path: str) -> list[int]:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = asyncio.Event()

        async def one() -> int:
            await start.wait()
            response = await client.post(
                f"{url}{path}", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            return response.status_code

        tasks = [asyncio.create_task(one()) for _ in range(CONCURRENT)]
        await asyncio.sleep(0.05)
        start.set()
        return await asyncio.gather(*tasks)


def _spend(gw: RunningGateway, user_id: str) -> tuple[Decimal, Decimal, int]:
    [row] = query(
        gw.db, "SELECT spent_cents, reserved_cents, limit_cents FROM api_spend WHERE user_id = %s", [user_id]
    )
    return row


def _nearly_exhausted(gw: RunningGateway, limit_cents: int, spent_cents: str) -> tuple[str, str]:
    user_id = make_account(gw.db, limit_cents=limit_cents)
    query(
        gw.db,
        "INSERT INTO api_spend (user_id, period, limit_cents, spent_cents) "
        "VALUES (%s, date_trunc('month', now() AT TIME ZONE 'UTC')::date, %s, %s) RETURNING 1",
        [user_id, limit_cents, Decimal(spent_cents)],
    )
    return user_id, make_key(gw.db, user_id, "busy-app")


def test_concurrent_emails_stop_exactly_at_the_limit(running_gateway: RunningGateway) -> None:
    # $10.00 limit, $9.975 spent: room for exactly 25 emails at 0.1 cent each.
    user_id, key = _nearly_exhausted(running_gateway, 1000, "997.5")
    body = {"to": "someone@example.com", "subject": "Hi", "text": "Hello"}
    statuses = asyncio.run(_fire(running_gateway.url, key, body, "/api/proxy/email/send"))
    assert statuses.count(200) == 25
    assert statuses.count(402) == CONCURRENT - 25
    settled = wait_for(lambda: _spend(running_gateway, user_id)[1] == 0 and _spend(running_gateway, user_id))
    assert settled == (Decimal("1000"), Decimal("0"), 1000)
    rows = query(
        running_gateway.db, "SELECT count(*), sum(cost_cents) FROM api_usage WHERE user_id = %s", [user_id]
    )
    assert rows == [(25, Decimal("2.5"))]


def test_concurrent_llm_calls_never_pass_the_limit(running_gateway: RunningGateway) -> None:
    # Each call may cost up to ~0.4 cent (its bound) and really costs 0.044 cent.
    user_id, key = _nearly_exhausted(running_gateway, 500, "498")
    body = {
        "model": "gpt-4",
        "messages": [{"role": "user", "content": "say something short"}],
        "max_tokens": 5,
    }
    statuses = asyncio.run(_fire(running_gateway.url, key, body, "/api/proxy/openai/v1/chat/completions"))
    assert set(statuses) <= {200, 429}  # OpenAI's status for a spent quota
    assert 0 < statuses.count(200) < CONCURRENT
    spent, reserved, limit = wait_for(
        lambda: _spend(running_gateway, user_id)[1] == 0 and _spend(running_gateway, user_id)
    )
    assert spent <= limit
    assert spent == Decimal("498") + statuses.count(200) * Decimal("0.044")
    assert reserved == 0
