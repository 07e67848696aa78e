"""The email senders each user may send as through the platform's email account.

A platform-key email's `from` must be the platform's default sender or one the user has verified
(`email_senders`): an address (`news@shop.example`) or a whole domain (`@shop.example`). The
platform records a sender once it has confirmed the user controls it (e.g. the vendor's sender or
domain verification); `oneclick gateway sender add` does it by hand. A verified sender belongs to
one user, so no user can send as another's address. Bring-your-own-key emails go through the
user's own vendor account, whose own verification applies.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from service.gateway.errors import BillingError

Connection = psycopg.Connection[Any]
_SENDER = re.compile(
    r"^(?:[^@\s<>]+)?@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
)


def normalise(sender: str) -> str:
    """`News@Shop.example` → `news@shop.example`; `shop.example` or `@shop.example` → `@shop.example`."""
    value = sender.strip().lower()
    if "@" not in value:
        value = "@" + value
    if not _SENDER.match(value):
        raise BillingError(
            f"sender: {sender!r} is neither an email address (news@shop.example) nor a domain (shop.example)"
        )
    return value


def allowed(address: str, verified: frozenset[str]) -> bool:
    """Whether `address` is one of `verified`, or in one of its domains."""
    address = address.lower()
    return address in verified or "@" + address.rsplit("@", 1)[-1] in verified


def add_sender(conn: Connection, user_id: str, sender: str) -> str:
    """Record `sender` as verified for `user_id`; refused if another user has it. Returns it normalised."""
    value = normalise(sender)
    try:
        conn.execute(
            "INSERT INTO email_senders (user_id, sender, verified_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (user_id, sender) "
            "DO UPDATE SET verified_at = coalesce(email_senders.verified_at, now())",
            [user_id, value],
        )
    except psycopg.errors.UniqueViolation:  # email_senders_verified_once: another user's sender
        raise BillingError(f"sender {value} is verified for another user; remove it there first") from None
    return value


def remove_sender(conn: Connection, user_id: str, sender: str) -> int:
    cursor = conn.execute(
        "DELETE FROM email_senders WHERE user_id = %s AND sender = %s", [user_id, normalise(sender)]
    )
    return cursor.rowcount
