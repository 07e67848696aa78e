"""The official Cloudflare Python SDK (`cloudflare` 5.9.0), unpatched, against the sandbox.

Pointed at the sandbox only through the SDK's documented `base_url` and `api_token`. Everyday
operations: zones list/get, DNS records list with filters (the SDK's `name={"exact": ...}` form),
create, update (PUT), edit (PATCH), delete, accounts and memberships; failures mapped to the SDK's
own exception types (404 NotFoundError, 401 AuthenticationError, 403 PermissionDeniedError, 400
BadRequestError).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import cloudflare
import httpx
import pytest
from cloudflare import Cloudflare

from sandbox import server
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, SandboxEndpoint


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEndpoint]:
    directory: Path = tmp_path_factory.mktemp("cf-sdk") / "sbx"
    yield server.start(directory, port=0)
    server.stop(directory)


def sdk(endpoint: SandboxEndpoint, token: str | None = None) -> Cloudflare:
    return Cloudflare(
        api_token=token or endpoint.api_token, base_url=f"{endpoint.url}/client/v4", max_retries=0
    )


@pytest.fixture(scope="module")
def cf(endpoint: SandboxEndpoint) -> Iterator[Cloudflare]:
    with sdk(endpoint) as client:
        yield client


@pytest.fixture(scope="module")
def zone(endpoint: SandboxEndpoint) -> tuple[str, str]:
    """A zone of its own (zones are made through the sandbox's admin API, as in the dashboard)."""
    name = f"sdk-{uuid.uuid4().hex[:6]}.org"
    made = httpx.post(f"{endpoint.url}/_admin/cloudflare/zones", json={"name": name}, timeout=10)
    return str(made.json()["id"]), name


def test_zones_list_and_get(cf: Cloudflare, zone: tuple[str, str]) -> None:
    zone_id, name = zone
    listed = {z.name: z.id for z in cf.zones.list()}
    assert listed[name] == zone_id
    assert [z.id for z in cf.zones.list(name=name)] == [zone_id]
    got = cf.zones.get(zone_id=zone_id)
    assert got is not None
    assert (got.name, got.status, got.account.id) == (name, "active", CLOUDFLARE_ACCOUNT_ID)
    with pytest.raises(cloudflare.NotFoundError) as missing:
        cf.zones.get(zone_id=uuid.uuid4().hex)
    assert missing.value.status_code == 404


def test_dns_records_find_then_update_the_right_one(cf: Cloudflare, zone: tuple[str, str]) -> None:
    zone_id, name = zone
    www = cf.dns.records.create(
        zone_id=zone_id, type="A", name=f"www.{name}", content="192.0.2.1", ttl=1, comment="front"
    )
    api = cf.dns.records.create(
        zone_id=zone_id, type="A", name=f"api.{name}", content="192.0.2.2", ttl=300, tags=["team:api"]
    )
    cf.dns.records.create(zone_id=zone_id, type="TXT", name=f"www-old.{name}", content="moved", ttl=1)
    assert www is not None
    assert api is not None

    found = list(cf.dns.records.list(zone_id=zone_id, name={"exact": f"api.{name}"}))
    assert [r.id for r in found] == [api.id], "the exact name filter finds one record, not all"
    assert {r.name for r in cf.dns.records.list(zone_id=zone_id, name={"startswith": "www"})} == {
        f"www.{name}",
        f"www-old.{name}",
    }
    assert [r.id for r in cf.dns.records.list(zone_id=zone_id, content={"endswith": ".2"})] == [api.id]
    assert [r.id for r in cf.dns.records.list(zone_id=zone_id, tag={"exact": "team:api"})] == [api.id]
    assert [r.id for r in cf.dns.records.list(zone_id=zone_id, comment={"contains": "FRO"})] == [www.id]
    either = cf.dns.records.list(zone_id=zone_id, type="TXT", content={"exact": "192.0.2.1"}, match="any")
    assert {r.name for r in either} == {f"www.{name}", f"www-old.{name}"}
    assert [r.id for r in cf.dns.records.list(zone_id=zone_id, search="moved")] != [www.id]

    target = next(iter(cf.dns.records.list(zone_id=zone_id, name={"exact": f"www.{name}"})))
    updated = cf.dns.records.update(
        dns_record_id=target.id, zone_id=zone_id, type="A", name=f"www.{name}", content="192.0.2.10", ttl=120
    )
    assert updated is not None
    assert (updated.content, updated.ttl) == ("192.0.2.10", 120)
    edited = cf.dns.records.edit(
        dns_record_id=api.id, zone_id=zone_id, type="A", name=f"api.{name}", proxied=True, ttl=1
    )
    assert edited is not None
    assert (edited.proxied, edited.content) == (True, "192.0.2.2")
    assert cf.dns.records.get(dns_record_id=api.id, zone_id=zone_id).content == "192.0.2.2"  # type: ignore[union-attr]

    deleted = cf.dns.records.delete(dns_record_id=api.id, zone_id=zone_id)
    assert deleted is not None
    assert deleted.id == api.id
    with pytest.raises(cloudflare.NotFoundError):
        cf.dns.records.get(dns_record_id=api.id, zone_id=zone_id)


def test_invalid_records_and_unknown_filters_are_bad_requests(cf: Cloudflare, zone: tuple[str, str]) -> None:
    zone_id, name = zone
    with pytest.raises(cloudflare.BadRequestError, match="valid IPv4"):
        cf.dns.records.create(zone_id=zone_id, type="A", name=f"bad.{name}", content="not-an-ip", ttl=1)
    with pytest.raises(cloudflare.BadRequestError, match="unknown DNS record filter"):
        cf.dns.records.list(zone_id=zone_id, extra_query={"name.like": "www"})


def test_accounts_memberships_and_token_verification(cf: Cloudflare) -> None:
    assert [a.id for a in cf.accounts.list()] == [CLOUDFLARE_ACCOUNT_ID]
    account = cf.accounts.get(account_id=CLOUDFLARE_ACCOUNT_ID)
    assert account is not None
    assert account.name == "Sandbox account"
    memberships = list(cf.memberships.list())
    assert [m.account.id for m in memberships if m.account] == [CLOUDFLARE_ACCOUNT_ID]
    verified = cf.user.tokens.verify()
    assert verified is not None
    assert verified.status == "active"


def test_a_wrong_token_raises_the_sdk_auth_errors(endpoint: SandboxEndpoint) -> None:
    with sdk(endpoint, token="not-the-sandbox-token") as wrong:
        with pytest.raises(cloudflare.AuthenticationError) as unauthenticated:
            wrong.user.tokens.verify()
        assert unauthenticated.value.status_code == 401
        with pytest.raises(cloudflare.PermissionDeniedError) as denied:
            wrong.zones.list()
        assert denied.value.status_code == 403
        assert "not-the-sandbox-token" not in str(denied.value)
