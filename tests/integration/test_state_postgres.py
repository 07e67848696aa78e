"""Pulumi state in PostgreSQL: deploy, list, drift, fleet, rollback, a killed update recovered
without --force (its lock is visible from PostgreSQL), and stack config that a host without the
file gets back from the backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from automation import drift, fleet, operations, recover, stack_config
from automation.environment import service_backend_url, stack_config_path
from automation.localpg import LocalPostgres
from automation.stack_locks import stack_locks
from automation.state_blobs import PostgresBlobs
from automation.workspace import DeployError
from components.spec import AppSpec
from components.turso.client import TursoClient
from sandbox.endpoint import TURSO_ORG, SandboxEndpoint
from tests.databases import query, scratch_database
from tests.helpers import new_app
from tests.integration.killed_deploys import deploy_and_kill, hold

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def state_db(local_postgres: LocalPostgres) -> Iterator[str]:
    """A database of this module's own; PULUMI_BACKEND_URL points at its `pulumi` schema."""
    with scratch_database(local_postgres.url, "pgstate") as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("PULUMI_BACKEND_URL", service_backend_url(url))
        yield url


def spec(app: str) -> dict[str, Any]:
    return {"id": app, "database": {"provider": "turso"}}


def salt(config: bytes) -> str:
    return str(yaml.safe_load(config)["encryptionsalt"])


def test_stacks_live_in_postgres(sandbox: SandboxEndpoint, state_db: str, app_ids: list[str]) -> None:
    first, second = new_app(app_ids, "pg"), new_app(app_ids, "pg")
    for app in (first, second):
        assert operations.deploy(AppSpec.parse(spec(app))).outputs["databaseName"] == app
    keys = [row[0] for row in query(state_db, "SELECT key FROM pulumi.pulumi_state")]
    assert any(k.endswith(f"/.pulumi/stacks/oneclick/{first}.json") for k in keys), keys
    assert any(f"/.pulumi/history/oneclick/{first}/" in k for k in keys), keys

    assert {a.app_id for a in operations.list_apps()} == {first, second}
    assert fleet.all_app_ids() == sorted([first, second])
    assert fleet._backend_stacks() == sorted([first, second])  # the fallback reads the same rows
    results = drift.check_many(fleet.all_app_ids(), parallel=2)
    assert [(r.app_id, r.status) for r in results] == [(a, "clean") for a in sorted([first, second])]
    assert {r.via for r in results} == {"direct"}  # read from PostgreSQL in this process
    refreshed = fleet.run_fleet("refresh", [first, second], parallel=2)
    assert not refreshed.failed, [r.as_dict() for r in refreshed.runs]

    # A host that never saw this stack: its config file (secrets salt) comes back from PostgreSQL.
    saved = PostgresBlobs(service_backend_url(state_db)).read(stack_config.config_key(first))
    assert saved is not None
    assert b"encryptionsalt" in saved
    stack_config_path(first).unlink()
    previewed = operations.preview(AppSpec.parse(spec(first)))
    assert set(previewed.changes) <= {"same"}, previewed.changes
    assert salt(stack_config_path(first).read_bytes()) == salt(saved)

    with pytest.raises(DeployError, match="has no site to roll back"):  # outputs read from PostgreSQL
        operations.rollback(first)
    operations.destroy(second)
    assert {a.app_id for a in operations.list_apps()} == {first}
    assert PostgresBlobs(service_backend_url(state_db)).read(stack_config.config_key(second)) is None
    operations.destroy(first)


def test_a_killed_update_is_recovered_from_postgres_without_force(
    sandbox: SandboxEndpoint, state_db: str, app_ids: list[str], tmp_path: Path
) -> None:
    app = new_app(app_ids, "pg")
    # The database exists in the vendor; its token call hangs when the update is killed.
    hold(sandbox, f"/v1/organizations/{TURSO_ORG}/databases/{app}/auth/tokens")
    deploy_and_kill(sandbox, spec(app), tmp_path)
    locks = stack_locks(app)
    assert locks, "the lock is a row every host can read"
    assert all(lock.pid > 0 for lock in locks)
    with pytest.raises(operations.StackLocked, match=f"oneclick recover {app}"):
        operations.deploy(AppSpec.parse(spec(app)))

    report = recover.recover(app)  # no --force: the lock's owner was checked
    assert report.lock_removed
    assert report.adopted == [f"{app}-db"]
    assert stack_locks(app) == []
    result = operations.deploy(AppSpec.parse(spec(app)))
    assert result.outputs["databaseName"] == app
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        assert [db.name for db in turso.list_databases()].count(app) == 1
    operations.destroy(app)
