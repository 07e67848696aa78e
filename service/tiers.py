"""The plan's pricing tiers as limits, checked before anything is provisioned.

    tier        deploys  apps  custom domains  databases
    free        no       0     0               (in-browser preview only)
    starter     yes      3     0               Turso
    pro         yes      10    3               Turso
    business    yes      50    20              Turso, Neon
    enterprise  yes      -     -               Turso, Neon, bring-your-own

The tier is the user's subscription (`user_subscriptions`), never the request's word. A
subscription row whose `max_deployed_apps` / `max_custom_domains` is positive overrides the tier's
default (a negotiated plan). Refusals are 402 when paying fixes them (no paid subscription, or a
lapsed one) and 403 when the plan does not include the feature or its limit is reached; both name
the field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from components.spec import AppSpec
from core.errors import OneclickError

TierName = Literal["free", "starter", "pro", "business", "enterprise"]
TIER_ORDER: tuple[TierName, ...] = ("free", "starter", "pro", "business", "enterprise")
PAYING_STATUSES = frozenset({"active", "trialing"})


@dataclass(frozen=True)
class TierLimits:
    tier: TierName
    can_deploy: bool
    max_deployed_apps: int | None  # None: unlimited
    max_custom_domains: int | None
    database_providers: frozenset[str]


TIERS: dict[TierName, TierLimits] = {
    "free": TierLimits("free", False, 0, 0, frozenset()),
    "starter": TierLimits("starter", True, 3, 0, frozenset({"turso"})),
    "pro": TierLimits("pro", True, 10, 3, frozenset({"turso"})),
    "business": TierLimits("business", True, 50, 20, frozenset({"turso", "neon"})),
    "enterprise": TierLimits("enterprise", True, None, None, frozenset({"turso", "neon", "byo"})),
}


class TierRefusal(OneclickError):
    """A request the user's plan does not allow. `status` is 402 or 403."""

    def __init__(
        self, status: int, field: str, message: str, fix: str, tier: str, required: str | None = None
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.status = status
        self.field = field
        self.message = message
        self.fix = fix
        self.tier = tier
        self.required = required

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": "payment_required" if self.status == 402 else "tier_limit",
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
            "tier": self.tier,
            "requiredTier": self.required,
        }


@dataclass(frozen=True)
class Subscription:
    user_id: str
    tier: TierName
    status: str
    limits: TierLimits


def _lowest_tier(predicate: Any) -> str:
    return next(name for name in TIER_ORDER if predicate(TIERS[name]))


def load_subscription(conn: psycopg.Connection, user_id: str) -> Subscription:
    row = conn.execute(
        "SELECT tier, status, max_deployed_apps, max_custom_domains FROM user_subscriptions "
        "WHERE user_id = %s",
        [user_id],
    ).fetchone()
    if row is None:
        return Subscription(user_id, "free", "none", TIERS["free"])
    tier: TierName = row[0] if row[0] in TIERS else "free"
    base = TIERS[tier]
    limits = TierLimits(
        tier,
        base.can_deploy,
        row[2] if row[2] and row[2] > 0 else base.max_deployed_apps,
        row[3] if row[3] and row[3] > 0 else base.max_custom_domains,
        base.database_providers,
    )
    return Subscription(user_id, tier, str(row[1]), limits)


def check_can_deploy(sub: Subscription) -> None:
    if not sub.limits.can_deploy:
        raise TierRefusal(
            402,
            "tier",
            "the Free tier is in-browser preview only and cannot deploy",
            "upgrade to Starter ($5/mo) or above to deploy apps",
            sub.tier,
            "starter",
        )
    if sub.status not in PAYING_STATUSES:
        raise TierRefusal(
            402,
            "tier",
            f"the {sub.tier} subscription is {sub.status}, not active",
            "update the payment method or renew the subscription, then deploy again",
            sub.tier,
        )


def check_database(sub: Subscription, provider: str) -> None:
    if provider not in sub.limits.database_providers:
        required = _lowest_tier(lambda t: provider in t.database_providers)
        raise TierRefusal(
            403,
            "database.provider",
            f"{provider} databases are not included in the {sub.tier} tier",
            f"use provider 'turso', or upgrade to {required.capitalize()}",
            sub.tier,
            required,
        )


def check_custom_domain(conn: psycopg.Connection, sub: Subscription, app_id: str, domain: str) -> None:
    limit = sub.limits.max_custom_domains
    if limit == 0:
        raise TierRefusal(
            403,
            "customDomain",
            f"custom domains are not included in the {sub.tier} tier",
            "remove customDomain to use the free pages.dev subdomain, or upgrade to Pro",
            sub.tier,
            "pro",
        )
    if limit is None:
        return
    row = conn.execute(
        "SELECT count(*) FROM deployed_apps WHERE user_id = %s AND destroyed_at IS NULL "
        "AND custom_domain IS NOT NULL AND custom_domain <> %s AND app_id <> %s",
        [sub.user_id, domain, app_id],
    ).fetchone()
    used = int(row[0]) if row else 0
    if used >= limit:
        raise TierRefusal(
            403,
            "customDomain",
            f"the {sub.tier} tier allows {limit} custom domain(s) and {used} are in use",
            "remove a custom domain from another app, or upgrade your plan",
            sub.tier,
            _lowest_tier(lambda t: t.max_custom_domains is None or t.max_custom_domains > limit),
        )


def check_app_count(conn: psycopg.Connection, sub: Subscription, app_id: str) -> None:
    limit = sub.limits.max_deployed_apps
    if limit is None:
        return
    row = conn.execute(
        "SELECT count(*) FROM deployed_apps WHERE user_id = %s AND destroyed_at IS NULL AND app_id <> %s",
        [sub.user_id, app_id],
    ).fetchone()
    used = int(row[0]) if row else 0
    if used >= limit:
        raise TierRefusal(
            403,
            "id",
            f"the {sub.tier} tier allows {limit} deployed app(s) and {used} exist; "
            f"{app_id!r} would be one more",
            "redeploy one of your existing apps, destroy one, or upgrade your plan",
            sub.tier,
            _lowest_tier(lambda t: t.max_deployed_apps is None or t.max_deployed_apps > limit),
        )


def check_spec(conn: psycopg.Connection, sub: Subscription, spec: AppSpec) -> None:
    """Every limit a deploy of `spec` touches, cheapest first."""
    check_can_deploy(sub)
    check_database(sub, spec.database.provider)
    if spec.custom_domain:
        check_custom_domain(conn, sub, spec.id, spec.custom_domain)
    check_app_count(conn, sub, spec.id)
