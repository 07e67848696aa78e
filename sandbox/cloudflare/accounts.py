"""Who the API token belongs to: `/user`, `/user/tokens/verify`, `/accounts`, `/memberships`.

wrangler asks these before anything else: `wrangler whoami` reads all four, and every command run
without `CLOUDFLARE_ACCOUNT_ID` picks its account from `/memberships`. The sandbox has one user with
one account (`CLOUDFLARE_ACCOUNT_ID`) and the sandbox API token is a user token with full rights.

Failures as Cloudflare answers them: a wrong token is 401 code 1000 ("Invalid API Token") on
`/user/tokens/verify` and 403 code 10000 ("Authentication error") elsewhere, as on the other v4
routes; an account the token cannot see is 403 code 9109.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request

from sandbox.cloudflare.envelope import CloudflareRoute, bearer, envelope, paginate
from sandbox.cloudflare.state import CloudflareApiError
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID
from sandbox.store import SandboxStore

PREFIX = "/client/v4"
ACCOUNT_NAME = "Sandbox account"
USER_EMAIL = "sandbox@localhost"
CREATED_ON = "2026-01-01T00:00:00Z"  # the sandbox account predates anything made in it
ROLES = ["Administrator"]


def stable_id(*parts: str) -> str:
    """A 32-hex id derived from `parts`: the same across restarts, and never the token itself."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def account_view() -> dict[str, Any]:
    return {
        "id": CLOUDFLARE_ACCOUNT_ID,
        "name": ACCOUNT_NAME,
        "type": "standard",
        "created_on": CREATED_ON,
        "settings": {
            "enforce_twofactor": False,
            "api_access_enabled": None,
            "abuse_contact_email": None,
        },
    }


def build_router(store: SandboxStore) -> APIRouter:
    user_id = stable_id("user", CLOUDFLARE_ACCOUNT_ID)

    def valid(request: Request) -> bool:
        return secrets.compare_digest(bearer(request).encode(), store.api_token.encode())

    def authorize(request: Request) -> None:
        if not valid(request):
            raise CloudflareApiError(403, 10000, "Authentication error")

    open_router = APIRouter(prefix=PREFIX, route_class=CloudflareRoute)
    router = APIRouter(prefix=PREFIX, route_class=CloudflareRoute, dependencies=[Depends(authorize)])

    @open_router.get("/user/tokens/verify")
    def verify_token(request: Request) -> Any:
        if not valid(request):
            raise CloudflareApiError(401, 1000, "Invalid API Token")
        body = envelope({"id": stable_id("token", store.api_token), "status": "active"})
        body["messages"] = [{"code": 10000, "message": "This API Token is valid and active", "type": None}]
        return body

    @router.get("/user")
    def user() -> Any:
        return envelope(
            {
                "id": user_id,
                "email": USER_EMAIL,
                "first_name": "Sandbox",
                "last_name": "User",
                "username": user_id,
                "telephone": None,
                "country": None,
                "zipcode": None,
                "two_factor_authentication_enabled": False,
                "two_factor_authentication_locked": False,
                "suspended": False,
                "has_pro_zones": False,
                "has_business_zones": False,
                "has_enterprise_zones": False,
                "betas": [],
                "organizations": [],
                "created_on": CREATED_ON,
                "modified_on": CREATED_ON,
            }
        )

    @router.get("/accounts")
    def list_accounts(request: Request, page: int = 1, per_page: int = 20) -> Any:
        name = request.query_params.get("name")
        accounts = [account_view()]
        if name is not None:
            accounts = [a for a in accounts if name.lower() in a["name"].lower()]
        chunk, info = paginate(accounts, page, per_page)
        return envelope(chunk, info)

    @router.get("/accounts/{account_id}")
    def get_account(account_id: str) -> Any:
        if account_id != CLOUDFLARE_ACCOUNT_ID:
            raise CloudflareApiError(
                403,
                9109,
                "Unauthorized to access requested resource: "
                f"the sandbox has one account, {CLOUDFLARE_ACCOUNT_ID}",
            )
        return envelope(account_view())

    @router.get("/memberships")
    def list_memberships(request: Request, page: int = 1, per_page: int = 20) -> Any:
        query = request.query_params
        membership = {
            "id": stable_id("membership", user_id, CLOUDFLARE_ACCOUNT_ID),
            "account": account_view(),
            "api_access_enabled": None,
            "roles": ROLES,
            "status": "accepted",
            "permissions": {
                area: {"read": True, "write": True}
                for area in ("analytics", "billing", "dns", "organization", "zones", "zone_settings")
            },
        }
        found = [membership]
        if query.get("status") not in (None, "accepted"):
            found = []
        if query.get("account.name") and query["account.name"].lower() not in ACCOUNT_NAME.lower():
            found = []
        chunk, info = paginate(found, page, per_page)
        return envelope(chunk, info)

    combined = APIRouter()
    combined.include_router(open_router)
    combined.include_router(router)
    return combined
