"""Spend limits that hold under any concurrency: one atomic reservation per call in PostgreSQL.

Before a call is forwarded, one statement (one round trip) checks that the user's billing is
active, adds the call's maximum cost to `api_spend.reserved_cents` only if spent + reserved +
maximum stays within the limit, and records the reservation row (the call's write-ahead record).
PostgreSQL takes the spend row's lock for the check-and-add, so concurrent calls queue on it and
each sees the others' reservations: no interleaving can pass the limit. The real cost replaces
the maximum when the call is settled (metering.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service.gateway.dbpool import alive
from service.gateway.errors import PaymentRequired, SpendLimitReached

ACTIVE_STATUSES = ("active", "trialing")

_RESERVE = """
WITH sub AS (
  SELECT user_id, spend_limit_cents FROM user_subscriptions
  WHERE user_id = %(user_id)s AND status IN ('active', 'trialing') AND stripe_subscription_id IS NOT NULL
), spend AS (
  INSERT INTO api_spend AS s (user_id, period, limit_cents, reserved_cents)
  SELECT user_id, (date_trunc('month', now() AT TIME ZONE 'UTC'))::date, spend_limit_cents, %(max_cost)s
  FROM sub WHERE %(max_cost)s <= spend_limit_cents
  ON CONFLICT (user_id, period) DO UPDATE
    SET reserved_cents = s.reserved_cents + EXCLUDED.reserved_cents, limit_cents = EXCLUDED.limit_cents
    WHERE s.spent_cents + s.reserved_cents + EXCLUDED.reserved_cents <= EXCLUDED.limit_cents
  RETURNING s.period
)
INSERT INTO api_reservations (id, user_id, app_id, period, service, endpoint, price_key, unit_type,
                              max_units, max_cost_cents, instance_id)
SELECT %(id)s, %(user_id)s, %(app_id)s, period, %(service)s, %(endpoint)s, %(price_key)s, %(unit_type)s,
       %(max_units)s, %(max_cost)s, %(instance_id)s
FROM spend
RETURNING period
"""

_EXPLAIN = """
SELECT u.status, u.stripe_subscription_id IS NOT NULL, u.spend_limit_cents,
       coalesce(s.spent_cents, 0), coalesce(s.reserved_cents, 0)
FROM user_subscriptions u
LEFT JOIN api_spend s
  ON s.user_id = u.user_id AND s.period = (date_trunc('month', now() AT TIME ZONE 'UTC'))::date
WHERE u.user_id = %s
"""


@dataclass(frozen=True, slots=True)
class Reservation:
    id: uuid.UUID
    user_id: str
    app_id: str
    period: date
    service: str
    endpoint: str
    price_key: str
    unit_type: str
    max_units: int
    max_cost_cents: Decimal


class ReservationConnections:
    """The pool, plus one connection set aside for reservations while it is free.

    At a steady few hundred calls a second, calls rarely overlap: taking the set-aside connection
    under an uncontended lock costs microseconds, where a pool check-out and return costs about a
    tenth of a millisecond. Overlapping calls use the pool as usual.
    """

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._lock = asyncio.Lock()
        self._held: AsyncConnection[Any] | None = None

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        if self._lock.locked():
            async with self.pool.connection() as conn:
                yield conn
            return
        async with self._lock:
            # `alive` costs a round trip only if the server sent something (e.g. its goodbye).
            if self._held is not None and not await alive(self._held):
                await self.pool.putconn(self._held)  # closed: the pool discards it
                self._held = None
            if self._held is None:
                self._held = await self.pool.getconn()
            yield self._held

    async def close(self) -> None:
        async with self._lock:
            if self._held is not None:
                await self.pool.putconn(self._held)
                self._held = None


def cents_text(cents: Decimal | int) -> str:
    """Cents as dollars for people: 10050 → "$100.50"."""
    dollars = (Decimal(cents) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${dollars:,}"


async def reserve(
    connections: AsyncConnectionPool | ReservationConnections,
    *,
    user_id: str,
    app_id: str,
    service: str,
    endpoint: str,
    price_key: str,
    unit_type: str,
    max_units: int,
    max_cost_cents: Decimal,
    instance_id: str,
) -> Reservation:
    """Reserve `max_cost_cents` for one call, or raise a 402 that says why and what to do."""
    reservation_id = uuid.uuid4()
    params = {
        "id": reservation_id,
        "user_id": user_id,
        "app_id": app_id,
        "service": service,
        "endpoint": endpoint,
        "price_key": price_key,
        "unit_type": unit_type,
        "max_units": max_units,
        "max_cost": max_cost_cents,
        "instance_id": instance_id,
    }
    async with connections.connection() as conn:
        cursor = await conn.execute(_RESERVE, params)
        row = await cursor.fetchone()
        if row is None:
            cursor = await conn.execute(_EXPLAIN, [user_id])
            state = await cursor.fetchone()
    if row is not None:
        return Reservation(
            reservation_id,
            user_id,
            app_id,
            row[0],
            service,
            endpoint,
            price_key,
            unit_type,
            max_units,
            max_cost_cents,
        )
    raise _refusal(state, max_cost_cents)


def _refusal(
    state: tuple[object, ...] | None, max_cost_cents: Decimal
) -> PaymentRequired | SpendLimitReached:
    if state is None:
        return PaymentRequired(
            "billing is not set up for this account: add a payment method to use the platform's APIs "
            "(or use a bring-your-own-key gateway key)"
        )
    status, has_subscription, limit, spent, reserved = state
    if status not in ACTIVE_STATUSES or not has_subscription:
        return PaymentRequired(
            f"billing is not active for this account (subscription status: {status}): "
            "add or update the payment method to use the platform's APIs",
            subscription_status=status,
        )
    assert isinstance(limit, int)
    assert isinstance(spent, Decimal)
    assert isinstance(reserved, Decimal)
    remaining = max(Decimal(limit) - spent - reserved, Decimal(0))
    return SpendLimitReached(
        f"monthly spend limit reached: limit {cents_text(limit)}, spent {cents_text(spent)}, "
        f"{cents_text(reserved)} held by calls in progress; this call may cost up to "
        f"{cents_text(max_cost_cents)} and {cents_text(remaining)} remains. "
        "Raise the limit in settings, or lower the call's maximum (e.g. max_tokens).",
        limit_cents=limit,
        spent_cents=str(spent),
        reserved_cents=str(reserved),
        request_max_cents=str(max_cost_cents),
        remaining_cents=str(remaining),
    )
