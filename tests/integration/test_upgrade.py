"""Stacks deployed by an older oneclick see no change after an upgrade.

The app is deployed by the code of an earlier commit (unpacked with `git archive`, run with its own
CLI, into its own sandbox), then the current sandbox takes over that sandbox's files and port, and
the current code previews the app against the same state: every resource must be `same`.
This is what keeps refactors (moved modules, renamed types, new inputs) from replacing or updating
what users already run: dynamic providers are pickled by module path into the state. The old code
wrapped each dynamic resource in a component of its own; the current code upgrades such a state
once before its first operation (automation/state_upgrade.py), so the wrappers' removal is no
change either. Every kind is covered: Turso, Neon and BYO databases with schema and preview data,
the generated secret, the site and a custom domain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.localpg import LocalPostgres
from sandbox import server
from sandbox.endpoint import REPO_ROOT
from tests.databases import create_database, drop_database

pytestmark = pytest.mark.engine

# main just before the layout refactor (CLI in automation/cli.py, the database library and the
# libSQL client under components/, a flat sandbox).
BEFORE_REFACTOR = "7a4b14e"


def _have_commit(commit: str) -> bool:
    probe = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO_ROOT, capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _have_commit(BEFORE_REFACTOR):
        pytest.skip(f"commit {BEFORE_REFACTOR} is not in this clone's history (a shallow clone?)")
    tree = tmp_path_factory.mktemp("old-main")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", BEFORE_REFACTOR], cwd=REPO_ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    # The toolchain set-up made: Pulumi.yaml names the virtualenv, the CLI is found beside the code.
    for made in (".venv", ".tools"):
        (tree / made).symlink_to(REPO_ROOT / made)
    return tree


@pytest.fixture
def app_id() -> Iterator[str]:
    value = f"up-{uuid.uuid4().hex[:8]}"
    yield value
    (REPO_ROOT / "stacks" / f"Pulumi.{value}.yaml").unlink(missing_ok=True)


def _run(tree: Path, entry: str, *args: str, sandbox_dir: Path) -> dict[str, object]:
    """One CLI command of the code in `tree`, which comes first on the module path."""
    env = {**os.environ, "PYTHONPATH": str(tree), "ONECLICK_SANDBOX_DIR": str(sandbox_dir)}
    done = subprocess.run(
        [sys.executable, "-c", f"from {entry} import main; main()", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{entry} {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture
def byo_url(local_postgres: LocalPostgres) -> Iterator[str]:
    url = create_database(local_postgres.url, "upgrade")
    yield url
    drop_database(local_postgres.url, url)


@pytest.mark.parametrize("provider", ["turso", "neon", "byo"])
def test_preview_after_upgrade_changes_nothing(
    local_postgres: LocalPostgres, old_tree: Path, app_id: str, provider: str, tmp_path: Path, byo_url: str
) -> None:
    shop = old_tree / "examples" / "shop"
    database = {"turso": "group: default", "neon": "region: aws-us-east-2", "byo": f"url: {byo_url}"}[
        provider
    ]
    spec = tmp_path / "app.yaml"
    spec.write_text(
        f"id: {app_id}\n"
        "database:\n"
        f"  provider: {provider}\n"
        f"  {database}\n"
        f"  prismaSchema: {shop / 'prisma' / 'schema.prisma'}\n"
        f"  migrations: {shop / 'prisma' / 'migrations'}\n"
        f"  previewData: {shop / 'prisma' / 'preview.sql'}\n"
        "web:\n"
        f"  buildDir: {shop / 'out'}\n"
        "  env:\n"
        "    NEXT_PUBLIC_APP_NAME: Shop\n"
        f"customDomain: {app_id}.example.com\n"
    )
    sandbox_dir = tmp_path / "sandbox"
    # The old sandbox, started by the old code's own server module.
    start_old = (
        "import sys; from pathlib import Path; from sandbox import server; "
        "print(server.start(Path(sys.argv[1]), port=0, postgres_url=sys.argv[2]).url)"
    )
    started = subprocess.run(
        [sys.executable, "-c", start_old, str(sandbox_dir), local_postgres.url],
        cwd=old_tree,
        env={**os.environ, "PYTHONPATH": str(old_tree)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    port = int(started.stdout.strip().rsplit(":", 1)[1])
    try:
        deployed = _run(
            old_tree,
            "automation.cli",
            "deploy",
            str(spec),
            "--no-health-check",
            "--json",
            sandbox_dir=sandbox_dir,
        )
        assert deployed["changes"], deployed
    finally:
        server.stop(sandbox_dir)
    server.start(sandbox_dir, port=port, postgres_url=local_postgres.url)  # the upgrade takes over

    # The stack's config (its encryption salt and secrets) was written beside the old code.
    old_config = old_tree / "stacks" / f"Pulumi.{app_id}.yaml"
    (REPO_ROOT / "stacks" / old_config.name).write_text(old_config.read_text())
    try:
        previewed = _run(REPO_ROOT, "cli.main", "preview", str(spec), "--json", sandbox_dir=sandbox_dir)
        changes = previewed["changes"]
        assert isinstance(changes, dict)
        assert set(changes) == {"same"}, f"the upgrade would change deployed resources: {changes}"
        checkpoint = Path(os.environ["ONECLICK_STATE_DIR"], "pulumi", ".pulumi", "stacks", "oneclick")
        state = (checkpoint / f"{app_id}.json").read_text()
        assert "$oneclick:" not in state, "the state was upgraded: no resource sits in a wrapper any more"
        assert "pulumi-python:dynamic/cloudflare:CustomDomain::" in state
    finally:
        _run(REPO_ROOT, "cli.main", "destroy", app_id, "--yes", "--json", sandbox_dir=sandbox_dir)
        server.stop(sandbox_dir)
