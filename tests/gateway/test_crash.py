"""A gateway killed between the upstream's answer and the usage write loses nothing.

The gateway runs as a real process with batching slowed to an hour, so a call is answered while its
usage exists only as the journal line (local disk), and its cost is still held in the process's
budget lease (PostgreSQL). The process is then killed with SIGKILL.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.upstreams import UpstreamStandIn
from tests.databases import query
from tests.gateway.conftest import make_account, make_key
from tests.gateway.processes import GatewayProcess
from tests.helpers import wait_for

CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "say something short"}], "max_tokens": 5}


@pytest.fixture
def processes() -> Iterator[list[GatewayProcess]]:
    started: list[GatewayProcess] = []
    yield started
    for process in started:
        process.stop()


def _lease(db: str, user_id: str) -> list[tuple[Any, ...]]:
    return query(db, "SELECT held_cents FROM api_spend_leases WHERE user_id = %s", [user_id])


def _spend(db: str, user_id: str) -> list[tuple[Any, ...]]:
    sql = "SELECT spent_cents, reserved_cents, leased_cents FROM api_spend WHERE user_id = %s"
    return query(db, sql, [user_id])


def _answered_then_killed(
    gateway_db: str, upstream_url: str, journal: Path, processes: list[GatewayProcess], **env: str
) -> tuple[str, GatewayProcess]:
    user_id = make_account(gateway_db)
    key = make_key(gateway_db, user_id)
    first = GatewayProcess(gateway_db, upstream_url, journal, ONECLICK_GATEWAY_FLUSH_SECONDS="3600", **env)
    processes.append(first)
    response = httpx.post(
        f"{first.url}/api/proxy/openai/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
    first.kill()
    # Acknowledged, yet not in api_usage: only the journal knows of it, and its lease still holds it.
    assert query(gateway_db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(0,)]
    [(held,)] = _lease(gateway_db, user_id)
    assert held > 0
    assert _spend(gateway_db, user_id) == [(Decimal(0), Decimal(0), held)]
    return user_id, first


def test_restart_replays_the_journal_exactly(
    gateway_db: str, upstream: tuple[UpstreamStandIn, str], tmp_path: Path, processes: list[GatewayProcess]
) -> None:
    journal = tmp_path / "journal"
    user_id, _ = _answered_then_killed(gateway_db, upstream[1], journal, processes)
    processes.append(GatewayProcess(gateway_db, upstream[1], journal))
    rows = wait_for(
        lambda: query(gateway_db, "SELECT units, cost_cents FROM api_usage WHERE user_id = %s", [user_id])
    )
    assert rows == [(11, Decimal("0.044"))]  # the real usage, not an estimate
    # Started, the new process wrote the call against its predecessor's lease and gave the rest back.
    assert _lease(gateway_db, user_id) == []
    assert _spend(gateway_db, user_id) == [(Decimal("0.044"), Decimal(0), Decimal(0))]
    assert not [p for p in journal.glob("segment-*") if p.stat().st_size]


def test_a_call_in_flight_when_killed_is_billed_at_its_admitted_maximum(
    gateway_db: str, upstream: tuple[UpstreamStandIn, str], tmp_path: Path, processes: list[GatewayProcess]
) -> None:
    stand_in, upstream_url = upstream
    journal = tmp_path / "journal"
    user_id = make_account(gateway_db)
    key = make_key(gateway_db, user_id)
    first = GatewayProcess(gateway_db, upstream_url, journal)
    processes.append(first)
    stand_in.stream_delay = 0.5  # five words: the stream takes about 2.5 s
    try:
        with httpx.stream(
            "POST",
            f"{first.url}/api/proxy/openai/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()  # kept: a dropped iterator would close the stream (a caller leaving)
            next(chunks)  # the stream has begun: the call is in flight
            first.kill()
    except httpx.HTTPError:
        pass  # the gateway died mid-stream, as intended
    finally:
        stand_in.stream_delay = 0.0
    time.sleep(0.2)  # a usage batch would have been written by now (flush interval 0.05 s)
    assert query(gateway_db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(0,)]

    processes.append(GatewayProcess(gateway_db, upstream_url, journal))
    rows = wait_for(
        lambda: query(
            gateway_db,
            "SELECT units, cost_cents, request_metadata FROM api_usage WHERE user_id = %s",
            [user_id],
        )
    )
    [(units, cost, metadata)] = rows
    assert metadata == {"settled_from": "admission"}  # the upstream may have charged the platform
    assert units > 11  # the admitted maximum (prompt bound + max_tokens), not a guess
    assert cost == Decimal("0.004") * units
    assert _lease(gateway_db, user_id) == []
    assert _spend(gateway_db, user_id) == [(cost, Decimal(0), Decimal(0))]


def test_a_lost_journal_gives_the_lease_back_after_its_ttl(
    gateway_db: str, upstream: tuple[UpstreamStandIn, str], tmp_path: Path, processes: list[GatewayProcess]
) -> None:
    journal = tmp_path / "journal"
    short = {"ONECLICK_GATEWAY_LEASE_SECONDS": "0.2", "ONECLICK_GATEWAY_LEASE_TTL_SECONDS": "0.5"}
    user_id, _ = _answered_then_killed(gateway_db, upstream[1], journal, processes, **short)
    shutil.rmtree(journal)  # the machine and its disk are gone
    # Any other gateway process's sweeper gives the dead process's lease back once it has expired.
    processes.append(GatewayProcess(gateway_db, upstream[1], tmp_path / "another", **short))
    assert wait_for(lambda: _lease(gateway_db, user_id) == [])
    # The account's whole budget is free again. The call's record died with the disk: it is not
    # billed (a loss bounded by the calls of one flush interval and those in flight).
    assert _spend(gateway_db, user_id) == [(Decimal(0), Decimal(0), Decimal(0))]
    assert query(gateway_db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(0,)]
