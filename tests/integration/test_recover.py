"""An update killed with SIGKILL part way through is recovered, and the next deploy converges."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from automation import operations, recover
from cli.main import main as cli
from components.cloudflare.client import CloudflareClient
from components.spec import AppSpec
from components.turso.client import TursoClient
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, REPO_ROOT, TURSO_ORG, SandboxEndpoint
from tests.integration.killed_deploys import deploy_and_kill, hold, pending_operations
from tests.integration.private_cloud import private_cloud

pytestmark = pytest.mark.engine

SITE = REPO_ROOT / "tests" / "fixtures" / "static-site"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxEndpoint]:
    """A sandbox (and backend) of this module's own: these deploys leave the example site's files in
    the sandbox's asset store, which other tests expect to find empty."""
    with private_cloud("oneclick-recover-") as (endpoint, _backend):
        yield endpoint


@pytest.fixture
def app() -> Iterator[str]:
    value = f"killed-{uuid.uuid4().hex[:8]}"
    yield value
    (REPO_ROOT / "stacks" / f"Pulumi.{value}.yaml").unlink(missing_ok=True)


def spec(app: str) -> dict[str, Any]:
    return {"id": app, "database": {"provider": "turso"}, "web": {"buildDir": str(SITE)}}


def test_a_create_killed_after_the_vendor_made_it_is_adopted(
    sandbox: SandboxEndpoint, app: str, tmp_path: Path
) -> None:
    # The database exists in the vendor; its token call hangs when the update is killed.
    hold(sandbox, f"/v1/organizations/{TURSO_ORG}/databases/{app}/auth/tokens")
    deploy_and_kill(sandbox, spec(app), tmp_path)
    assert [op["type"] for op in pending_operations(app)] == ["creating"]
    with pytest.raises(operations.StackLocked, match=f"oneclick recover {app}"):
        operations.deploy(AppSpec.parse(spec(app)))

    report = recover.recover(app)
    assert report.lock_removed
    assert (report.adopted, report.dropped, report.cleared) == ([f"{app}-db"], [], [])
    assert pending_operations(app) == []
    assert operations.outputs(app, show_secrets=True) == {}  # outputs come with the next deploy

    result = operations.deploy(AppSpec.parse(spec(app)))
    assert result.health is not None
    assert result.health.healthy, result.health.summary
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        assert [db.name for db in turso.list_databases()].count(app) == 1
    assert not recover.recover(app).recovered, "nothing left to recover"
    operations.destroy(app)


def test_a_create_killed_before_the_vendor_made_it_is_dropped_by_the_cli(
    sandbox: SandboxEndpoint, app: str, tmp_path: Path
) -> None:
    # The Pages project's create call hangs (and never reaches the API) when the update is killed.
    hold(sandbox, f"/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/pages/projects", method="POST")
    deploy_and_kill(sandbox, spec(app), tmp_path)

    result = CliRunner().invoke(cli, ["recover", app, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["lockRemoved"] is True
    assert report["dropped"] == [f"{app}-site"]
    assert report["adopted"] == []
    again = CliRunner().invoke(cli, ["recover", app], catch_exceptions=False)
    assert f"{app}: nothing to recover" in again.stdout

    deployed = operations.deploy(AppSpec.parse(spec(app)))
    assert deployed.health is not None
    assert deployed.health.healthy
    with CloudflareClient(
        sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4"
    ) as cf:
        assert [p.name for p in cf.list_projects()].count(app) == 1
    operations.destroy(app)
