"""Items 1, 2, 3, 7 and 9: a tenant names host paths in a spec (the API's own state, another
tenant's files, /proc, devices). The service refuses every one with a 422 naming the field and the
upload route, before anything is recorded; a tenant cannot use another tenant's upload either."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from core.localhost import LoopbackTransport
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint
from tests.databases import query
from tests.helpers import SHOP
from tests.service.conftest import (
    ApiServer,
    Deploys,
    client,
    make_user,
    wait_finished,
    web_spec,
)

HOST_PATHS = {
    "web.buildDir": ["../../..", "/", str(REPO_ROOT / ".state"), "/etc"],
    "database.previewData": [str(REPO_ROOT / ".state" / "sandbox" / "state.json"), "/etc/passwd"],
    "database.prismaSchema": ["/proc/self/environ", "/proc/self/fd/2", "/dev/zero"],
    "database.migrations": ["/proc/self"],
}


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, values in HOST_PATHS.items() for v in values])
def test_host_paths_in_a_spec_are_refused_before_anything_is_recorded(
    field: str, value: str, api: ApiServer, service_db: str
) -> None:
    user, token = make_user(service_db, "pro", max_apps=5)
    with client(api, token) as http:
        spec = http.with_uploads(web_spec("attack"))
        section, key = field.split(".")
        spec[section] = {**spec[section], key: value}
        response = httpx.Client.post(http, "/api/deploy/web", json=spec)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert "POST /api/uploads" in error["fix"]
    # Nothing was read: the answer holds nothing of the file, and nothing was recorded.
    assert "root:" not in response.text
    assert "CREDENTIALS_ENCRYPTION_KEY" not in response.text
    assert query(service_db, "SELECT count(*) FROM deployments WHERE user_id = %s", [user]) == [(0,)]


def test_migrate_data_takes_an_upload_not_a_path(api: ApiServer, service_db: str) -> None:
    _, token = make_user(service_db, "pro")
    with client(api, token) as http:
        response = httpx.Client.post(
            http, "/api/deploy/migrate-data", json={"appId": "victim-app", "previewData": "/etc/passwd"}
        )
    assert response.status_code in (404, 422), response.text
    assert "root:" not in response.text


def test_a_tenant_cannot_deploy_another_tenants_upload(
    api: ApiServer, service_db: str, tmp_path: Path
) -> None:
    """B learns the sha256 of A's preview data (it is only a hash) and names it in B's spec."""
    _, token_a = make_user(service_db, "pro")
    user_b, token_b = make_user(service_db, "pro")
    alices_data = tmp_path / "preview.sql"
    alices_data.write_text((SHOP / "prisma" / "preview.sql").read_text() + "\n-- alice's own rows\n")
    with client(api, token_a) as alice:
        reference = alice.upload(alices_data)
    with client(api, token_b) as bob:
        spec = bob.with_uploads(web_spec("steal"))
        spec["database"] = {**spec["database"], "previewData": reference}
        refused = httpx.Client.post(bob, "/api/deploy/web", json=spec)
        info = bob.get(f"/api/uploads/{reference.removeprefix('upload:')}")
        migrate = httpx.Client.post(
            bob, "/api/deploy/migrate-data", json={"appId": "steal", "previewData": reference}
        )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "database.previewData"
    assert "not one of your uploads" in refused.json()["error"]["message"]
    assert info.status_code == 404
    assert migrate.status_code in (404, 422)
    assert query(service_db, "SELECT count(*) FROM deployments WHERE user_id = %s", [user_b]) == [(0,)]


@pytest.mark.engine
def test_a_deploy_serves_only_the_uploaded_files(sandbox: SandboxEndpoint, deploys: Deploys) -> None:
    """End to end: the site holds exactly the uploaded build (none of the worker's own files)."""
    _, token = deploys.user("pro", max_apps=3)
    app = deploys.new_app()
    deploys.start_worker()
    with deploys.client(token) as http:
        deployment = http.post("/api/deploy/web", json=web_spec(app)).json()["deploymentId"]
        done = wait_finished(http, deployment, timeout=180)
    assert done["status"] == "succeeded", (done, deploys.workers.output())
    with httpx.Client(transport=LoopbackTransport(), timeout=10) as web:
        assert "Welcome to Shop" in web.get(done["url"]).text
        for probe in (
            "/.state/sandbox/state.json",
            "/..%2f..%2f.state/sandbox/state.json",
            "/pyproject.toml",
        ):
            assert "api_token" not in web.get(done["url"] + probe).text
