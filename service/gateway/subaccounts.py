"""Per-user Twilio subaccounts and SendGrid subusers, made through the vendors' APIs (base URLs
configurable), so each user's messages are kept apart at the vendor.

Only the subaccount's id is kept (`provider_subaccounts`): the platform's own credentials act on it
(Twilio: the parent account may use its subaccounts' paths; SendGrid: the `on-behalf-of` header),
so no further secret is stored. The gateway routes a user's SMS and email through theirs.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

import httpx
import psycopg

from service.gateway.errors import BillingError
from service.gateway.settings import UpstreamSettings

Connection = psycopg.Connection[Any]
_SUBUSER = re.compile(r"[^a-z0-9_]")


def _existing(conn: Connection, user_id: str, provider: str) -> str | None:
    row = conn.execute(
        "SELECT external_id FROM provider_subaccounts WHERE user_id = %s AND provider = %s",
        [user_id, provider],
    ).fetchone()
    return str(row[0]) if row else None


def _remember(conn: Connection, user_id: str, provider: str, external_id: str) -> str:
    conn.execute(
        "INSERT INTO provider_subaccounts (user_id, provider, external_id) VALUES (%s, %s, %s) "
        "ON CONFLICT (user_id, provider) DO NOTHING",
        [user_id, provider, external_id],
    )
    return _existing(conn, user_id, provider) or external_id


def _failed(vendor: str, response: httpx.Response) -> BillingError:
    # The vendor's body is not quoted: it could echo a credential.
    return BillingError(f"{vendor} refused to create the subaccount (status {response.status_code})")


def create_twilio_subaccount(
    conn: Connection, http: httpx.Client, upstreams: UpstreamSettings, user_id: str, friendly_name: str
) -> str:
    """The user's Twilio subaccount SID (made once)."""
    existing = _existing(conn, user_id, "twilio")
    if existing:
        return existing
    if not (upstreams.twilio_account_sid and upstreams.twilio_auth_token):
        raise BillingError(
            "no platform Twilio account is configured (PLATFORM_TWILIO_SID, PLATFORM_TWILIO_TOKEN)"
        )
    token = f"{upstreams.twilio_account_sid}:{upstreams.twilio_auth_token.reveal()}"
    response = http.post(
        f"{upstreams.twilio_url}/2010-04-01/Accounts.json",
        data={"FriendlyName": f"User-{user_id}: {friendly_name}"[:64]},
        headers={"authorization": "Basic " + base64.b64encode(token.encode()).decode()},
    )
    if response.status_code not in (200, 201):
        raise _failed("Twilio", response)
    # The subaccount's own auth token in the answer is deliberately dropped.
    return _remember(conn, user_id, "twilio", str(response.json()["sid"]))


def create_sendgrid_subuser(
    conn: Connection,
    http: httpx.Client,
    upstreams: UpstreamSettings,
    user_id: str,
    email: str,
    ips: list[str],
) -> str:
    """The user's SendGrid subuser name (made once); `ips` are the sending IPs it may use."""
    existing = _existing(conn, user_id, "sendgrid")
    if existing:
        return existing
    if not upstreams.sendgrid_key:
        raise BillingError("no platform SendGrid key is configured (PLATFORM_SENDGRID_KEY)")
    if not ips:
        raise BillingError("ips: SendGrid needs at least one sending IP for a subuser")
    username = ("oc_" + _SUBUSER.sub("_", user_id.lower()))[:64]
    response = http.post(
        f"{upstreams.sendgrid_url}/v3/subusers",
        json={
            "username": username,
            "email": email,
            # Required by SendGrid, never used: the platform sends on the subuser's behalf.
            "password": secrets.token_urlsafe(24) + "!A1",
            "ips": ips,
        },
        headers={"authorization": f"Bearer {upstreams.sendgrid_key.reveal()}"},
    )
    if response.status_code not in (200, 201):
        raise _failed("SendGrid", response)
    return _remember(conn, user_id, "sendgrid", str(response.json()["username"]))
