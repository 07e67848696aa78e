"""Budget leases: spend limits that hold across processes with no database round trip per call.

Each gateway process takes a block of an account's remaining monthly budget from PostgreSQL in one
statement (`gateway_lease_grant`, migration 0008): about `calls_per_lease` times the maximum cost
of the call asking (or what the process has committed, if more: a busy process's calls in flight
and awaiting the next batch), but never more than an even share of what is free among the
processes holding leases on the account. Calls are then admitted against the lease in memory: a
call's maximum cost is committed before it is forwarded, and a call the lease cannot cover waits
for a top-up, or is refused when the account's limit leaves too little. Since PostgreSQL grants
leases only out of budget that is neither spent nor leased, and a call is admitted only within
its process's lease, no number of processes can pass the limit.

The usage writer settles calls against the lease in its batched writes (metering.py): the real
cost moves from the lease to `spent_cents`, and what the call did not use stays in the lease.
A lease is topped up in the background before it runs out, extended by a heartbeat while the
process lives (which also stops admissions on accounts whose billing stopped being active or
whose limit changed, and gives back leases no call used for a while), given back when the
process stops, and given back by any process's sweeper once it has expired (its process crashed).

A lease is admissible for `lease_seconds` after the database last confirmed it: billing status and
limit changes reach a process within that time, and a process that loses its database stops
admitting calls then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from psycopg_pool import AsyncConnectionPool

from service.gateway.spend import refusal

if TYPE_CHECKING:
    from service.gateway.metering import Settlement

log = logging.getLogger("oneclick.gateway.leases")

_GRANT = "SELECT * FROM gateway_lease_grant(%s, %s, %s, %s, %s)"
_RETURN = "SELECT gateway_lease_return(%s, %s::text[], %s::date[], %s::numeric[])"
_RETURN_ALL = """
SELECT gateway_lease_return(%(instance)s, array_agg(user_id), array_agg(period), array_agg(NULL::numeric))
FROM api_spend_leases WHERE instance_id = %(instance)s
"""
# Extends this process's leases of accounts whose billing is still active and whose limit is the
# one the lease was granted under; returns those.
_HEARTBEAT = """
UPDATE api_spend_leases l SET expires_at = now() + make_interval(secs => %(ttl)s)
FROM user_subscriptions u, api_spend s
WHERE l.instance_id = %(instance)s AND l.expires_at >= now() AND u.user_id = l.user_id
  AND u.status IN ('active', 'trialing') AND u.stripe_subscription_id IS NOT NULL
  AND s.user_id = l.user_id AND s.period = l.period AND s.limit_cents = u.spend_limit_cents
RETURNING l.user_id, l.period
"""
ZERO = Decimal(0)


@dataclass(slots=True)
class Lease:
    """This process's share of one account's budget for one month."""

    user_id: str
    period: date
    held: Decimal = ZERO  # what PostgreSQL holds for this process (as far as we know)
    committed: Decimal = ZERO  # maximum cost of calls admitted and not yet written
    valid_until: float = 0.0  # monotonic; admissions stop then until the database confirms it again
    last_used: float = 0.0
    constrained: bool = False  # the last grant was cut short by the limit: no background top-ups
    topping_up: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def available(self) -> Decimal:
        return self.held - self.committed


class BudgetLeases:
    """The leases this process holds, one per account; see the module's docstring."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        instance_id: str,
        *,
        calls_per_lease: int,
        lease_seconds: float,
        ttl_seconds: float,
    ) -> None:
        self._pool = pool
        self._instance = instance_id
        self._calls = max(1, calls_per_lease)
        self._seconds = lease_seconds
        self._ttl = max(ttl_seconds, lease_seconds * 2)
        self._leases: dict[str, Lease] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def lease(self, user_id: str) -> Lease | None:
        return self._leases.get(user_id)

    async def admit(self, user_id: str, max_cost: Decimal) -> date:
        """Commit `max_cost` of the account's budget to one call; returns the lease's month.

        Raises PaymentRequired or SpendLimitReached (with the figures) when it cannot be covered."""
        now = time.monotonic()
        lease = self._leases.get(user_id)
        if lease is None or now >= lease.valid_until or lease.available < max_cost:
            lease = await self._cover(user_id, max_cost)
        lease.committed += max_cost
        lease.last_used = now
        if (
            not lease.constrained
            and not lease.topping_up
            and lease.available * 2 < self._target(lease, max_cost)
        ):
            lease.topping_up = True  # one top-up at a time, in the background
            self._spawn(self._top_up(lease, max_cost))
        return lease.period

    def written(self, batch: list[Settlement]) -> None:
        """The writer committed `batch`: each call's cost left its lease for `spent_cents`."""
        for s in batch:
            if s.lease != self._instance:
                continue
            lease = self._leases.get(s.user_id)
            if lease is None or lease.period != s.period:
                continue  # a lease already given back, or a replayed call of a previous run
            lease.held -= s.cost_cents
            lease.committed -= s.max_cost_cents

    def withdraw(self, user_id: str, period: date, max_cost: Decimal) -> None:
        """Undo an admission whose call never started (e.g. its journal line could not be written)."""
        lease = self._leases.get(user_id)
        if lease is not None and lease.period == period:
            lease.committed -= max_cost

    def invalidate(self, user_id: str) -> None:
        """Ask the database before the next admission (e.g. the account's billing status changed)."""
        lease = self._leases.get(user_id)
        if lease is not None:
            lease.valid_until = 0.0

    async def _cover(self, user_id: str, max_cost: Decimal) -> Lease:
        lease = self._leases.get(user_id)
        if lease is None:
            lease = self._leases.setdefault(user_id, Lease(user_id, date.min))
        async with lease.lock:
            # Another call may have topped it up while this one waited for the lock.
            if time.monotonic() < lease.valid_until and lease.available >= max_cost:
                return lease
            await self._grant(lease, max_cost, need=max(max_cost - lease.available, ZERO))
            if lease.available < max_cost:
                # PostgreSQL held less than this process thought (its lease had been swept): the
                # grant said what it holds, so one more asks for exactly what is missing.
                await self._grant(lease, max_cost, need=max_cost - lease.available)
            return lease

    async def _top_up(self, lease: Lease, max_cost: Decimal) -> None:
        try:
            async with lease.lock:
                if lease.available * 2 < self._target(lease, max_cost):
                    await self._grant(lease, max_cost, need=ZERO)
        except Exception as exc:  # a refusal or a database error: the next call that needs it asks again
            log.debug("background lease top-up for %s failed: %s", lease.user_id, type(exc).__name__)
        finally:
            lease.topping_up = False

    def _target(self, lease: Lease, max_cost: Decimal) -> Decimal:
        """What a lease should have available: `calls_per_lease` calls like this one, or as much as
        is committed now if more (the calls in flight and those waiting for the next usage batch, so
        that a busy process does not run dry, and wait on a grant, between two batches)."""
        return max(max_cost * self._calls, lease.committed)

    async def _grant(self, lease: Lease, max_cost: Decimal, *, need: Decimal) -> None:
        available = max(lease.available, ZERO)
        want = max(self._target(lease, max_cost) - available, need)
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_GRANT, [lease.user_id, self._instance, need, want, self._ttl])
            row = await cursor.fetchone()
        if row is None or not row[0]:
            raise refusal(row[4:] if row else None, max_cost)
        period, added, lease_held = row[1], row[2], row[3]
        if period != lease.period:
            # A new month (or the first grant). Calls of the old month still being written settle
            # against the old month's lease row, which the stop or the sweeper gives back.
            lease.period, lease.committed = period, ZERO
        # What PostgreSQL holds is the truth (e.g. after the sweeper took a lease this process could
        # not extend); a batch written meanwhile may be subtracted twice, which only errs low.
        lease.held = lease_held
        lease.valid_until = time.monotonic() + self._seconds
        lease.constrained = added < want

    async def heartbeat(self) -> None:
        """Extend the leases still in use, give back idle ones, and make the others ask PostgreSQL
        before the next admission (billing no longer active, or the limit changed).

        Run it while no batch is being written (UsageWriter.exclusive): both change this process's
        lease rows, and `committed` must not change under it."""
        now = time.monotonic()
        idle = [
            lease
            for lease in self._leases.values()
            if lease.committed == 0
            and now - lease.last_used > self._seconds
            and not lease.lock.locked()
            and not lease.topping_up
        ]
        for lease in idle:
            del self._leases[lease.user_id]
        if any(lease.held > 0 for lease in idle):
            await self._return([lease for lease in idle if lease.held > 0])
        if not self._leases:
            return
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_HEARTBEAT, {"ttl": self._ttl, "instance": self._instance})
            active = {(row[0], row[1]) for row in await cursor.fetchall()}
        confirmed_until = now + self._seconds
        for lease in self._leases.values():
            if (lease.user_id, lease.period) in active:
                lease.valid_until = max(lease.valid_until, confirmed_until)
            else:
                # Billing stopped, the limit changed, or the lease is gone: ask before admitting.
                lease.valid_until = 0.0

    async def _return(self, leases: list[Lease]) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                _RETURN,
                [
                    self._instance,
                    [lease.user_id for lease in leases],
                    [lease.period for lease in leases],
                    [lease.held for lease in leases],
                ],
            )

    async def return_all(self) -> None:
        """Give back every lease of this process (at start-up: a crashed predecessor's; at a stop)."""
        if self._tasks:  # top-ups in flight: let them land first, or they would outlive the return
            await asyncio.wait(list(self._tasks), timeout=10)
        self._leases.clear()
        async with self._pool.connection() as conn:
            await conn.execute(_RETURN_ALL, {"instance": self._instance})

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def expire_leases(pool: AsyncConnectionPool) -> int:
    """Give back the leases of processes that stopped extending them; returns how many."""
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT gateway_lease_expire()")
        row = await cursor.fetchone()
    count = int(row[0]) if row and row[0] else 0
    if count:
        log.warning("gave back %d expired budget lease(s) of stopped gateway processes", count)
    return count
