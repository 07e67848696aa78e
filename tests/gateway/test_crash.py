"""A gateway killed between the upstream's answer and the usage write loses nothing.

The gateway runs as a real process with batching slowed to an hour, so a call is answered while its
usage exists only as the reservation row (PostgreSQL) and the journal line (local disk). The
process is then killed with SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from sandbox.upstreams import UpstreamStandIn
from tests.databases import query
from tests.gateway.conftest import OPENAI_KEY, make_account, make_key
from tests.helpers import free_port, wait_for

CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "say something short"}], "max_tokens": 5}


class GatewayProcess:
    def __init__(self, db: str, upstream_url: str, journal: Path, **env: str) -> None:
        self.port = free_port()
        environment = {
            **os.environ,
            "ONECLICK_OPENAI_URL": upstream_url,
            "PLATFORM_OPENAI_KEY": OPENAI_KEY,
            **env,
        }
        command = [
            str(Path(sys.executable).parent / "oneclick"),
            "gateway",
            "--port",
            str(self.port),
            "--database-url",
            db,
            "--journal-dir",
            str(journal),
            "--no-migrate",
        ]
        self.process = subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                self.process.kill()
                raise RuntimeError(f"gateway did not start: {output[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        return self.process.stdout.read().decode() if self.process.stdout else ""


@pytest.fixture
def processes() -> Iterator[list[GatewayProcess]]:
    started: list[GatewayProcess] = []
    yield started
    for process in started:
        process.stop()


def _answered_then_killed(
    gateway_db: str, upstream_url: str, journal: Path, processes: list[GatewayProcess]
) -> tuple[str, GatewayProcess]:
    user_id = make_account(gateway_db)
    key = make_key(gateway_db, user_id)
    first = GatewayProcess(gateway_db, upstream_url, journal, ONECLICK_GATEWAY_FLUSH_SECONDS="3600")
    processes.append(first)
    response = httpx.post(
        f"{first.url}/api/proxy/openai/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
    first.kill()
    # Acknowledged, yet not in api_usage: only the write-ahead reservation and the journal know of it.
    assert query(gateway_db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(0,)]
    assert query(gateway_db, "SELECT count(*) FROM api_reservations WHERE user_id = %s", [user_id]) == [(1,)]
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
    assert query(gateway_db, "SELECT count(*) FROM api_reservations WHERE user_id = %s", [user_id]) == [(0,)]
    assert query(
        gateway_db, "SELECT spent_cents, reserved_cents FROM api_spend WHERE user_id = %s", [user_id]
    ) == [(Decimal("0.044"), Decimal("0"))]
    assert not [p for p in journal.glob("segment-*") if p.stat().st_size]


def test_a_lost_journal_still_bills_the_call_from_its_reservation(
    gateway_db: str, upstream: tuple[UpstreamStandIn, str], tmp_path: Path, processes: list[GatewayProcess]
) -> None:
    journal = tmp_path / "journal"
    user_id, _ = _answered_then_killed(gateway_db, upstream[1], journal, processes)
    shutil.rmtree(journal)  # the machine and its disk are gone
    processes.append(
        GatewayProcess(
            gateway_db, upstream[1], tmp_path / "another", ONECLICK_GATEWAY_RESERVATION_TTL_SECONDS="0.5"
        )
    )
    rows = wait_for(
        lambda: query(
            gateway_db,
            "SELECT units, cost_cents, request_metadata FROM api_usage WHERE user_id = %s",
            [user_id],
        )
    )
    [(units, cost, metadata)] = rows
    assert metadata == {"settled_from": "reservation"}
    assert units > 11  # the reserved maximum: the real count died with the journal
    assert cost == Decimal("0.004") * units
    assert query(gateway_db, "SELECT reserved_cents FROM api_spend WHERE user_id = %s", [user_id]) == [(0,)]
