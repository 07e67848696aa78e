"""Several gateway processes, each admitting calls from its own budget lease, cannot together bill
an account past its spend limit.

The attack: one account, a nearly exhausted limit, and many simultaneous calls spread over three
real `oneclick gateway` processes sharing one PostgreSQL, with short leases so that leases are
granted, topped up, refused and given back while the calls run. Every answered call must be billed
in full, and the total must stay within the limit; leases left over come back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.upstreams import UpstreamStandIn
from tests.databases import query
from tests.gateway.conftest import gateway_db, make_account, make_key, upstream  # noqa: F401
from tests.gateway.processes import GatewayProcess
from tests.helpers import wait_for

PROCESSES = 3
CALLS_PER_PROCESS = 80
CHAT = "/api/proxy/openai/v1/chat/completions"
# gpt-4 class at 0.004 cent a token; the stand-in answers 11 tokens (0.044 cent), while a call is
# admitted at its bound (106 tokens: prompt bound + max_tokens, 0.424 cent), ten times that: with
# 1 cent left, only two calls fit at a time across all the processes.
BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "say something short"}], "max_tokens": 5}
REAL_COST = Decimal("0.044")
SHORT_LEASES = {"ONECLICK_GATEWAY_LEASE_SECONDS": "0.5", "ONECLICK_GATEWAY_LEASE_TTL_SECONDS": "2"}


@pytest.fixture
def gateways(
    gateway_db: str,  # noqa: F811
    upstream: tuple[UpstreamStandIn, str],  # noqa: F811
    tmp_path: Path,
) -> Iterator[list[GatewayProcess]]:
    started: list[GatewayProcess] = []
    try:
        for n in range(PROCESSES):
            started.append(GatewayProcess(gateway_db, upstream[1], tmp_path / f"journal-{n}", **SHORT_LEASES))
        yield started
    finally:
        for process in started:
            process.stop()


async def _hammer(urls: list[str], key: str) -> list[int]:
    """CALLS_PER_PROCESS simultaneous calls on each gateway, released at once."""
    total = len(urls) * CALLS_PER_PROCESS
    limits = httpx.Limits(max_connections=total, max_keepalive_connections=total)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = asyncio.Event()

        async def one(url: str) -> int:
            await start.wait()
            response = await client.post(
                f"{url}{CHAT}", json=BODY, headers={"Authorization": f"Bearer {key}"}
            )
            return response.status_code

        tasks = [asyncio.create_task(one(url)) for url in urls for _ in range(CALLS_PER_PROCESS)]
        await asyncio.sleep(0.1)
        start.set()
        return await asyncio.gather(*tasks)


def _spend(db: str, user_id: str) -> tuple[Any, ...]:
    sql = "SELECT spent_cents, reserved_cents, leased_cents, limit_cents FROM api_spend WHERE user_id = %s"
    [row] = query(db, sql, [user_id])
    return tuple(row)


def _nearly_exhausted(db: str, limit_cents: int, spent_cents: str) -> tuple[str, str]:
    user_id = make_account(db, limit_cents=limit_cents)
    query(
        db,
        "INSERT INTO api_spend (user_id, period, limit_cents, spent_cents) "
        "VALUES (%s, date_trunc('month', now() AT TIME ZONE 'UTC')::date, %s, %s) RETURNING 1",
        [user_id, limit_cents, Decimal(spent_cents)],
    )
    return user_id, make_key(db, user_id, "busy-app")


def _billed(db: str, user_id: str, calls: int) -> list[tuple[Any, ...]]:
    sql = "SELECT cost_cents, request_metadata FROM api_usage WHERE user_id = %s"

    def written() -> list[tuple[Any, ...]]:
        rows = query(db, sql, [user_id])
        return rows if len(rows) >= calls else []

    return wait_for(written, timeout=15)


@pytest.mark.parametrize(
    ("limit", "spent"), [(500, "498"), (500, "499")], ids=["2-cents-left", "1-cent-left"]
)
def test_processes_hammering_one_limit_never_pass_it(
    gateway_db: str,  # noqa: F811
    gateways: list[GatewayProcess],
    limit: int,
    spent: str,
) -> None:
    user_id, key = _nearly_exhausted(gateway_db, limit, spent)
    statuses = asyncio.run(_hammer([g.url for g in gateways], key))

    assert set(statuses) <= {200, 429}, statuses  # 429: OpenAI's status for a spent quota
    answered = statuses.count(200)
    assert 0 < answered < len(statuses)
    rows = _billed(gateway_db, user_id, answered)
    # Every answered call is billed in full (none cut short to fit: no `over_limit_cents`) ...
    assert len(rows) == answered
    assert all(cost == REAL_COST and not (metadata or {}).get("over_limit_cents") for cost, metadata in rows)
    # ... and the account stays within its limit, with nothing left reserved.
    spent_now, reserved, _, limit_now = wait_for(
        lambda: (row := _spend(gateway_db, user_id))[1] == 0 and row, timeout=15
    )
    assert spent_now == Decimal(spent) + answered * REAL_COST
    assert spent_now <= limit_now == limit
    assert reserved == 0
    # The leases the processes still hold are given back once no call uses them.
    assert wait_for(lambda: _spend(gateway_db, user_id)[2] == 0, timeout=15)
    assert query(gateway_db, "SELECT count(*) FROM api_spend_leases WHERE user_id = %s", [user_id]) == [(0,)]


def test_a_stopped_process_gives_its_lease_back(
    gateway_db: str,  # noqa: F811
    gateways: list[GatewayProcess],
) -> None:
    user_id = make_account(gateway_db, limit_cents=10_000)
    key = make_key(gateway_db, user_id)
    first = gateways[0]
    response = httpx.post(f"{first.url}{CHAT}", json=BODY, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    leased = wait_for(lambda: _spend(gateway_db, user_id)[0] > 0 and _spend(gateway_db, user_id))
    assert leased[2] > 0  # the rest of the process's lease, held for its next calls
    first.stop()
    spent_now, reserved, leased_now, _ = _spend(gateway_db, user_id)
    assert (spent_now, reserved, leased_now) == (REAL_COST, 0, 0)
    assert query(gateway_db, "SELECT count(*) FROM api_spend_leases WHERE user_id = %s", [user_id]) == [(0,)]
