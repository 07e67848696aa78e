"""The gateway's shared state: settings, the pool, the key cache, the usage writer and its loops.

On start-up it replays the journal a crashed predecessor left, settles that predecessor's
orphaned reservations and gives back its budget leases, then runs four loops: the usage writer
(batches), the leases' heartbeat, the sweeper (expired reservations and leases of any instance)
and, with a Stripe key, the hourly meter report. On a stop it writes what is queued and gives its
leases back. Routes reach it through `gateway_of(request)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from typing import Any

from starlette.requests import Request

from service.gateway import messaging
from service.gateway.dbpool import create_pool
from service.gateway.errors import GatewayError
from service.gateway.journal import Journal
from service.gateway.keys import FailedLookups, KeyCache
from service.gateway.leases import BudgetLeases, expire_leases
from service.gateway.metering import Alert, UsageWriter, settle_expired_reservations
from service.gateway.settings import GatewayConfigError, GatewaySettings
from service.gateway.upstreams import Scrubber, Upstream

log = logging.getLogger("oneclick.gateway")


def _default_sender(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return messaging.parse_address(value).email.lower()
    except GatewayError:
        raise GatewayConfigError(
            f"PLATFORM_EMAIL_FROM: {value!r} is not an email address (write a@b.c or Name <a@b.c>)"
        ) from None


class Gateway:
    """Everything the routes share: settings, the pool, the key cache, the writer, upstream clients."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.scrub = Scrubber(settings.upstreams.master_keys())
        self.pool = create_pool(
            settings.database_url, min_size=settings.pool_min_size, max_size=settings.pool_max_size
        )
        self.keys = KeyCache(
            self.pool,
            ttl=settings.key_cache_seconds,
            failed=FailedLookups(settings.failed_key_limit, settings.failed_key_window_seconds),
        )
        self.journal: Journal | None = None
        self._leases: BudgetLeases | None = None
        self._writer: UsageWriter | None = None
        self._upstreams: dict[str, Upstream] = {}
        self._subaccounts: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._senders: dict[str, tuple[float, frozenset[str]]] = {}
        self.default_sender = _default_sender(settings.upstreams.email_from)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def instance_id(self) -> str:
        assert self.journal is not None, "the gateway is not started"
        return self.journal.instance_id

    @property
    def leases(self) -> BudgetLeases:
        assert self._leases is not None, "the gateway is not started"
        return self._leases

    @property
    def writer(self) -> UsageWriter:
        assert self._writer is not None, "the gateway is not started"
        return self._writer

    def upstream(self, service: str) -> Upstream:
        if service not in self._upstreams:
            self._upstreams[service] = Upstream(service, self.settings.upstream_timeout_seconds)
        return self._upstreams[service]

    async def subaccount(self, user_id: str, provider: str) -> str | None:
        """The user's Twilio subaccount SID or SendGrid subuser name, if one was made (cached a minute)."""
        now = time.monotonic()
        cached = self._subaccounts.get((user_id, provider))
        if cached and cached[0] > now:
            return cached[1]
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT external_id FROM provider_subaccounts WHERE user_id = %s AND provider = %s",
                [user_id, provider],
            )
            row = await cursor.fetchone()
        value = str(row[0]) if row else None
        self._subaccounts[(user_id, provider)] = (now + 60.0, value)
        return value

    async def verified_senders(self, user_id: str) -> frozenset[str]:
        """The user's verified email senders (addresses and @domains), remembered a short while."""
        now = time.monotonic()
        cached = self._senders.get(user_id)
        if cached and cached[0] > now:
            return cached[1]
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT sender FROM email_senders WHERE user_id = %s AND verified_at IS NOT NULL", [user_id]
            )
            value = frozenset(str(row[0]) for row in await cursor.fetchall())
        if len(self._senders) > 100_000:
            self._senders.clear()
        self._senders[user_id] = (now + self.settings.sender_cache_seconds, value)
        return value

    def _on_alerts(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            log.warning(
                "usage alert: user %s reached %d%% of the spend limit in %s",
                alert.user_id,
                alert.threshold_percent,
                alert.period.strftime("%Y-%m"),
            )
        if self.settings.alert_webhook_url:
            payload = [
                {
                    "user_id": a.user_id,
                    "period": a.period.strftime("%Y-%m"),
                    "threshold_percent": a.threshold_percent,
                    "spent_cents": str(a.spent_cents),
                    "limit_cents": a.limit_cents,
                }
                for a in alerts
            ]
            self._tasks.append(asyncio.create_task(self._notify(payload)))

    async def _notify(self, payload: list[dict[str, Any]]) -> None:
        assert self.settings.alert_webhook_url
        content = json.dumps({"alerts": payload}).encode()
        headers = {"content-type": "application/json"}
        try:
            response = await self.upstream("alerts").send(
                "POST", self.settings.alert_webhook_url, headers, content
            )
        except GatewayError as exc:
            log.warning("alert webhook failed: %s", exc.message)
            return
        if response.status >= 300:
            log.warning("alert webhook answered %d", response.status)

    async def start(self) -> None:
        await self.pool.open(wait=True, timeout=30)
        self.journal = Journal(self.settings.journal_dir)
        settings = self.settings
        self._leases = BudgetLeases(
            self.pool,
            self.journal.instance_id,
            calls_per_lease=settings.lease_calls,
            lease_seconds=settings.lease_seconds,
            ttl_seconds=settings.lease_ttl_seconds,
        )
        self._writer = UsageWriter(
            self.pool,
            self.journal,
            flush_interval=settings.flush_interval_seconds,
            max_batch=settings.flush_max_batch,
            on_alerts=self._on_alerts,
            on_written=self._leases.written,
        )
        await self._writer.replay_journal()
        # What is still reserved under our id was in flight when the previous process died unjournaled.
        await settle_expired_reservations(self.pool, older_than_seconds=0, instance_id=self.instance_id)
        # The journal's calls are written (against the predecessor's leases): give the rest back.
        await self._leases.return_all()
        self._writer.start()
        # What exists now lives as long as the process: keep it out of the cyclic collector's
        # full passes, which otherwise pause every call in flight (a p99 matter).
        gc.freeze()
        self._tasks.append(asyncio.create_task(self._sweep(), name="reservation-sweeper"))
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="lease-heartbeat"))
        if self.settings.stripe_api_key:
            self._tasks.append(asyncio.create_task(self._report(), name="stripe-meter-report"))

    async def _sweep(self) -> None:
        settings = self.settings
        interval = min(60.0, settings.reservation_ttl_seconds / 4, settings.lease_ttl_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                await settle_expired_reservations(
                    self.pool, older_than_seconds=settings.reservation_ttl_seconds
                )
                await expire_leases(self.pool)
            except Exception:
                log.exception("settling expired reservations or leases failed; will retry")

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                async with self.writer.exclusive():
                    await self.leases.heartbeat()
            except Exception:  # the leases lapse after lease_seconds without one: calls then ask anew
                log.exception("extending budget leases failed; will retry")

    async def _report(self) -> None:
        # The stripe library is loaded only by gateways that report to Stripe.
        from service.gateway.billing import report_usage_from_settings

        while True:
            await asyncio.sleep(self.settings.report_interval_seconds)
            try:
                sent = await asyncio.to_thread(report_usage_from_settings, self.settings)
                log.info("reported %d meter event(s) to Stripe", sent)
            except Exception:
                log.exception("reporting usage to Stripe failed; the next run retries the same events")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._writer is not None:
            await self._writer.close()
        if self._leases is not None:
            try:
                await self._leases.return_all()
            except Exception:  # they come back when they expire
                log.exception("giving back budget leases failed")
        for upstream in self._upstreams.values():
            await upstream.aclose()
        if self.journal is not None:
            self.journal.close()
        await self.pool.close()


def gateway_of(request: Request) -> Gateway:
    """The Gateway the app was created with (create_app keeps it in the app's state)."""
    gateway: Gateway = request.app.state.gateway
    return gateway
