"""Calls right after PostgreSQL restarts succeed: the gateway hands out no dead pooled connection.

Issue 13, medium item: "8-9 failed calls after PostgreSQL restarts (stale pooled connections)".
The gateway runs against a PostgreSQL cluster of its own (so restarting it disturbs no other test);
its connections are all in use before the restart, and every call after it must succeed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from automation.localpg import LocalPostgres
from sandbox.endpoint import state_root
from sandbox.upstreams import UpstreamStandIn
from service.migrate import apply_migrations
from tests.databases import query
from tests.gateway.conftest import make_account, make_key
from tests.helpers import free_port, wait_for
from tests.security.gateway_fixtures import start_gateway

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@pytest.fixture
def own_cluster() -> Iterator[tuple[LocalPostgres, str]]:
    cluster = LocalPostgres(state_root() / f"pg-restart-{uuid.uuid4().hex[:8]}", free_port())
    server = cluster.start()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("CREATE DATABASE gateway")
    url = server.rsplit("/", 1)[0] + "/gateway"
    apply_migrations(url)
    yield cluster, url
    cluster.destroy()


async def _calls(url: str, key: str, count: int) -> list[int]:
    async with httpx.AsyncClient(timeout=30) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{url}/api/proxy/openai/v1/chat/completions",
                    json=CHAT,
                    headers={"Authorization": f"Bearer {key}"},
                )
                for _ in range(count)
            )
        )
    return [r.status_code for r in responses]


def test_every_call_after_a_database_restart_succeeds(
    own_cluster: tuple[LocalPostgres, str],
    upstream: tuple[UpstreamStandIn, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cluster, db = own_cluster
    server, _ = start_gateway(db, upstream[1], tmp_path_factory.mktemp("restart-journal"))
    try:
        user_id = make_account(db)
        key = make_key(db, user_id)
        # Every pooled connection has been used (key lookups, the lease, usage batches).
        assert asyncio.run(_calls(server.url, key, 20)) == [200] * 20
        admin = {"Authorization": "Bearer admin-token-for-tests-0001"}
        assert httpx.get(
            f"{server.url}/api/usage/current", params={"user_id": user_id}, headers=admin
        ).is_success
        wait_for(lambda: query(db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(20,)])

        cluster.stop()
        cluster.start()

        fresh_key = make_key(db, user_id, "app-2")  # not cached: its lookup needs the pool too
        statuses = [
            httpx.post(
                f"{server.url}/api/proxy/openai/v1/chat/completions",
                json=CHAT,
                headers={"Authorization": f"Bearer {k}"},
                timeout=30,
            ).status_code
            for k in [key] * 6 + [fresh_key] * 6
        ]
        usage = httpx.get(f"{server.url}/api/usage/current", params={"user_id": user_id}, headers=admin)
        assert statuses == [200] * 12
        assert usage.status_code == 200, usage.text
        assert asyncio.run(_calls(server.url, key, 10)) == [200] * 10
        # Nothing lost either: every call after the restart is metered.
        assert wait_for(
            lambda: query(db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(42,)]
        )
        # ... and billed: the spend is the sum of the usage rows (the lease's accounts survived the restart).
        [(spent, billed)] = query(
            db,
            "SELECT s.spent_cents, (SELECT sum(cost_cents) FROM api_usage u WHERE u.user_id = s.user_id) "
            "FROM api_spend s WHERE s.user_id = %s",
            [user_id],
        )
        assert spent == billed > 0
    finally:
        server.stop()
