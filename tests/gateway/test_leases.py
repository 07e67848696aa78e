"""Budget leases against a real PostgreSQL: the grant's share and refusals, giving back, expiry,
and calls admitted in memory with no database round trip each."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service.gateway.errors import PaymentRequired, SpendLimitReached
from service.gateway.leases import BudgetLeases, expire_leases
from service.gateway.metering import Settlement, write_settlements
from tests.databases import query
from tests.gateway.conftest import make_account

T = TypeVar("T")
GRANT = "SELECT * FROM gateway_lease_grant(%s, %s, %s, %s, %s)"


def grant(db: str, user_id: str, instance: str, need: str, want: str, ttl: float = 60) -> tuple[Any, ...]:
    """One grant: (granted, period, added, lease held, status, subscribed, limit, spent, held)."""
    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute(GRANT, [user_id, instance, Decimal(need), Decimal(want), ttl]).fetchone()
    assert row is not None
    return tuple(row)


def spend(db: str, user_id: str) -> tuple[Any, ...]:
    [row] = query(
        db, "SELECT spent_cents, reserved_cents, leased_cents FROM api_spend WHERE user_id = %s", [user_id]
    )
    return tuple(row)


def leases(db: str, user_id: str) -> dict[str, Decimal]:
    rows = query(db, "SELECT instance_id, held_cents FROM api_spend_leases WHERE user_id = %s", [user_id])
    return {instance: held for instance, held in rows}


def test_a_grant_takes_at_most_an_even_share_of_what_is_free(gateway_db: str) -> None:
    user_id = make_account(gateway_db, limit_cents=1000)
    first = grant(gateway_db, user_id, "a", "1", "600")
    assert first[:4] == (True, first[1], Decimal("600"), Decimal("600"))  # alone: all it wants
    # 400 free, and one other process holds a lease: this one gets half of it, not all it wants.
    second = grant(gateway_db, user_id, "b", "1", "600")
    assert (second[0], second[2]) == (True, Decimal("200"))
    # A third: a third of the 200 left, rounded down to whole micro-cents.
    third = grant(gateway_db, user_id, "c", "1", "600")
    assert third[2] == Decimal("66.666666")
    # A grant adds to the process's own lease.
    again = grant(gateway_db, user_id, "a", "1", "10")
    assert again[2:4] == (Decimal("10"), Decimal("610"))
    assert leases(gateway_db, user_id) == {
        "a": Decimal("610"),
        "b": Decimal("200"),
        "c": Decimal("66.666666"),
    }
    assert spend(gateway_db, user_id) == (0, 0, Decimal("876.666666"))


def test_what_a_call_needs_is_granted_whole_or_refused(gateway_db: str) -> None:
    user_id = make_account(gateway_db, limit_cents=100)
    grant(gateway_db, user_id, "a", "90", "90")
    # 10 free: a call needing 6 gets its 6 even though a share would be 5 ...
    assert grant(gateway_db, user_id, "b", "6", "50")[:3][0::2] == (True, Decimal("6"))
    # ... and one needing more than is free gets nothing, with the figures for its refusal.
    refused = grant(gateway_db, user_id, "b", "5", "50")
    assert refused[0] is False
    assert refused[4:] == ("active", True, 100, Decimal(0), Decimal("96"))
    assert spend(gateway_db, user_id) == (0, 0, Decimal("96"))


def test_no_lease_without_active_billing(gateway_db: str) -> None:
    canceled = make_account(gateway_db, status="canceled")
    refused = grant(gateway_db, canceled, "a", "1", "10")
    assert (refused[0], refused[4], refused[5]) == (False, "canceled", True)
    unsubscribed = make_account(gateway_db, subscribed=False)
    assert grant(gateway_db, unsubscribed, "a", "1", "10")[:1] == (False,)
    with psycopg.connect(gateway_db, autocommit=True) as conn:
        assert conn.execute(GRANT, ["no-such-user", "a", 1, 10, 60]).fetchall() == []
    assert query(gateway_db, "SELECT count(*) FROM api_spend WHERE user_id = %s", [canceled]) == [(0,)]


def test_leases_are_given_back_in_part_in_whole_and_when_expired(gateway_db: str) -> None:
    user_id = make_account(gateway_db, limit_cents=1000)
    grant(gateway_db, user_id, "live", "1", "100", ttl=60)
    grant(gateway_db, user_id, "gone", "1", "100", ttl=0.1)
    with psycopg.connect(gateway_db, autocommit=True) as conn:
        back = conn.execute(
            "SELECT gateway_lease_return('live', %s::text[], "
            "ARRAY[date_trunc('month', now() AT TIME ZONE 'UTC')::date], %s::numeric[])",
            [[user_id], [Decimal("30")]],
        ).fetchone()
    assert back == (Decimal("30"),)
    assert leases(gateway_db, user_id) == {"live": Decimal("70"), "gone": Decimal("100")}
    time.sleep(0.2)
    assert asyncio.run(_with_pool(gateway_db, expire_leases)) >= 1
    assert leases(gateway_db, user_id) == {"live": Decimal("70")}  # the one still extended stays
    assert spend(gateway_db, user_id) == (0, 0, Decimal("70"))


async def _with_pool(db: str, work: Callable[[AsyncConnectionPool], Awaitable[T]]) -> T:
    async with AsyncConnectionPool(db, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        return await work(pool)


class CountingPool(AsyncConnectionPool):
    """Counts the connections taken: each is a database round trip or more."""

    taken = 0

    @contextlib.asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[AsyncConnection[Any]]:
        self.taken += 1
        async with super().connection(timeout) as conn:
            yield conn


def _settled(
    leases_: BudgetLeases, user_id: str, instance: str, period: Any, cost: str, max_cost: str
) -> None:
    """What the usage writer reports after committing one call of `user_id`."""
    leases_.written(
        [
            Settlement(
                id=uuid.uuid4(),
                user_id=user_id,
                app_id="app",
                service="openai",
                endpoint="x",
                price_key="p",
                unit_type="tokens",
                units=1,
                cost_cents=Decimal(cost),
                billable=True,
                period=period,
                lease=instance,
                max_cost_cents=Decimal(max_cost),
            )
        ]
    )


def test_calls_are_admitted_in_memory_and_refused_at_the_limit(gateway_db: str) -> None:
    user_id = make_account(gateway_db, limit_cents=100)

    async def run() -> None:
        async with CountingPool(gateway_db, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
            budget = BudgetLeases(pool, "proc-1", calls_per_lease=10, lease_seconds=30, ttl_seconds=60)
            period = await budget.admit(user_id, Decimal("2"))  # the lease: 10 calls like this one
            assert pool.taken == 1
            for _ in range(4):
                assert await budget.admit(user_id, Decimal("2")) == period
            assert pool.taken == 1  # four more calls, not one more round trip
            lease = budget.lease(user_id)
            assert lease is not None
            assert (lease.held, lease.committed) == (Decimal("20"), Decimal("10"))
            # The next call leaves 8 available, under half the lease: one top-up back to 10 calls'
            # worth, in the background.
            await budget.admit(user_id, Decimal("2"))
            await asyncio.sleep(0.2)
            assert pool.taken == 2
            assert (lease.held, lease.committed) == (Decimal("32"), Decimal("12"))
            # A call written: its real cost leaves the lease, what it did not use stays in it.
            _settled(budget, user_id, "proc-1", period, "0.5", "2")
            assert (lease.held, lease.committed) == (Decimal("31.5"), Decimal("10"))
            # A call bigger than everything left under the limit is refused with the figures.
            with pytest.raises(SpendLimitReached) as refused:
                await budget.admit(user_id, Decimal("90"))
            assert "monthly spend limit reached: limit $1.00" in refused.value.message
            assert lease.committed == Decimal("10")  # the refused call holds nothing
            assert pool.taken == 3

    asyncio.run(run())
    assert spend(gateway_db, user_id) == (0, 0, Decimal("32"))  # (the test wrote no usage rows)


def test_the_heartbeat_stops_admissions_when_billing_stops_and_gives_idle_leases_back(
    gateway_db: str,
) -> None:
    active = make_account(gateway_db, limit_cents=100)
    idle = make_account(gateway_db, limit_cents=100)
    lowered = make_account(gateway_db, limit_cents=100)

    async def run() -> None:
        async with AsyncConnectionPool(
            gateway_db, min_size=1, max_size=2, kwargs={"autocommit": True}
        ) as pool:
            budget = BudgetLeases(pool, "proc-2", calls_per_lease=10, lease_seconds=0.3, ttl_seconds=60)
            await budget.admit(active, Decimal("1"))
            await budget.admit(lowered, Decimal("5"))  # a lease of 10 calls: 50 cents
            period = await budget.admit(idle, Decimal("1"))
            _settled(budget, idle, "proc-2", period, "0", "1")  # idle's only call is written
            query(
                gateway_db,
                "UPDATE user_subscriptions SET status = 'canceled' WHERE user_id = %s RETURNING 1",
                [active],
            )
            query(
                gateway_db,
                "UPDATE user_subscriptions SET spend_limit_cents = 40 WHERE user_id = %s RETURNING 1",
                [lowered],
            )
            await asyncio.sleep(0.4)
            await budget.heartbeat()
            assert budget.lease(idle) is None  # unused for lease_seconds: given back
            assert leases(gateway_db, idle) == {}
            assert spend(gateway_db, idle)[2] == 0
            with pytest.raises(PaymentRequired, match="subscription status: canceled"):
                await budget.admit(active, Decimal("1"))  # its lease holds plenty, but billing stopped
            with pytest.raises(SpendLimitReached, match=r"limit \$0\.40"):
                await budget.admit(lowered, Decimal("5"))  # the lease was granted under a higher limit
            await budget.return_all()
            assert leases(gateway_db, active) == leases(gateway_db, lowered) == {}

    asyncio.run(run())


def test_a_call_written_after_its_lease_was_swept_is_billed_only_within_the_limit(gateway_db: str) -> None:
    # The process lost its lease (the sweeper gave it back while the process could not reach the
    # database), and another process has leased most of the budget since.
    user_id = make_account(gateway_db, limit_cents=100)
    period = grant(gateway_db, user_id, "lost", "10", "10")[1]
    query(gateway_db, "DELETE FROM api_spend_leases WHERE instance_id = 'lost' RETURNING 1")
    query(gateway_db, "UPDATE api_spend SET leased_cents = 0 WHERE user_id = %s RETURNING 1", [user_id])
    grant(gateway_db, user_id, "other", "95", "95")
    call = Settlement(
        id=uuid.uuid4(),
        user_id=user_id,
        app_id="app",
        service="openai",
        endpoint="v1/chat/completions",
        price_key="p",
        unit_type="tokens",
        units=2000,
        cost_cents=Decimal("8"),
        billable=True,
        period=period,
        lease="lost",
        max_units=2500,
        max_cost_cents=Decimal("10"),
    )

    async def write() -> None:
        async with await AsyncConnection.connect(gateway_db, autocommit=True) as conn, conn.transaction():
            await write_settlements(conn, [call])

    asyncio.run(write())
    [(units, cost, metadata)] = query(
        gateway_db, "SELECT units, cost_cents, request_metadata FROM api_usage WHERE id = %s", [call.id]
    )
    assert (units, cost, metadata) == (1250, Decimal("5"), {"over_limit_cents": "3.000000"})
    assert spend(gateway_db, user_id) == (Decimal("5"), 0, Decimal("95"))  # exactly the limit


def test_a_process_whose_lease_was_swept_asks_for_what_it_really_lacks(gateway_db: str) -> None:
    user_id = make_account(gateway_db, limit_cents=100)

    async def run() -> None:
        async with AsyncConnectionPool(
            gateway_db, min_size=1, max_size=2, kwargs={"autocommit": True}
        ) as pool:
            budget = BudgetLeases(pool, "proc-3", calls_per_lease=2, lease_seconds=30, ttl_seconds=60)
            await budget.admit(user_id, Decimal("10"))  # a lease of 20, 10 committed
            # The sweeper gave the lease back while this process could not reach the database.
            query(gateway_db, "DELETE FROM api_spend_leases WHERE user_id = %s RETURNING 1", [user_id])
            query(
                gateway_db, "UPDATE api_spend SET leased_cents = 0 WHERE user_id = %s RETURNING 1", [user_id]
            )
            budget.invalidate(user_id)
            await budget.admit(user_id, Decimal("10"))
            lease = budget.lease(user_id)
            assert lease is not None
            # What the process counts on is what PostgreSQL holds for it: both calls, and room for
            # one more (the second grant topped it up to a lease of two calls).
            assert leases(gateway_db, user_id) == {"proc-3": lease.held}
            assert (lease.held, lease.committed) == (Decimal("30"), Decimal("20"))

    asyncio.run(run())
    assert spend(gateway_db, user_id) == (0, 0, Decimal("30"))
