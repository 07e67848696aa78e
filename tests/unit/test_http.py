import httpx
import pytest

from components.turso.client import TursoClient
from core.http import VendorAuthError, VendorNotFound, VendorUnavailable, send

TOKEN = "very-secret-token-value"


def scripted(responses: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses.pop(0)

    return httpx.MockTransport(handler)


def test_retries_429_honouring_retry_after_then_succeeds() -> None:
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    transport = scripted(
        [
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(503),
            httpx.Response(200, json={}),
        ],
        seen,
    )
    with httpx.Client(base_url="http://vendor", transport=transport) as client:
        response = send(client, "Turso", "GET", "/x", sleep=sleeps.append, backoff=0.01)
    assert response.status_code == 200
    assert len(seen) == 3
    assert sleeps[0] == 3.0
    assert 0 < sleeps[1] < 1


def test_gives_up_after_retries_with_a_clear_error() -> None:
    seen: list[httpx.Request] = []
    transport = scripted([httpx.Response(502, json={"error": "bad gateway"})] * 3, seen)
    with (
        httpx.Client(base_url="http://vendor", transport=transport) as client,
        pytest.raises(VendorUnavailable, match="Turso API error 502 \\(GET /x\\): bad gateway"),
    ):
        send(client, "Turso", "GET", "/x", retries=2, sleep=lambda _: None)
    assert len(seen) == 3


def test_client_maps_vendor_errors_and_never_leaks_the_token() -> None:
    seen: list[httpx.Request] = []
    transport = scripted(
        [
            httpx.Response(404, json={"error": "database not found"}),
            httpx.Response(401, json={"error": "nope"}),
        ],
        seen,
    )
    client = TursoClient(TOKEN, "acme", base_url="http://vendor", transport=transport)
    with pytest.raises(VendorNotFound) as missing:
        client.get_database("db1")
    with pytest.raises(VendorAuthError) as denied:
        client.get_database("db1")
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].url.path == "/v1/organizations/acme/databases/db1"
    for error in (missing.value, denied.value):
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error.args)


def test_unreachable_vendor_is_reported_after_retries() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = TursoClient(
        TOKEN, "acme", base_url="http://vendor", transport=httpx.MockTransport(refuse), retries=1
    )
    with pytest.raises(VendorUnavailable, match="cannot connect"):
        client.list_databases()
