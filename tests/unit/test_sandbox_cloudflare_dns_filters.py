"""The sandbox's DNS record list filters and its account routes, over real HTTP.

Filters as Cloudflare documents them (../shared/contracts/cloudflare-pages-dns.json plus today's
`name.*`/`content.*`); an unknown filter is a 400, never a silently unfiltered list. The account
routes are what `wrangler whoami` and account selection read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import server
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, SandboxEndpoint


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEndpoint]:
    directory: Path = tmp_path_factory.mktemp("cf-dns") / "sbx"
    yield server.start(directory, port=0)
    server.stop(directory)


@pytest.fixture(scope="module")
def api(endpoint: SandboxEndpoint) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {endpoint.api_token}"}
    with httpx.Client(base_url=f"{endpoint.url}/client/v4", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def zone(endpoint: SandboxEndpoint, api: httpx.Client) -> str:
    """A zone holding five records to filter."""
    name = f"filters-{uuid.uuid4().hex[:6]}.org"
    created = httpx.post(f"{endpoint.url}/_admin/cloudflare/zones", json={"name": name}, timeout=10)
    zone_id = str(created.json()["id"])
    records = [
        {"type": "A", "name": "www", "content": "192.0.2.1", "comment": "Web Front", "tags": ["team:web"]},
        {"type": "A", "name": "api", "content": "192.0.2.2", "proxied": True,
         "tags": ["team:api", "env:prod"]},
        {"type": "CNAME", "name": "docs", "content": "docs-host.example.net", "comment": "handbook"},
        {"type": "TXT", "name": "@", "content": "v=spf1 -all"},
        {"type": "TXT", "name": "www-old", "content": "moved to www", "tags": ["env:staging"]},
    ]  # fmt: skip
    for record in records:
        response = api.post(f"/zones/{zone_id}/dns_records", json=record)
        assert response.status_code == 200, response.text
    return zone_id


def names(api: httpx.Client, zone: str, **params: Any) -> list[str]:
    response = api.get(f"/zones/{zone}/dns_records", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result_info"]["count"] == len(body["result"])
    return sorted(r["name"].split(".")[0] for r in body["result"])


def test_name_and_content_operators(api: httpx.Client, zone: str) -> None:
    apex = api.get(f"/zones/{zone}").json()["result"]["name"]
    assert names(api, zone, **{"name.exact": f"www.{apex}"}) == ["www"]
    assert names(api, zone, name=f"WWW.{apex}") == ["www"], "names compare case-insensitively"
    assert names(api, zone, **{"name.exact": "@"}) == [apex.split(".")[0]]
    assert names(api, zone, **{"name.startswith": "www"}) == ["www", "www-old"]
    assert names(api, zone, **{"name.contains": "oc"}) == ["docs"]
    assert names(api, zone, **{"name.endswith": f"i.{apex}"}) == ["api"]
    assert names(api, zone, **{"content.exact": "192.0.2.2"}) == ["api"]
    assert names(api, zone, **{"content.startswith": "192.0.2."}) == ["api", "www"]
    assert names(api, zone, **{"content.contains": "SPF1"}) == [apex.split(".")[0]]
    assert names(api, zone, **{"content.endswith": ".net"}) == ["docs"]
    assert names(api, zone, content="192.0.2.1") == ["www"]


def test_comment_tag_type_proxied_filters(api: httpx.Client, zone: str) -> None:
    assert names(api, zone, comment="web front") == ["www"]
    assert names(api, zone, **{"comment.contains": "BOOK"}) == ["docs"]
    assert names(api, zone, **{"comment.present": ""}) == ["docs", "www"]
    assert len(names(api, zone, **{"comment.absent": ""})) == 3
    assert names(api, zone, tag="team") == ["api", "www"]
    assert names(api, zone, tag="team:api") == ["api"]
    assert names(api, zone, **{"tag.startswith": "env:pro"}) == ["api"]
    assert len(names(api, zone, **{"tag.absent": "env"})) == 3
    both = {"tag.exact": ["team:web", "env:staging"]}
    assert names(api, zone, **both) == []
    assert names(api, zone, **both, tag_match="any") == ["www", "www-old"]
    assert names(api, zone, type="CNAME") == ["docs"]
    assert names(api, zone, proxied="true") == ["api"]


def test_match_any_search_order_and_direction(api: httpx.Client, zone: str) -> None:
    assert names(api, zone, type="CNAME", proxied="true") == []
    assert names(api, zone, type="CNAME", proxied="true", match="any") == ["api", "docs"]
    assert names(api, zone, search="moved") == ["www-old"]
    assert names(api, zone, search="handbook", type="CNAME") == ["docs"]
    ordered = api.get(f"/zones/{zone}/dns_records", params={"order": "content", "direction": "desc"})
    contents = [r["content"] for r in ordered.json()["result"]]
    assert contents == sorted(contents, reverse=True)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"name.like": "www"}, "name.like"),
        ({"nmae": "www"}, "nmae"),
        ({"match": "some"}, "match must be one of all, any"),
        ({"proxied": "yes"}, "proxied must be true or false"),
        ({"tag.exact": "no-colon"}, "tag.exact takes"),
        ({"order": "created_on"}, "order must be one of"),
    ],
)
def test_unknown_or_malformed_filters_are_refused(
    api: httpx.Client, zone: str, params: dict[str, str], says: str
) -> None:
    response = api.get(f"/zones/{zone}/dns_records", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["result"] is None
    assert says in body["errors"][0]["message"]


def test_account_routes_answer_who_the_token_belongs_to(endpoint: SandboxEndpoint, api: httpx.Client) -> None:
    verified = api.get("/user/tokens/verify").json()
    assert verified["success"]
    assert verified["result"]["status"] == "active"
    assert endpoint.api_token not in str(verified)
    assert api.get("/user").json()["result"]["email"] == "sandbox@localhost"
    accounts = api.get("/accounts").json()
    assert [a["id"] for a in accounts["result"]] == [CLOUDFLARE_ACCOUNT_ID]
    assert accounts["result_info"]["total_count"] == 1
    assert api.get(f"/accounts/{CLOUDFLARE_ACCOUNT_ID}").json()["result"]["name"] == "Sandbox account"
    other = api.get(f"/accounts/{uuid.uuid4().hex}")
    assert (other.status_code, other.json()["errors"][0]["code"]) == (403, 9109)
    memberships = api.get("/memberships").json()["result"]
    assert [(m["account"]["id"], m["status"], m["roles"]) for m in memberships] == [
        (CLOUDFLARE_ACCOUNT_ID, "accepted", ["Administrator"])
    ]
    assert api.get("/memberships", params={"status": "pending"}).json()["result"] == []


def test_account_routes_refuse_a_wrong_token(endpoint: SandboxEndpoint) -> None:
    with httpx.Client(
        base_url=f"{endpoint.url}/client/v4", headers={"Authorization": "Bearer wrong"}, timeout=10
    ) as wrong:
        verify = wrong.get("/user/tokens/verify")
        assert (verify.status_code, verify.json()["errors"][0]["code"]) == (401, 1000)
        for path in ("/user", "/accounts", "/memberships", f"/accounts/{CLOUDFLARE_ACCOUNT_ID}"):
            response = wrong.get(path)
            assert (response.status_code, response.json()["errors"][0]["code"]) == (403, 10000), path
