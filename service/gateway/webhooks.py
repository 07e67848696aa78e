"""`POST /api/stripe/webhook`: keeps each user's subscription status current, which every
platform-key call checks ("billing active") as part of its reservation.

Only Stripe-signed events are accepted (`STRIPE_WEBHOOK_SECRET`). Subscription events set the
status (active, trialing, past_due, canceled, …) and the current period; other events are
acknowledged and ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import stripe
from starlette.requests import Request
from starlette.responses import Response

from service.gateway.errors import BadRequest, ServiceNotOffered
from service.gateway.proxy import read_body

if TYPE_CHECKING:
    from service.gateway.app import Gateway

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
)


def _period(subscription: dict[str, Any]) -> tuple[int | None, int | None]:
    """Newer API versions keep the current period on the subscription's items."""
    start, end = subscription.get("current_period_start"), subscription.get("current_period_end")
    if start is None:
        items = (subscription.get("items") or {}).get("data") or []
        if items:
            start, end = items[0].get("current_period_start"), items[0].get("current_period_end")
    return start, end


async def stripe_webhook(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
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
    if event.type in SUBSCRIPTION_EVENTS:
        subscription = event.data.object.to_dict()
        start, end = _period(subscription)
        async with gateway.pool.connection() as conn:
            await conn.execute(
                "UPDATE user_subscriptions SET status = %(status)s, "
                "current_period_start = coalesce(to_timestamp(%(start)s::bigint), current_period_start), "
                "current_period_end = coalesce(to_timestamp(%(end)s::bigint), current_period_end), "
                "updated_at = now() "
                "WHERE stripe_subscription_id = %(id)s "
                "OR (stripe_subscription_id IS NULL AND stripe_customer_id = %(customer)s)",
                {
                    "status": subscription.get("status"),
                    "start": start,
                    "end": end,
                    "id": subscription.get("id"),
                    "customer": subscription.get("customer"),
                },
            )
    return Response('{"received":true}', media_type="application/json")
