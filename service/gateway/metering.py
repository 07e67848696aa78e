"""Usage metering: one `api_usage` row per call, written in batches, none lost on a crash.

A call ends with `UsageWriter.settle()`: the settlement is appended to the local journal and
queued, and the caller gets its answer at once. A background task writes the queue every
`flush_interval` seconds (or sooner when `flush_max_batch` calls wait) in one transaction:

- lock the accounts' spend rows (in a fixed order) and read this process's budget leases;
- insert the usage rows; a call already written (a journal replayed after a crash) is skipped, so
  it counts once. A call's cost and units, which are what Stripe is billed for, are capped at the
  maximum it was admitted with (the limit check was made with it), and a negative count or cost
  is settled at the maximum (it cannot lower the spend);
- move each call's real cost from its process's lease (`leased_cents`) to `spent_cents`. If the
  lease is gone (its process lost the database for longer than the lease's time to live, and the
  sweeper gave it back), the cost is capped at what the limit still leaves, so even then nothing is
  billed past the limit (`over_limit_cents` in the row's metadata says what was not billed);
- calls admitted by per-call reservation rows (gateways before budget leases, replayed journals of
  theirs) delete their row and move its maximum from `reserved_cents` to the real cost instead;
- add the calls to the monthly roll-ups (`api_usage_monthly`, `api_usage_app_monthly`);
- record the alert thresholds the new spend crossed (`usage_alerts`).

Bring-your-own-key calls have no reservation; their rows cost nothing and are never billed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service.gateway.journal import Journal

log = logging.getLogger("oneclick.gateway.metering")

MAX_UNITS = 10**12  # api_usage.units and its roll-ups are BIGINTs: far below their range

# api_usage_monthly's column pair for each unit of each service.
MONTHLY_COLUMNS: dict[tuple[str, str], tuple[str, str]] = {
    ("openai", "tokens"): ("openai_tokens", "openai_cost_cents"),
    ("anthropic", "tokens"): ("anthropic_tokens", "anthropic_cost_cents"),
    ("email", "emails"): ("email_count", "email_cost_cents"),
    ("sms", "sms"): ("twilio_sms", "twilio_cost_cents"),
    ("voice", "minutes"): ("twilio_minutes", "twilio_cost_cents"),
    ("storage", "bytes"): ("storage_bytes", "storage_cost_cents"),
}


@dataclass(slots=True)
class Settlement:
    """What one call really used. `id` is its admission's id (a fresh one for BYO calls).

    `lease` is the instance id of the process whose budget lease admitted the call (None for
    BYO calls and for calls admitted by a per-call reservation row); `max_units`/`max_cost_cents`
    are what it was admitted with."""

    id: uuid.UUID
    user_id: str
    app_id: str
    service: str
    endpoint: str
    price_key: str
    unit_type: str
    units: int
    cost_cents: Decimal
    billable: bool
    period: date
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    metadata: dict[str, Any] = field(default_factory=dict)
    lease: str | None = None
    max_units: int = 0
    max_cost_cents: Decimal = Decimal(0)

    def to_json(self) -> dict[str, Any]:
        return {  # by hand: dataclasses.asdict deep-copies, which costs more than the rest of a call
            "id": str(self.id),
            "user_id": self.user_id,
            "app_id": self.app_id,
            "service": self.service,
            "endpoint": self.endpoint,
            "price_key": self.price_key,
            "unit_type": self.unit_type,
            "units": self.units,
            "cost_cents": str(self.cost_cents),
            "billable": self.billable,
            "period": self.period.isoformat(),
            "created_at": self.created_at.isoformat(),
            "metadata": self.metadata,
            "lease": self.lease,
            "max_units": self.max_units,
            "max_cost_cents": str(self.max_cost_cents),
        }

    @staticmethod
    def from_json(record: dict[str, Any]) -> Settlement:
        return Settlement(
            id=uuid.UUID(record["id"]),
            user_id=record["user_id"],
            app_id=record["app_id"],
            service=record["service"],
            endpoint=record["endpoint"],
            price_key=record["price_key"],
            unit_type=record["unit_type"],
            units=int(record["units"]),
            cost_cents=Decimal(record["cost_cents"]),
            billable=bool(record["billable"]),
            period=date.fromisoformat(record["period"]),
            created_at=datetime.fromisoformat(record["created_at"]),
            metadata=record.get("metadata") or {},
            lease=record.get("lease"),
            max_units=int(record.get("max_units") or 0),
            max_cost_cents=Decimal(record.get("max_cost_cents") or 0),
        )


@dataclass(frozen=True)
class Alert:
    user_id: str
    period: date
    threshold_percent: int
    spent_cents: Decimal
    limit_cents: int


_LOCK_SPEND = """
SELECT s.user_id, s.period, s.limit_cents - s.spent_cents - s.reserved_cents - s.leased_cents,
       l.instance_id, l.held_cents
FROM api_spend s
LEFT JOIN api_spend_leases l
  ON l.user_id = s.user_id AND l.period = s.period AND l.instance_id = ANY(%s::text[])
WHERE (s.user_id, s.period) IN (SELECT * FROM unnest(%s::text[], %s::date[]))
ORDER BY s.user_id, s.period
FOR UPDATE OF s
"""

_SETTLE_SPEND = """
WITH leases AS (
  UPDATE api_spend_leases l SET held_cents = l.held_cents - d.cost
  FROM unnest(%s::text[], %s::date[], %s::text[], %s::numeric[]) AS d(user_id, period, instance_id, cost)
  WHERE l.user_id = d.user_id AND l.period = d.period AND l.instance_id = d.instance_id
)
UPDATE api_spend s
SET spent_cents = s.spent_cents + d.cost, reserved_cents = greatest(s.reserved_cents - d.held, 0),
    leased_cents = s.leased_cents - d.leased
FROM unnest(%s::text[], %s::date[], %s::numeric[], %s::numeric[], %s::numeric[])
     AS d(user_id, period, cost, held, leased)
WHERE s.user_id = d.user_id AND s.period = d.period
"""


def _cap(s: Settlement, max_units: int, max_cost: Decimal) -> None:
    """Never bill a call more than it was admitted with, nor less than nothing."""
    if s.units < 0 or s.cost_cents < 0:
        s.metadata["reported_units"] = str(s.units)[:40]
        s.units, s.cost_cents = max_units, max_cost
    if s.cost_cents > max_cost:
        s.metadata["uncapped_cost_cents"] = str(s.cost_cents)[:40]
        s.cost_cents = max_cost
    if s.units > max_units:
        s.metadata["uncapped_units"] = str(s.units)[:40]
        s.units = max_units


async def _lock_leases(
    conn: AsyncConnection[Any], leased: list[Settlement]
) -> tuple[dict[tuple[str, date], Decimal], dict[tuple[str, date, str], Decimal]]:
    """Lock the accounts' spend rows; returns what each leaves under its limit, and the leases held."""
    keys = sorted({(s.user_id, s.period) for s in leased})
    cursor = await conn.execute(
        _LOCK_SPEND,
        [
            sorted({s.lease for s in leased if s.lease}),
            [k[0] for k in keys],
            [k[1] for k in keys],
        ],
    )
    free: dict[tuple[str, date], Decimal] = {}
    held: dict[tuple[str, date, str], Decimal] = {}
    for user_id, period, room, instance_id, lease_held in await cursor.fetchall():
        free[(user_id, period)] = max(room, Decimal(0))
        if instance_id is not None:
            held[(user_id, period, instance_id)] = lease_held
    return free, held


def _settle_leased(
    s: Settlement, free: dict[tuple[str, date], Decimal], held: dict[tuple[str, date, str], Decimal]
) -> bool:
    """Cap `s` and take its cost from its lease; False if the lease is gone (cost capped to the room)."""
    _cap(s, s.max_units, s.max_cost_cents)
    assert s.lease is not None
    lease = (s.user_id, s.period, s.lease)
    if held.get(lease, Decimal(-1)) >= s.cost_cents:
        held[lease] -= s.cost_cents
        return True
    room = free.get((s.user_id, s.period), Decimal(0))
    if s.cost_cents > room:
        s.metadata["over_limit_cents"] = str(s.cost_cents - room)
        if s.cost_cents > 0:
            s.units = int(s.units * room / s.cost_cents)
        s.cost_cents = room
    free[(s.user_id, s.period)] = room - s.cost_cents
    return False


async def write_settlements(conn: AsyncConnection[Any], settlements: list[Settlement]) -> list[Alert]:
    """Write `settlements` in the caller's transaction; idempotent. Returns alerts newly crossed."""
    if not settlements:
        return []
    billable = [s for s in settlements if s.billable]
    leased = [s for s in billable if s.lease is not None]
    reserved = [s for s in billable if s.lease is None]
    live: dict[uuid.UUID, tuple[str, date, Decimal, int]] = {}
    if reserved:
        cursor = await conn.execute(
            "DELETE FROM api_reservations WHERE id = ANY(%s) "
            "RETURNING id, user_id, period, max_cost_cents, max_units",
            [[s.id for s in reserved]],
        )
        live = {row[0]: (row[1], row[2], row[3], row[4]) for row in await cursor.fetchall()}
    from_lease: set[uuid.UUID] = set()
    if leased:
        free, held = await _lock_leases(conn, leased)
        from_lease = {s.id for s in leased if _settle_leased(s, free, held)}
    rows: list[Settlement] = []
    # Per account and month: real cost, per-call reservations released, leased cents settled.
    spend: dict[tuple[str, date], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for s in settlements:
        if s.billable and s.lease is None:
            reservation = live.get(s.id)
            if reservation is None:
                continue  # already settled (a replay), or settled from its reservation after a crash
            user_id, period, max_cost, max_units = reservation
            _cap(s, max_units, max_cost)
            s.period = period
            totals = spend[(user_id, period)]
            totals[0] += s.cost_cents
            totals[1] += max_cost
        elif not s.billable and not 0 <= s.units <= MAX_UNITS:  # unbilled, but it must fit its column
            s.metadata["reported_units"] = str(s.units)[:40]
            s.units = min(max(s.units, 0), MAX_UNITS)
        rows.append(s)
    if not rows:
        return []
    # One JSON document for the whole batch: json.dumps (C) costs a fraction of dumping thirteen
    # typed arrays element by element, which was a tenth of a call's CPU.
    batch = json.dumps(
        [
            {
                "id": str(s.id),
                "user_id": s.user_id,
                "app_id": s.app_id,
                "service": s.service,
                "endpoint": s.endpoint,
                "units": s.units,
                "unit_type": s.unit_type,
                "cost_cents": str(s.cost_cents),
                "price_key": s.price_key,
                "billable": s.billable,
                "period": s.period.isoformat(),
                "request_metadata": s.metadata or None,
                "created_at": s.created_at.isoformat(),
            }
            for s in rows
        ]
    )
    cursor = await conn.execute(
        """
        INSERT INTO api_usage (id, user_id, app_id, service, endpoint, units, unit_type, cost_cents,
                               price_key, billable, period, request_metadata, created_at)
        SELECT id, user_id, app_id, service, endpoint, units, unit_type, cost_cents,
               price_key, billable, period, request_metadata, created_at
        FROM json_populate_recordset(NULL::api_usage, %s::json)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        [batch],
    )
    inserted = {row[0] for row in await cursor.fetchall()}
    new_rows = [s for s in rows if s.id in inserted]
    lease_costs: dict[tuple[str, date, str], Decimal] = defaultdict(Decimal)
    for s in new_rows:
        if s.billable and s.lease is not None:  # written now: a replayed call is not counted again
            totals = spend[(s.user_id, s.period)]
            totals[0] += s.cost_cents
            if s.id in from_lease:
                totals[2] += s.cost_cents
                lease_costs[(s.user_id, s.period, s.lease)] += s.cost_cents
    if spend:
        keys = sorted(spend)  # a fixed lock order: two writers never wait on each other in a cycle
        leases = sorted(lease_costs)
        await conn.execute(
            _SETTLE_SPEND,
            [
                [k[0] for k in leases],
                [k[1] for k in leases],
                [k[2] for k in leases],
                [lease_costs[k] for k in leases],
                [k[0] for k in keys],
                [k[1] for k in keys],
                [spend[k][0] for k in keys],
                [spend[k][1] for k in keys],
                [spend[k][2] for k in keys],
            ],
        )
    await _roll_up(conn, new_rows)
    return await _record_alerts(conn, sorted(spend)) if spend else []


async def _roll_up(conn: AsyncConnection[Any], rows: list[Settlement]) -> None:
    if not rows:
        return
    per_app: dict[tuple[str, date, str, str, str], list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    per_user: dict[tuple[str, date], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for s in rows:
        totals = per_app[(s.user_id, s.period, s.app_id, s.service, s.unit_type)]
        totals[0] += 1
        totals[1] += s.units
        totals[2] += s.cost_cents
        columns = MONTHLY_COLUMNS.get((s.service, s.unit_type))
        user = per_user[(s.user_id, s.period)]
        if columns:
            user[columns[0]] += s.units
            user[columns[1]] += s.cost_cents
        user["total_cost_cents"] += s.cost_cents
    keys = sorted(per_app)
    await conn.execute(
        """
        INSERT INTO api_usage_app_monthly
               (user_id, period, app_id, service, unit_type, calls, units, cost_cents)
        SELECT * FROM unnest(%b::text[], %b::date[], %b::text[], %b::text[], %b::text[], %b::bigint[],
                             %b::bigint[], %b::numeric[])
        ON CONFLICT (user_id, period, app_id, service, unit_type) DO UPDATE
        SET calls = api_usage_app_monthly.calls + EXCLUDED.calls,
            units = api_usage_app_monthly.units + EXCLUDED.units,
            cost_cents = api_usage_app_monthly.cost_cents + EXCLUDED.cost_cents
        """,
        [[k[i] for k in keys] for i in range(5)] + [[per_app[k][i] for k in keys] for i in range(3)],
    )
    all_columns = sorted({c for pair in MONTHLY_COLUMNS.values() for c in pair} | {"total_cost_cents"})
    names = ", ".join(all_columns)
    updates = ", ".join(f"{c} = api_usage_monthly.{c} + EXCLUDED.{c}" for c in all_columns)
    placeholders = ", ".join(["%s"] * (3 + len(all_columns)))
    # Column names come from MONTHLY_COLUMNS above, never from input.
    query = (
        f"INSERT INTO api_usage_monthly (user_id, period_year, period_month, {names}) "  # noqa: S608
        f"VALUES ({placeholders}) ON CONFLICT (user_id, period_year, period_month) DO UPDATE SET {updates}"
    )
    async with conn.cursor() as cursor:
        await cursor.executemany(
            query.encode(),
            [
                [
                    user_id,
                    period.year,
                    period.month,
                    *(per_user[(user_id, period)].get(c, 0) for c in all_columns),
                ]
                for user_id, period in sorted(per_user)
            ],
        )


async def _record_alerts(conn: AsyncConnection[Any], keys: list[tuple[str, date]]) -> list[Alert]:
    cursor = await conn.execute(
        """
        INSERT INTO usage_alerts (user_id, period, threshold_percent, spent_cents, limit_cents)
        SELECT s.user_id, s.period, t.percent, s.spent_cents, s.limit_cents
        FROM unnest(%s::text[], %s::date[]) AS k(user_id, period)
        JOIN api_spend s ON s.user_id = k.user_id AND s.period = k.period
        JOIN user_subscriptions u ON u.user_id = s.user_id
        CROSS JOIN LATERAL unnest(u.alert_thresholds_percent) AS t(percent)
        WHERE s.limit_cents > 0 AND s.spent_cents * 100 >= s.limit_cents::numeric * t.percent
        ON CONFLICT DO NOTHING
        RETURNING user_id, period, threshold_percent, spent_cents, limit_cents
        """,
        [[k[0] for k in keys], [k[1] for k in keys]],
    )
    return [Alert(*row) for row in await cursor.fetchall()]


async def settle_expired_reservations(
    pool: AsyncConnectionPool, *, older_than_seconds: float, instance_id: str | None = None
) -> int:
    """Settle reservations left by crashed calls at their reserved maximum; returns how many.

    Such a call's real usage is unknown (its process died before journaling it), and the upstream
    may have charged for it, so it is billed at the most it could have cost (which the limit check
    allowed), marked `settled_from: reservation` so support can see and refund it.
    `instance_id` settles a restarted process's own orphans at once, whatever their age.
    """
    async with pool.connection() as conn:
        if instance_id is not None:
            cursor = await conn.execute(
                "SELECT id, user_id, app_id, period, service, endpoint, price_key, unit_type, max_units, "
                "max_cost_cents, created_at FROM api_reservations WHERE instance_id = %s",
                [instance_id],
            )
        else:
            cursor = await conn.execute(
                "SELECT id, user_id, app_id, period, service, endpoint, price_key, unit_type, max_units, "
                "max_cost_cents, created_at FROM api_reservations "
                "WHERE created_at < now() - make_interval(secs => %s)",
                [older_than_seconds],
            )
        rows = await cursor.fetchall()
        settlements = [
            Settlement(
                id=r[0],
                user_id=r[1],
                app_id=r[2],
                period=r[3],
                service=r[4],
                endpoint=r[5],
                price_key=r[6],
                unit_type=r[7],
                units=r[8],
                cost_cents=r[9],
                billable=True,
                created_at=r[10],
                metadata={"settled_from": "reservation"},
            )
            for r in rows
        ]
        if settlements:
            async with conn.transaction():
                await write_settlements(conn, settlements)
            log.warning("settled %d interrupted call(s) at their reserved maximum", len(settlements))
    return len(settlements)


class UsageWriter:
    """Queues settlements (journaled first) and writes them in batches in the background."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        journal: Journal,
        *,
        flush_interval: float = 0.05,
        max_batch: int = 500,
        on_alerts: Callable[[list[Alert]], None] | None = None,
        on_written: Callable[[list[Settlement]], None] | None = None,
    ) -> None:
        self._pool = pool
        self._journal = journal
        self._interval = flush_interval
        self._max_batch = max_batch
        self._on_alerts = on_alerts
        self._on_written = on_written
        self._pending: list[Settlement] = []
        self._in_flight: dict[uuid.UUID, bytes] = {}  # journal lines of admitted, unsettled calls
        self._sealed: list[Path] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self.written = 0

    def admit(self, admission: Settlement) -> None:
        """Journal a call admitted at its maximum, before it is forwarded.

        If the process dies before the call is settled, the restarted process bills it at that
        maximum (the upstream may have charged for it). Sealing a segment carries the admissions
        of calls still in flight over to the next one."""
        record = admission.to_json()
        record["admission"] = True
        self._in_flight[admission.id] = self._journal.append(record)

    def settle(self, settlement: Settlement) -> None:
        """Record one finished call. Synchronous and cheap: safe in `finally` blocks of cancelled tasks."""
        self._in_flight.pop(settlement.id, None)
        self._journal.append(settlement.to_json())
        self._pending.append(settlement)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    async def replay_journal(self) -> int:
        """Write what a previous process journaled but did not commit; returns how many calls."""
        leftovers = self._journal.leftovers()
        records = [r for path in leftovers for r in Journal.read(path)]
        settlements = [Settlement.from_json(r) for r in records if not r.get("admission")]
        settled = {s.id for s in settlements}
        for record in records:  # in flight when the process died: billed at the admitted maximum
            if record.get("admission") and (admission := Settlement.from_json(record)).id not in settled:
                settled.add(admission.id)
                settlements.append(admission)
        if settlements:
            await self._write(settlements)
            log.warning("replayed %d call(s) from the journal of a previous run", len(settlements))
        Journal.discard(leftovers)
        return len(settlements)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # keep the batch (still journaled) and try again next tick
                log.exception("writing usage failed; will retry")
                await asyncio.sleep(min(5.0, self._interval * 20))

    async def flush(self) -> int:
        async with self._flush_lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, []
            self._sealed.append(self._journal.seal())
            self._journal.append_lines(list(self._in_flight.values()))
            try:
                await self._write(batch)
            except BaseException:
                self._pending = batch + self._pending
                raise
            Journal.discard(self._sealed)
            self._sealed = []
            self.written += len(batch)
            return len(batch)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """No batch is written meanwhile (the leases' heartbeat runs so)."""
        async with self._flush_lock:
            yield

    async def _write(self, batch: list[Settlement]) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            alerts = await write_settlements(conn, batch)
        if self._on_written:
            self._on_written(batch)
        if alerts and self._on_alerts:
            self._on_alerts(alerts)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


def settlements_of(records: Iterable[dict[str, Any]]) -> list[Settlement]:
    return [Settlement.from_json(r) for r in records]
