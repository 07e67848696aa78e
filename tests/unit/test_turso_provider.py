from typing import Any

import httpx
import pytest

from components.turso import provider
from components.turso.client import TursoClient
from components.turso.provider import TursoDatabaseProvider
from core.http import VendorConflict

OLD = {"name": "db", "group": "default", "org": "o", "api_url": "http://x", "api_token": "t1"}


def test_same_inputs_mean_no_changes() -> None:
    diff = TursoDatabaseProvider().diff("db", dict(OLD), dict(OLD))
    assert diff.changes is False
    assert diff.replaces == []


def test_new_group_replaces_deleting_first_because_the_name_is_kept() -> None:
    diff = TursoDatabaseProvider().diff("db", dict(OLD), {**OLD, "group": "eu"})
    assert diff.changes is True
    assert diff.replaces == ["group"]
    assert diff.delete_before_replace is True


def test_new_name_replaces_creating_first() -> None:
    diff = TursoDatabaseProvider().diff("db", dict(OLD), {**OLD, "name": "db2"})
    assert diff.replaces == ["name"]
    assert diff.delete_before_replace is False


def test_rotated_api_token_updates_in_place() -> None:
    provider = TursoDatabaseProvider()
    diff = provider.diff("db", dict(OLD), {**OLD, "api_token": "t2"})
    assert diff.changes is True
    assert diff.replaces == []
    assert provider.update("db", {**OLD, "hostname": "h"}, {**OLD, "api_token": "t2"}).outs == {
        **OLD,
        "hostname": "h",
        "api_token": "t2",
    }


def test_a_create_whose_name_exists_refuses_and_takes_nothing_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turso answers 409 for a name the org has: the provider must fail, not adopt that database
    (it may be another app's) nor mint a token for it."""
    calls: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        return httpx.Response(409, json={"error": "database with name db already exists"})

    def fake_client(props: dict[str, Any]) -> TursoClient:
        return TursoClient("t", "o", base_url="http://x", transport=httpx.MockTransport(answer))

    monkeypatch.setattr(provider, "client_for", fake_client)
    with pytest.raises(VendorConflict, match=r"database\.name: a Turso database named 'db' already exists"):
        TursoDatabaseProvider().create(dict(OLD))
    assert calls == [("POST", "/v1/organizations/o/databases")]
