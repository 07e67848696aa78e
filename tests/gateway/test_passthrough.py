"""The unmetered routes relay only the model lists and Anthropic's token count, nothing else."""

from __future__ import annotations

import httpx
import pytest

from sandbox.upstreams import UpstreamStandIn
from tests.gateway.conftest import RunningGateway, make_account, make_key
from tests.gateway.usage_checks import no_usage


@pytest.fixture(scope="module")
def account(running_gateway: RunningGateway) -> tuple[str, str]:
    user_id = make_account(running_gateway.db)
    return user_id, make_key(running_gateway.db, user_id, "lists")


@pytest.mark.parametrize(
    "path",
    [
        "/api/proxy/openai/v1/models/../files",
        "/api/proxy/openai/v1/models/..%2Ffiles",
        "/api/proxy/openai/v1/models/a%2F..%2F..%2Ffiles",
        "/api/proxy/openai/v1/models/.hidden",
        "/api/proxy/openai/v1/files",
        "/api/proxy/anthropic/v1/models/x/y",
    ],
)
def test_nothing_but_a_model_id_is_relayed(
    running_gateway: RunningGateway,
    account: tuple[str, str],
    upstream: tuple[UpstreamStandIn, str],
    path: str,
) -> None:
    before = len(upstream[0].seen())
    response = httpx.get(
        running_gateway.url + path, headers={"Authorization": f"Bearer {account[1]}"}, follow_redirects=False
    )
    assert response.status_code in (404, 405), response.text
    error = response.json()["error"]
    code = error.get("code") or error["details"]["error_code"]  # OpenAI's shape, or Anthropic's
    assert code in ("unknown_route", "method_not_allowed")
    assert len(upstream[0].seen()) == before  # the vendor was not asked


def test_lists_need_a_gateway_key_and_keep_the_query(
    running_gateway: RunningGateway, account: tuple[str, str], upstream: tuple[UpstreamStandIn, str]
) -> None:
    url = f"{running_gateway.url}/api/proxy/anthropic/v1/models"
    refused = httpx.get(url, params={"limit": 2})
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "authentication_error"  # Anthropic's shape on its route
    listed = httpx.get(url, params={"limit": 2}, headers={"x-api-key": account[1]})
    assert listed.status_code == 200, listed.text
    assert listed.json()["has_more"] is False
    seen = upstream[0].seen("/v1/models")[-1]
    assert seen.headers["anthropic-version"] == "2023-06-01"  # set when the caller sends none
    odd = httpx.get(f"{url}?limit=2;x'y", headers={"x-api-key": account[1]})
    assert odd.status_code == 400
    assert no_usage(running_gateway.db, account[0])


def test_count_tokens_refuses_a_body_that_is_not_an_object(
    running_gateway: RunningGateway, account: tuple[str, str]
) -> None:
    response = httpx.post(
        f"{running_gateway.url}/api/proxy/anthropic/v1/messages/count_tokens",
        content=b"[1]",
        headers={"x-api-key": account[1], "content-type": "application/json"},
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["type"], body["error"]["type"]) == ("error", "invalid_request_error")
    assert "JSON object" in body["error"]["message"]
