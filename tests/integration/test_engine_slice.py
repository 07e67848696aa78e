"""The TursoDatabase slice through the real Pulumi engine, into the sandbox."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest

from automation import operations
from components.spec import AppSpec
from components.turso.client import TursoClient
from core.http import VendorNotFound
from sandbox.endpoint import REPO_ROOT, TURSO_ORG, SandboxEndpoint
from tests.helpers import checkpoint_text

pytestmark = pytest.mark.engine


def test_up_refresh_redeploy_destroy(sandbox: SandboxEndpoint, app_id: str) -> None:
    spec = AppSpec.parse({"id": app_id})
    result = operations.deploy(spec)
    assert result.outputs["target"] == "sandbox"
    port = sandbox.tls_port  # libsql:// is TLS: the hostname carries the sandbox's TLS port
    assert result.outputs["databaseUrl"] == f"libsql://{app_id}-{TURSO_ORG}.turso.localhost:{port}"
    assert result.health is not None
    assert result.health.checks == {"database": "ok"}, "a database round trip over libSQL HTTP"
    assert result.outputs["databaseAuthToken"] == operations.SECRET_MASK

    db_token = operations.outputs(app_id, show_secrets=True)["databaseAuthToken"]
    assert db_token.startswith("sbxdb_")
    state = checkpoint_text(app_id)
    assert sandbox.api_token not in state
    assert db_token not in state
    assert "ciphertext" in state  # the secrets are there, encrypted

    turso = TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url)
    assert turso.get_database(app_id).name == app_id

    assert set(operations.refresh(app_id, preview_only=True).changes) == {"same"}
    assert set(operations.refresh(app_id).changes) == {"same"}
    assert set(operations.deploy(spec).changes) == {"same"}, "redeploying an unchanged spec changes nothing"

    operations.destroy(app_id, remove_stack=True)
    with pytest.raises(VendorNotFound):
        turso.get_database(app_id)


def test_refresh_sees_a_database_deleted_behind_pulumis_back(sandbox: SandboxEndpoint, app_id: str) -> None:
    operations.deploy(AppSpec.parse({"id": app_id}))
    httpx.delete(f"{sandbox.url}/_admin/turso/{TURSO_ORG}/databases/{app_id}").raise_for_status()
    assert operations.refresh(app_id, preview_only=True).changes.get("delete") == 1
    operations.refresh(app_id)
    operations.deploy(AppSpec.parse({"id": app_id}))  # converges: creates it again
    assert TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url).get_database(app_id)
    operations.destroy(app_id, remove_stack=True)


@pytest.fixture
def two_app_ids() -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    ids = (f"auto-{suffix}", f"hand-{suffix}")
    yield ids
    for app in ids:
        (REPO_ROOT / "stacks" / f"Pulumi.{app}.yaml").unlink(missing_ok=True)


def by_hand(pulumi_args: str) -> subprocess.CompletedProcess[str]:
    """Run the Pulumi CLI the way an engineer does in this repository."""
    return subprocess.run(
        ["bash", "-c", f"source scripts/env.sh && pulumi {pulumi_args}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def resources(app_id: str) -> list[tuple[str, str]]:
    exported = by_hand(f"stack export -s {app_id}")
    assert exported.returncode == 0, exported.stderr
    deployment = json.loads(exported.stdout)["deployment"]
    return sorted(
        (item["type"], item["urn"].split("::")[-1].replace(app_id, "APP")) for item in deployment["resources"]
    )


def test_pulumi_up_by_hand_makes_the_same_resources_as_the_automation_api(
    sandbox: SandboxEndpoint, two_app_ids: tuple[str, str]
) -> None:
    auto_id, hand_id = two_app_ids
    operations.deploy(AppSpec.parse({"id": auto_id}))
    operations.init_stack(AppSpec.parse({"id": hand_id}))
    done = by_hand(f"up --yes --non-interactive -s {hand_id}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sandbox.api_token not in done.stdout + done.stderr
    assert resources(auto_id) == resources(hand_id)
    assert ("pulumi-python:dynamic/turso:Database", "APP-db") in resources(hand_id)
    for app in two_app_ids:
        operations.destroy(app, remove_stack=True)
