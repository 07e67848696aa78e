"""What the gateway recorded for a user, read the two ways a check can: its tables and its usage API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.databases import query
from tests.helpers import wait_for


def usage_rows(db: str, user_id: str, count: int) -> list[dict[str, Any]]:
    """The user's `api_usage` rows, oldest first, once there are `count` (settling is batched)."""
    sql = (
        "SELECT service, endpoint, units, price_key, cost_cents, billable, request_metadata"
        " FROM api_usage WHERE user_id = %s ORDER BY created_at"
    )
    names = ("service", "endpoint", "units", "price_key", "cost_cents", "billable", "metadata")

    def enough() -> list[tuple[Any, ...]]:
        rows = query(db, sql, [user_id])
        return rows if len(rows) >= count else []

    return [dict(zip(names, row, strict=True)) for row in wait_for(enough)]


def no_usage(db: str, user_id: str) -> bool:
    return query(db, "SELECT count(*) FROM api_usage WHERE user_id = %s", [user_id]) == [(0,)]


def usage_api_units(gateway_url: str, key: str, calls: int) -> dict[str, int]:
    """Units per service from `GET /api/usage/current` (asked with the app's own key), once the
    monthly roll-up holds `calls` calls."""

    def current() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(
            f"{gateway_url}/api/usage/current", headers={"Authorization": f"Bearer {key}"}
        ).json()
        return body if sum(s["calls"] for s in body["services"]) >= calls else {}

    return {s["service"]: s["units"] for s in wait_for(current)["services"]}


def spent(db: str, user_id: str) -> Decimal:
    rows = query(db, "SELECT spent_cents FROM api_spend WHERE user_id = %s", [user_id])
    return Decimal(rows[0][0]) if rows else Decimal(0)
