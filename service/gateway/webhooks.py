"""`POST /api/stripe/webhook`: keeps each user's subscription status current, which every
platform-key call checks ("billing active") as part of its reservation.

Only Stripe-signed events are accepted (`STRIPE_WEBHOOK_SECRET`). Subscription events set the
status (active, trialing, past_due, canceled, …) and the current period; other events are
acknowledged and ignored.

Stripe does not deliver events in order and retries them for days, so each is applied only if it
is newer than the last one applied to the row (by the event's `created`, kept with its id); an
older one, or the same one again, is acknowledged and ignored. A canceled (or expired) subscription
stays so: Stripe never re-activates one, so no event about it may.
"""

from __future__ import annotations

from typing import Any

import stripe
from starlette.requests import Request
from starlette.responses import Response

from service.gateway.errors import BadRequest, ServiceNotOffered
from service.gateway.requests import JSON, read_body
from service.gateway.state import gateway_of

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
)


# A row's subscription leaves these only for a new subscription (another id).
FINAL_STATUSES = ("canceled", "incomplete_expired")

_APPLY = """
UPDATE user_subscriptions SET status = %(status)s,
  current_period_start = coalesce(to_timestamp(%(start)s::bigint), current_period_start),
  current_period_end = coalesce(to_timestamp(%(end)s::bigint), current_period_end),
  stripe_event_created = to_timestamp(%(created)s::bigint), stripe_event_id = %(event)s,
  updated_at = now()
WHERE (stripe_subscription_id = %(id)s
       OR (stripe_subscription_id IS NULL AND stripe_customer_id = %(customer)s))
  AND (stripe_event_created IS NULL OR stripe_event_created < to_timestamp(%(created)s::bigint)
       OR (stripe_event_created = to_timestamp(%(created)s::bigint) AND stripe_event_id <> %(event)s))
  AND NOT (stripe_subscription_id = %(id)s AND status = ANY(%(final)s) AND status <> %(status)s)
RETURNING user_id
"""


def _seconds(value: Any) -> int | None:
    """A Unix time as Stripe sends it, None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**37:
        return None
    return value


def _period(subscription: dict[str, Any]) -> tuple[int | None, int | None]:
    """Newer API versions keep the current period on the subscription's items."""
    start, end = subscription.get("current_period_start"), subscription.get("current_period_end")
    if start is None:
        items = (subscription.get("items") or {}).get("data") or []
        if items:
            start, end = items[0].get("current_period_start"), items[0].get("current_period_end")
    return start, end


async def stripe_webhook(request: Request) -> Response:
    gateway = gateway_of(request)
    secret = gateway.settings.stripe_webhook_secret
    if not secret:
        raise ServiceNotOffered("Stripe webhooks are not configured here (set STRIPE_WEBHOOK_SECRET)")
    payload = await read_body(request, 1_000_000)
    try:
        event = stripe.Webhook.construct_event(
            payload, request.headers.get("stripe-signature"), secret.reveal()
        )
    except (stripe.SignatureVerificationError, ValueError):
        raise BadRequest(
            "not a Stripe-signed event (Stripe-Signature header missing, stale or wrong)"
        ) from None
    if event.type not in SUBSCRIPTION_EVENTS:
        return Response('{"received":true}', media_type=JSON)
    created = _seconds(event.to_dict().get("created"))
    if created is None:
        raise BadRequest(
            "created: a subscription event needs its creation time (Unix seconds)", field="created"
        )
    subscription = event.data.object.to_dict()
    start, end = (_seconds(value) for value in _period(subscription))
    async with gateway.pool.connection() as conn:
        cursor = await conn.execute(
            _APPLY,
            {
                "status": subscription.get("status"),
                "start": start,
                "end": end,
                "id": subscription.get("id"),
                "customer": subscription.get("customer"),
                "created": created,
                "event": event.id,
                "final": list(FINAL_STATUSES),
            },
        )
        changed = [str(row[0]) for row in await cursor.fetchall()]
    for user_id in changed:  # this process's leases ask the database again (others within lease_seconds)
        gateway.leases.invalidate(user_id)
    applied = "true" if changed else "false"
    return Response(f'{{"received":true,"applied":{applied}}}', media_type=JSON)
