"""Authentication and the plan's tier limits, refused before anything is recorded or provisioned."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from components.turso.client import TursoClient
from sandbox.endpoint import TURSO_ORG, SandboxEndpoint
from service.auth import create_token, revoke_token
from tests.databases import query
from tests.service.conftest import ApiServer, client, database_spec, make_user, web_spec

DOMAIN_SPEC = {"customDomain": "shop.example.com"}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


def deployments_of(url: str, user: str) -> int:
    return int(query(url, "SELECT count(*) FROM deployments WHERE user_id = %s", [user])[0][0])


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "no API token"),
        ("Basic dXNlcjpwYXNz", "no API token"),  # not a bearer token
        ("Bearer nope", "malformed"),
        ("Bearer oc_0123abcd_" + "x" * 43, "not known"),
    ],
)
def test_requests_without_a_valid_token_are_refused(api: ApiServer, header: str | None, message: str) -> None:
    headers = {"Authorization": header} if header else {}
    with httpx.Client(base_url=api.url, headers=headers) as http:
        for method, path in [
            ("POST", "/api/deploy/web"),
            ("POST", "/api/deploy/ios"),
            ("GET", "/api/deploy/status/app-1"),
            ("GET", "/api/deploy/history"),
            ("GET", "/api/turso/databases"),
            ("DELETE", "/api/turso/databases/db-1"),
            ("POST", "/api/domains/check"),
        ]:
            response = http.request(method, path, json={"domain": "a.example.com"})
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            error = error_of(response)
            assert error["field"] == "Authorization"
            assert error["fix"]
            assert message in error["message"], error


def test_revoked_tokens_are_refused_and_tokens_are_stored_hashed(api: ApiServer, service_db: str) -> None:
    user, token = make_user(service_db)
    with client(api, token) as http:
        assert http.get("/api/deploy/history").status_code == 200
    stored = query(service_db, "SELECT token_hash, token_prefix FROM api_tokens WHERE user_id = %s", [user])
    assert len(stored) == 1
    assert token.encode() not in bytes(stored[0][0])
    assert stored[0][1] in token
    import psycopg

    with psycopg.connect(service_db, autocommit=True) as conn:
        assert revoke_token(conn, stored[0][1]) == 1
        other = create_token(conn, user, "second")
    with client(api, token) as http:
        response = http.get("/api/deploy/history")
        assert response.status_code == 401
        assert "revoked" in error_of(response)["message"]
        assert token not in response.text
    with client(api, other) as http:
        assert http.get("/api/deploy/history").status_code == 200


def test_free_tier_and_lapsed_subscriptions_need_payment(api: ApiServer, service_db: str) -> None:
    for tier, status, message in [
        ("free", "active", "Free tier"),
        ("starter", "past_due", "past_due"),
        ("pro", "canceled", "canceled"),
    ]:
        user, token = make_user(service_db, tier, status)
        with client(api, token) as http:
            response = http.post("/api/deploy/database", json=database_spec("tier-app"))
        assert response.status_code == 402, response.text
        error = error_of(response)
        assert error["code"] == "payment_required"
        assert error["field"] == "tier"
        assert message in error["message"]
        assert error["fix"]
        assert deployments_of(service_db, user) == 0
    # A user with no subscription at all is on the Free tier.
    import psycopg

    with psycopg.connect(service_db, autocommit=True) as conn:
        token = create_token(conn, "user-without-subscription")
    with client(api, token) as http:
        response = http.post("/api/deploy/database", json=database_spec("tier-app"))
    assert response.status_code == 402
    assert error_of(response)["tier"] == "free"


def test_neon_needs_business_and_byo_needs_enterprise(api: ApiServer, service_db: str) -> None:
    neon = {"id": "tier-neon", "database": {"provider": "neon"}}
    # A public address: the service refuses BYO hosts that do not resolve to one (no worker runs here).
    byo = {
        "id": "tier-byo",
        "database": {"provider": "byo", "url": "postgresql://u:pw-s3cret@8.8.8.8/app"},
    }
    for tier, spec, required in [
        ("starter", neon, "business"),
        ("pro", neon, "business"),
        ("business", byo, "enterprise"),
    ]:
        _, token = make_user(service_db, tier)
        with client(api, token) as http:
            response = http.post("/api/deploy/database", json=spec)
        assert response.status_code == 403, response.text
        error = error_of(response)
        assert (error["field"], error["requiredTier"]) == ("database.provider", required), error
        assert "pw-s3cret" not in response.text
    # The tiers that include them accept (the deploy is queued; no worker runs it here).
    for tier, spec in [("business", neon), ("enterprise", byo)]:
        user, token = make_user(service_db, tier)
        with client(api, token) as http:
            response = http.post("/api/deploy/database", json={**spec, "id": f"{spec['id']}-{tier}"})
        assert response.status_code == 202, response.text
        assert deployments_of(service_db, user) == 1


def test_custom_domains_from_pro_up_to_the_tier_limit(api: ApiServer, service_db: str) -> None:
    _, starter = make_user(service_db, "starter")
    with client(api, starter) as http:
        response = http.post("/api/deploy/web", json=web_spec("dom-starter", **DOMAIN_SPEC))
    assert response.status_code == 403
    error = error_of(response)
    assert error["field"] == "customDomain"
    assert error["requiredTier"] == "pro"
    assert "remove customDomain" in error["fix"]

    user, pro = make_user(service_db, "pro", max_domains=1)
    with client(api, pro) as http:
        first = http.post("/api/deploy/web", json=web_spec("dom-pro-1", customDomain="a.example.com"))
        assert first.status_code == 202, first.text
        # The same app may keep (or change) its own domain; a second app may not add another.
        again = http.post("/api/deploy/web", json=web_spec("dom-pro-1", customDomain="b.example.com"))
        assert again.status_code == 202, again.text
        second = http.post("/api/deploy/web", json=web_spec("dom-pro-2", customDomain="c.example.com"))
        assert second.status_code == 403
        assert error_of(second)["field"] == "customDomain"
        assert "1 custom domain" in error_of(second)["message"]
    # Another user cannot take a domain in use.
    _, other = make_user(service_db, "business")
    with client(api, other) as http:
        taken = http.post("/api/deploy/web", json=web_spec("dom-biz", customDomain="b.example.com"))
        assert taken.status_code == 409
        assert error_of(taken)["field"] == "customDomain"
        check = http.post("/api/domains/check", json={"domain": "B.Example.com."}).json()
        assert check["available"] is False
        assert "another app" in check["reason"]
    assert deployments_of(service_db, user) == 2


def test_app_count_limit_counts_other_apps_only(api: ApiServer, service_db: str) -> None:
    user, token = make_user(service_db, "starter")  # 3 apps
    with client(api, token) as http:
        for n in range(3):
            assert http.post("/api/deploy/database", json=database_spec(f"cnt-{user}-{n}")).status_code == 202
        # Redeploying an existing app is fine; a fourth app is not.
        assert http.post("/api/deploy/database", json=database_spec(f"cnt-{user}-0")).status_code == 202
        response = http.post("/api/deploy/database", json=database_spec(f"cnt-{user}-3"))
    assert response.status_code == 403
    error = error_of(response)
    assert error["field"] == "id"
    assert "3 deployed app(s)" in error["message"]
    assert error["requiredTier"] == "pro"
    assert deployments_of(service_db, user) == 4


def test_refused_deploys_provision_nothing(api: ApiServer, service_db: str, sandbox: SandboxEndpoint) -> None:
    _, token = make_user(service_db, "free")
    with client(api, token) as http:
        assert http.post("/api/deploy/database", json=database_spec("never-made")).status_code == 402
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        assert "never-made" not in {db.name for db in turso.list_databases()}
    assert query(service_db, "SELECT count(*) FROM deployed_apps WHERE app_id = 'never-made'") == [(0,)]


def test_apps_belong_to_their_owner(api: ApiServer, service_db: str) -> None:
    _, first = make_user(service_db, "starter")
    _, second = make_user(service_db, "starter")
    with client(api, first) as http:
        accepted = http.post("/api/deploy/database", json=database_spec("owned-app")).json()
    with client(api, second) as http:
        taken = http.post("/api/deploy/database", json=database_spec("owned-app"))
        assert taken.status_code == 403
        assert error_of(taken)["field"] == "id"
        assert http.get(f"/api/deploy/status/{accepted['deploymentId']}").status_code == 404
        assert http.get("/api/deploy/status/owned-app").status_code == 404
        assert (
            http.delete("/api/apps/owned-app").status_code == 404
        )  # like an unknown app: ids are not probed
        owner = http.post("/api/deploy/database", json={**database_spec("mine-app"), "owner": "someone-else"})
        assert owner.status_code == 403
        assert error_of(owner)["field"] == "owner"
    with client(api, first) as http:
        status = http.get(f"/api/deploy/status/{accepted['deploymentId']}").json()
        assert status["status"] == "queued"
        assert status["steps"][0]["state"] == "pending"
