"""NeonProjectProvider against a real sandbox and PostgreSQL: create, read, diff, update, delete."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from components.neon.client import NeonClient
from components.neon.provider import NeonProjectProvider
from sandbox.endpoint import SandboxEndpoint

OLD = {
    "project_name": "p",
    "region_id": "aws-us-east-2",
    "database_name": "app",
    "role_name": "app_owner",
    "api_url": "http://x/api/v2",
    "api_key": "k1",
}


def props(sandbox: SandboxEndpoint, **changes: str) -> dict[str, Any]:
    return {**OLD, "api_url": f"{sandbox.url}/api/v2", "api_key": sandbox.api_token, **changes}


def api(sandbox: SandboxEndpoint) -> NeonClient:
    return NeonClient(sandbox.api_token, base_url=f"{sandbox.url}/api/v2")


def test_create_read_update_delete(sandbox: SandboxEndpoint) -> None:
    provider = NeonProjectProvider()
    inputs = props(sandbox, project_name="crud")
    created = provider.create(inputs)
    outs = created.outs
    assert created.id == outs["project_id"]
    assert outs["database_name"] == "app"
    assert outs["role_name"] == "app_owner"
    assert outs["branch_id"].startswith("br-")
    assert outs["host"].startswith("127.0.0.1:")
    with psycopg.connect(outs["connection_uri"], connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() is not None

    read = provider.read(created.id, outs)
    assert read.id == created.id
    assert read.outs == outs
    assert read.inputs == inputs

    renamed = props(sandbox, project_name="crud-renamed")
    diff = provider.diff(created.id, outs, renamed)
    assert diff.changes is True
    assert diff.replaces == []
    updated = provider.update(created.id, outs, renamed).outs
    assert updated == {**outs, "project_name": "crud-renamed"}
    with api(sandbox) as neon:
        assert neon.get_project(created.id).name == "crud-renamed"

    provider.delete(created.id, updated)
    provider.delete(created.id, updated)  # already gone: still fine
    assert provider.read(created.id, updated).id is None


def test_drift_is_seen_by_read(sandbox: SandboxEndpoint) -> None:
    provider = NeonProjectProvider()
    created = provider.create(props(sandbox, project_name="drift"))
    project_id, outs = created.id, created.outs
    admin = f"{sandbox.url}/_admin/neon/projects/{project_id}"

    # A password reset in the console: refresh hands out the new, working URI.
    assert httpx.post(f"{admin}/roles/app_owner/password").status_code == 200
    after_reset = provider.read(project_id, outs).outs
    assert after_reset["connection_uri"] != outs["connection_uri"]
    psycopg.connect(after_reset["connection_uri"], connect_timeout=5).close()

    # The database dropped by hand: the next deploy replaces the project.
    with api(sandbox) as neon:
        neon.delete_database(project_id, outs["branch_id"], "app")
    missing = provider.read(project_id, outs)
    assert missing.outs["database_name"] == ""
    assert missing.outs["connection_uri"] == ""
    assert provider.diff(project_id, missing.outs, props(sandbox, project_name="drift")).replaces == [
        "database_name"
    ]

    # The whole project deleted behind Pulumi's back: read says it is gone.
    assert httpx.delete(admin).status_code == 200
    gone = provider.read(project_id, outs)
    assert gone.id is None
    assert gone.outs == {}


def test_same_inputs_mean_no_changes() -> None:
    diff = NeonProjectProvider().diff("p", dict(OLD), dict(OLD))
    assert diff.changes is False
    assert diff.replaces == []


@pytest.mark.parametrize("key", ["region_id", "database_name", "role_name", "api_url"])
def test_region_database_role_or_account_change_replaces_creating_first(key: str) -> None:
    diff = NeonProjectProvider().diff("p", dict(OLD), {**OLD, key: OLD[key] + "x"})
    assert diff.changes is True
    assert diff.replaces == [key]
    assert diff.delete_before_replace is False


@pytest.mark.parametrize("key", ["project_name", "api_key"])
def test_name_or_api_key_change_updates_in_place(key: str) -> None:
    diff = NeonProjectProvider().diff("p", dict(OLD), {**OLD, key: "new"})
    assert diff.changes is True
    assert diff.replaces == []
    assert "project_id" in (diff.stables or [])


def test_the_provider_object_holds_no_credentials() -> None:
    # Pulumi pickles the provider into the state, so it must carry nothing.
    assert vars(NeonProjectProvider()) == {}
