"""What a call holds of its account's budget, and the refusal when the budget cannot cover it.

Calls are admitted against the gateway process's budget lease in memory (leases.py): a call's
maximum cost is committed before it is forwarded, and its real cost replaces the maximum when it
is settled (metering.py). A refusal names the limit, the spend, what is held and what to change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from service.gateway.errors import PaymentRequired, SpendLimitReached

ACTIVE_STATUSES = ("active", "trialing")


@dataclass(frozen=True, slots=True)
class Reservation:
    """One admitted call: its id (its usage row's), its lease's month and its maximum cost."""

    id: uuid.UUID
    period: date
    max_cost_cents: Decimal


def cents_text(cents: Decimal | int) -> str:
    """Cents as dollars for people: 10050 → "$100.50"."""
    dollars = (Decimal(cents) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${dollars:,}"


def refusal(state: tuple[object, ...] | None, max_cost_cents: Decimal) -> PaymentRequired | SpendLimitReached:
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
    # `reserved`: what gateway processes hold of the budget for calls in progress and to come.
    return SpendLimitReached(
        f"monthly spend limit reached: limit {cents_text(limit)}, spent {cents_text(spent)}, "
        f"{cents_text(reserved)} held for calls in progress; this call may cost up to "
        f"{cents_text(max_cost_cents)} and {cents_text(remaining)} remains. "
        "Raise the limit in settings, or lower the call's maximum (e.g. max_tokens).",
        limit_cents=limit,
        spent_cents=str(spent),
        reserved_cents=str(reserved),
        request_max_cents=str(max_cost_cents),
        remaining_cents=str(remaining),
    )
