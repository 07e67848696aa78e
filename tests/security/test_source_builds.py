"""A tenant sends `web.source`: a Next.js project whose next.config.js (run by any `next build`) writes
a file on the host that builds it. The deploy service must not build tenants' code: the API refuses
the spec with a 422 naming web.source and telling the tenant to upload a built buildDir, nothing is
recorded, and the payload never runs. Only an operator setting (ONECLICK_SERVICE_BUILDS=1) allows
builds; the worker refuses such a spec again when it is not set."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from components.errors import SpecError
from components.spec import SERVICE_BUILDS_ENV, AppSpec
from tests.databases import query
from tests.service.conftest import ApiServer, Workers, client, make_user

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node to prove the payload runs")


def hostile_project(root: Path, marker: Path) -> Path:
    """A Next.js project that writes `marker` when its config is loaded or its build script runs."""
    root.mkdir()
    write = f"require('fs').writeFileSync({json.dumps(str(marker))}, 'pwned by ' + process.pid)"
    (root / "next.config.js").write_text(f"{write};\nmodule.exports = {{}};\n")
    package = {
        "name": "innocent-shop",
        "private": True,
        "scripts": {"build": f'node -e "{write}"', "postinstall": f'node -e "{write}"'},
        "dependencies": {"next": "16.2.12"},
    }
    (root / "package.json").write_text(json.dumps(package))
    (root / "package-lock.json").write_text(json.dumps({"name": "innocent-shop", "lockfileVersion": 3}))
    (root / "app").mkdir()
    (root / "app" / "page.js").write_text("export default function Page() { return 'shop' }\n")
    return root


def test_the_payload_is_real(tmp_path: Path) -> None:
    """Loading the project's config, as `next build` does first, runs the tenant's code."""
    marker = tmp_path / "pwned"
    project = hostile_project(tmp_path / "project", marker)
    subprocess.run(["node", "-e", "require('./next.config.js')"], cwd=project, check=True, timeout=30)
    assert marker.read_text().startswith("pwned by ")


def test_the_service_refuses_to_build_a_tenants_source(
    api: ApiServer, workers: Workers, service_db: str, tmp_path: Path
) -> None:
    workers.start(tmp_path)  # would run anything that got through
    marker = tmp_path / "pwned"
    project = hostile_project(tmp_path / "project", marker)
    user, token = make_user(service_db, "pro", max_apps=5)
    with client(api, token) as http:
        reference = http.upload(project)
        spec = {"id": "innocent-shop", "web": {"source": reference, "framework": "nextjs"}}
        response = httpx.Client.post(http, "/api/deploy/web", json=spec)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "web.source"
    assert "buildDir" in error["fix"]
    assert "POST /api/uploads" in error["fix"]
    assert query(service_db, "SELECT count(*) FROM deployments WHERE user_id = %s", [user]) == [(0,)]
    assert not marker.exists(), "the tenant's code ran on the service's host"


def test_a_recorded_source_spec_is_refused_again_by_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker re-validates a recorded spec with upload references (service/runner.py): a spec
    accepted while an operator allowed builds is refused once the setting is off."""
    data = {"id": "innocent-shop", "web": {"source": "upload:" + "a" * 64, "framework": "nextjs"}}
    monkeypatch.setenv(SERVICE_BUILDS_ENV, "1")
    assert AppSpec.from_public(data, {}, uploads=True).web is not None
    monkeypatch.delenv(SERVICE_BUILDS_ENV)
    with pytest.raises(SpecError) as refused:
        AppSpec.from_public(data, {}, uploads=True)
    assert refused.value.problems[0][0] == "web.source"
    monkeypatch.setenv(SERVICE_BUILDS_ENV, "yes")  # only the documented value switches it on
    with pytest.raises(SpecError):
        AppSpec.from_public(data, {}, uploads=True)
