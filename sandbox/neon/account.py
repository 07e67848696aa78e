"""Who the Neon API key belongs to: `GET /users/me` (`neonctl me`) and `GET /users/me/organizations`.

The sandbox has one personal account and no organizations, so tools that pick an organization when
there is exactly one (neonctl does) carry on with the personal account's projects.
"""

from __future__ import annotations

from typing import Any

from sandbox.neon import model as m

USER_ID = "sandbox-user"
EMAIL = "sandbox@localhost"
PROJECTS_LIMIT = 100


def current_user() -> dict[str, Any]:
    return {
        "id": USER_ID,
        "email": EMAIL,
        "login": EMAIL,
        "name": "oneclick",
        "last_name": "sandbox",
        "image": "",
        "auth_accounts": [
            {"email": EMAIL, "image": "", "login": EMAIL, "name": "oneclick sandbox", "provider": "hasura"}
        ],
        "active_seconds_limit": 0,
        "compute_seconds_limit": 0,
        "projects_limit": PROJECTS_LIMIT,
        "branches_limit": 10,
        "max_autoscaling_limit": 0.25,
        "plan": "free",
        "billing_account": {
            "payment_source": {"type": ""},
            "subscription_type": "free_v3",
            "quota_reset_at_last": m.timestamp(0),
            "email": EMAIL,
            "address_city": "",
            "address_country": "",
            "address_line1": "",
            "address_line2": "",
            "address_postal_code": "",
            "address_state": "",
        },
    }


def organizations() -> dict[str, Any]:
    return {"organizations": []}
