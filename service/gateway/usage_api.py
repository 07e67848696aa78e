"""The usage dashboard's data: `GET /api/usage/current`, `/api/usage/history`, `/api/usage/apps`,
and `PUT /api/usage/alerts` for the spend thresholds that raise an alert.

Callers are the platform (its admin token, with `?user_id=`) or an app (its gateway key: that key's
user). Amounts are whole cents rounded half up for display; `*_exact` fields keep the micro-cents.
Totals come from the monthly roll-ups, so they trail live calls by one batch (tens of ms).
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.gateway.errors import BadRequest, Unauthorized
from service.gateway.requests import authenticate, parse_json, read_body
from service.gateway.state import Gateway, gateway_of


def whole_cents(value: Decimal | int) -> int:
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _period(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date().replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise BadRequest(
            f"period: {value!r} is not a month; write it as YYYY-MM, e.g. 2025-12", field="period"
        ) from None


def _shift(period: date, months: int) -> date:
    index = period.year * 12 + period.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _json(payload: Any) -> Response:
    return Response(json.dumps(payload), 200, media_type="application/json")


async def _user(request: Request) -> str:
    gateway = gateway_of(request)
    admin = gateway.settings.admin_token
    authorization = request.headers.get("authorization", "")
    if admin and hmac.compare_digest(authorization.encode(), f"Bearer {admin.reveal()}".encode()):
        user_id = request.query_params.get("user_id")
        if not user_id:
            raise BadRequest(
                "user_id: required query parameter with the platform's admin token", field="user_id"
            )
        return user_id
    if not authorization and not request.headers.get("x-oneclick-key"):
        raise Unauthorized(
            "send the app's gateway key (`Authorization: Bearer ocgw_…`) or the platform's admin token"
        )
    return (await authenticate(request)).user_id


async def _rows(gateway: Gateway, sql: str, params: list[Any]) -> list[Any]:
    async with gateway.pool.connection() as conn:
        cursor = await conn.execute(sql, params)
        return list(await cursor.fetchall())


async def _services(gateway: Gateway, user_id: str, period: date) -> list[tuple[str, str, int, int, Decimal]]:
    return await _rows(
        gateway,
        "SELECT service, unit_type, sum(calls)::bigint, sum(units)::bigint, sum(cost_cents) "
        "FROM api_usage_app_monthly WHERE user_id = %s AND period = %s GROUP BY service, unit_type "
        "ORDER BY sum(cost_cents) DESC, service",
        [user_id, period],
    )


async def _apps(gateway: Gateway, user_id: str, period: date) -> list[tuple[str, int, Decimal]]:
    return await _rows(
        gateway,
        "SELECT app_id, sum(calls)::bigint, sum(cost_cents) FROM api_usage_app_monthly "
        "WHERE user_id = %s AND period = %s GROUP BY app_id ORDER BY sum(cost_cents) DESC, app_id",
        [user_id, period],
    )


def _service_row(service: str, unit_type: str, calls: int, units: int, cost: Decimal) -> dict[str, Any]:
    """One service's usage in a period, as every usage route shows it."""
    return {
        "service": service,
        "unit_type": unit_type,
        "calls": calls,
        "units": units,
        "cost_cents": whole_cents(cost),
    }


def _app_rows(apps: list[tuple[str, int, Decimal]]) -> list[dict[str, Any]]:
    total = sum((cost for _, _, cost in apps), Decimal(0))
    return [
        {
            "app_id": app_id,
            "calls": calls,
            "cost_cents": whole_cents(cost),
            "share_percent": float((cost * 100 / total).quantize(Decimal("0.1"))) if total else 0.0,
        }
        for app_id, calls, cost in apps
    ]


async def current(request: Request) -> Response:
    gateway = gateway_of(request)
    user_id = await _user(request)
    period = _period(None)
    services = await _services(gateway, user_id, period)
    previous = {(s, u): cost for s, u, _, _, cost in await _services(gateway, user_id, _shift(period, -1))}
    async with gateway.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT u.spend_limit_cents, u.alert_thresholds_percent, u.status, "
            "coalesce(s.spent_cents, 0), coalesce(s.reserved_cents, 0) FROM user_subscriptions u "
            "LEFT JOIN api_spend s ON s.user_id = u.user_id AND s.period = %s WHERE u.user_id = %s",
            [period, user_id],
        )
        account = await cursor.fetchone()
        cursor = await conn.execute(
            "SELECT threshold_percent, spent_cents, created_at FROM usage_alerts "
            "WHERE user_id = %s AND period = %s ORDER BY threshold_percent",
            [user_id, period],
        )
        alerts = await cursor.fetchall()
    limit, thresholds, status, spent, reserved = account or (0, [], "none", Decimal(0), Decimal(0))
    service_rows = []
    for service, unit_type, calls, units, cost in services:
        before = previous.get((service, unit_type))
        trend = float(((cost - before) * 100 / before).quantize(Decimal("0.1"))) if before else None
        service_rows.append({**_service_row(service, unit_type, calls, units, cost), "trend_percent": trend})
    return _json(
        {
            "user_id": user_id,
            "period": period.strftime("%Y-%m"),
            "next_invoice": _shift(period, 1).isoformat(),
            "billing_status": status,
            "spend_limit_cents": limit,
            "current_bill_cents": whole_cents(spent),
            "spent_cents_exact": str(spent),
            "reserved_cents_exact": str(reserved),
            "remaining_cents": max(whole_cents(Decimal(limit) - spent - reserved), 0),
            "services": service_rows,
            "apps": _app_rows(await _apps(gateway, user_id, period)),
            "alerts": {
                "thresholds_percent": thresholds,
                "triggered": [
                    {"threshold_percent": t, "spent_cents": whole_cents(s), "at": at.isoformat()}
                    for t, s, at in alerts
                ],
            },
        }
    )


async def history(request: Request) -> Response:
    gateway = gateway_of(request)
    user_id = await _user(request)
    raw_months = request.query_params.get("months", "6")
    if not (raw_months.isascii() and raw_months.isdigit() and len(raw_months) <= 2) or not (
        1 <= int(raw_months) <= 36
    ):
        raise BadRequest("months: a whole number from 1 to 36", field="months")
    first = _shift(_period(None), 1 - int(raw_months))
    rows = await _rows(
        gateway,
        "SELECT period, service, unit_type, sum(calls)::bigint, sum(units)::bigint, sum(cost_cents) "
        "FROM api_usage_app_monthly WHERE user_id = %s AND period >= %s "
        "GROUP BY period, service, unit_type ORDER BY period DESC, service",
        [user_id, first],
    )
    months: dict[date, dict[str, Any]] = {}
    for period, service, unit_type, calls, units, cost in rows:
        month = months.setdefault(
            period, {"period": period.strftime("%Y-%m"), "total": Decimal(0), "services": []}
        )
        month["total"] += cost
        month["services"].append(_service_row(service, unit_type, calls, units, cost))
    result = [
        {"period": m["period"], "total_cost_cents": whole_cents(m["total"]), "services": m["services"]}
        for m in months.values()
    ]
    return _json({"user_id": user_id, "months": result})


async def apps(request: Request) -> Response:
    gateway = gateway_of(request)
    user_id = await _user(request)
    period = _period(request.query_params.get("period"))
    rows = await _rows(
        gateway,
        "SELECT app_id, service, unit_type, calls, units, cost_cents FROM api_usage_app_monthly "
        "WHERE user_id = %s AND period = %s ORDER BY app_id, service",
        [user_id, period],
    )
    breakdown: dict[str, list[dict[str, Any]]] = {}
    for app_id, *usage in rows:
        breakdown.setdefault(app_id, []).append(_service_row(*usage))
    totals = _app_rows(await _apps(gateway, user_id, period))
    for app in totals:
        app["services"] = breakdown.get(app["app_id"], [])
    return _json({"user_id": user_id, "period": period.strftime("%Y-%m"), "apps": totals})


async def set_alerts(request: Request) -> Response:
    gateway = gateway_of(request)
    user_id = await _user(request)
    body = parse_json(await read_body(request, 10_000))
    thresholds = body.get("thresholds_percent") if isinstance(body, dict) else None
    if (
        not isinstance(thresholds, list)
        or len(thresholds) > 10
        or not all(isinstance(t, int) and not isinstance(t, bool) and 1 <= t <= 1000 for t in thresholds)
    ):
        raise BadRequest(
            "thresholds_percent: a list of up to 10 whole percentages of the spend limit, e.g. [50, 80, 100]",
            field="thresholds_percent",
        )
    async with gateway.pool.connection() as conn:
        cursor = await conn.execute(
            "UPDATE user_subscriptions SET alert_thresholds_percent = %s, updated_at = now() "
            "WHERE user_id = %s",
            [sorted(set(thresholds)), user_id],
        )
    if cursor.rowcount == 0:
        raise BadRequest(f"user {user_id!r} has no account yet; set up billing first")
    return _json({"user_id": user_id, "thresholds_percent": sorted(set(thresholds))})
