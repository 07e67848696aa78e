"""A Pages build with a server half (`_worker.js/`), deployed through the real engine into the sandbox,
which runs it in workerd: the worker answers from the app's Turso database; an unchanged bundle makes
no deployment; a changed module deploys only the bundle; rollback serves the previous server half; a
broken bundle, bad `_routes.json` or a worker that throws at start-up stops the deploy with a clear
error while the previous deployment keeps serving.

The worker is hand-written (tests/fixtures/worker_site), so these tests take seconds; the generated
Next.js app takes the same path in test_fullstack_example.py."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from automation import operations
from components.spec import AppSpec
from core.localhost import LoopbackTransport
from libsql.client import LibsqlClient
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint
from tests.helpers import destroyed_afterwards, shop_database

pytestmark = pytest.mark.engine

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "worker_site"


def get(url: str) -> httpx.Response:
    with httpx.Client(transport=LoopbackTransport(), timeout=15) as http:
        return http.get(url)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "site"))


@pytest.fixture
def app_id() -> Iterator[str]:
    with destroyed_afterwards("half") as app:
        yield app


def spec(app: str, site: Path) -> dict[str, Any]:
    return {
        "id": app,
        "database": shop_database(),
        "web": {"buildDir": str(site)},
    }


def set_version(site: Path, version: str) -> None:
    (site / "_worker.js" / "version.js").write_text(f'export const VERSION = "{version}";\n')


def served_version(url: str) -> str:
    response = get(url + "/api/version")
    assert response.status_code == 200, response.text
    return str(response.json()["version"])


def test_a_server_half_answers_from_the_database_and_redeploys_only_what_changed(
    sandbox: SandboxEndpoint, site: Path, app_id: str
) -> None:
    first = operations.deploy(AppSpec.parse(spec(app_id, site)))
    out = first.outputs
    assert first.health is not None
    assert first.health.checks == {"site": "ok", "app": "ok", "database": "ok"}, first.health.summary
    assert first.health.details["app"].startswith("GET /api/health → 200")
    assert '"database":"turso"' in first.health.details["app"]
    assert out["healthPath"] == "/api/health"
    assert out["workerModules"] == 2
    assert out["uploadedFiles"] == 1, "only index.html is an asset"

    secrets = operations.outputs(app_id, show_secrets=True)
    with LibsqlClient(secrets["databaseUrl"], secrets["databaseAuthToken"]) as db:
        expected = [(row[0], row[1]) for row in db.execute('SELECT id, name FROM "Product" ORDER BY id').rows]
    products = get(out["url"] + "/api/products")
    assert products.status_code == 200
    assert [(p["id"], p["name"]) for p in products.json()] == expected
    assert len(expected) > 0
    assert "Static half" in get(out["url"] + "/").text, "_routes.json sends / to the assets"

    again = operations.deploy(AppSpec.parse(spec(app_id, site)))
    assert again.changed == 0, again.changes
    assert again.outputs["deploymentId"] == out["deploymentId"], "an unchanged bundle makes no deployment"

    set_version(site, "2")
    changed = operations.deploy(AppSpec.parse(spec(app_id, site)))
    assert changed.outputs["deploymentId"] != out["deploymentId"]
    assert changed.outputs["uploadedFiles"] == 0, "the assets were already uploaded"
    assert served_version(out["url"]) == "2"

    rolled = operations.rollback(app_id)
    assert rolled.outputs["deploymentId"] == out["deploymentId"]
    assert served_version(out["url"]) == "1", "rollback serves the previous server half"


def test_broken_server_halves_stop_the_deploy_and_the_previous_one_keeps_serving(
    sandbox: SandboxEndpoint, site: Path, app_id: str
) -> None:
    good = operations.deploy(AppSpec.parse(spec(app_id, site)))
    url, deployment = good.outputs["url"], good.outputs["deploymentId"]

    def refused(match: str) -> None:
        with pytest.raises(operations.DeployError, match=match):
            operations.deploy(AppSpec.parse(spec(app_id, site)))
        assert served_version(url) == "1", "the previous deployment keeps serving"
        assert operations.status(app_id)["outputs"]["deploymentId"] == deployment

    # The entry module is missing: refused before anything is uploaded.
    (site / "_worker.js" / "index.js").rename(site / "_worker.js" / "main.js")
    refused(r"_worker\.js/ has no index\.js")
    (site / "_worker.js" / "main.js").rename(site / "_worker.js" / "index.js")

    # _routes.json that Pages refuses: checked by oneclick first, by the API (8000057) otherwise.
    routes = site / "_routes.json"
    routes.write_text(json.dumps({"version": 1, "include": []}))
    refused(r"_routes\.json needs at least one include rule")
    routes.write_text(json.dumps({"version": 1, "include": ["/api/*"], "exclude": []}))

    # A worker that throws while it starts: the deployment is refused, the old one serves.
    (site / "_worker.js" / "version.js").write_text(
        'export const VERSION = "3";\nthrow new Error("boom at start-up");\n'
    )
    refused(r"Failed to publish your Function(.|\n)*boom at start-up")
    set_version(site, "1")
