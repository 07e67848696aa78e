"""Native builds through the HTTP API on a real worker: a web app deployed, then its desktop app built
for real (steps, artifacts with sizes and sha256) and its Android app recorded as ready to submit;
bad requests refused before anything is queued."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sandbox.endpoint import REPO_ROOT, SandboxEndpoint
from tests.databases import query
from tests.service.conftest import STATIC_SITE, ApiServer, Workers, client, make_user, new_app, wait_finished
from tests.unit.test_mobile_native import p8

pytestmark = pytest.mark.engine

PLAY = json.dumps(
    {"type": "service_account", "client_email": "ci@shop.iam.gserviceaccount.com", "private_key": p8()}
)


def test_desktop_and_android_builds_of_a_deployed_app(
    sandbox: SandboxEndpoint,
    api: ApiServer,
    workers: Workers,
    service_db: str,
    app_ids: list[str],
    tmp_path: Path,
) -> None:
    user, token = make_user(service_db, "starter")
    app = new_app(app_ids, "n")
    workers.env["ONECLICK_DESKTOP_CACHE"] = os.environ.get(
        "ONECLICK_DESKTOP_CACHE", str(REPO_ROOT / ".state" / "desktop-cache")
    )
    workers.start(tmp_path)
    spec = {
        "id": app,
        "web": {"buildDir": str(STATIC_SITE)},
        "desktop": {"platforms": ["linux"], "productName": "Native Test"},
        "mobile": {"platforms": ["android"]},
    }
    with client(api, token) as http:
        # Before the site exists there is nothing to wrap.
        early = http.post("/api/deploy/desktop", json={"appId": app})
        assert early.status_code == 404, early.text

        web = http.post("/api/deploy/web", json=spec)
        assert web.status_code == 202, web.text
        deployed = wait_finished(http, web.json()["deploymentId"], timeout=300)
        assert deployed["status"] == "succeeded", (deployed, workers.output())
        assert "desktopArtifacts" not in deployed["outputs"], "a web deploy builds no native app"

        refused = http.post("/api/deploy/ios", json={"appId": app})
        assert refused.status_code == 409
        assert refused.json()["error"]["field"] == "mobile"
        bad = http.post(
            "/api/deploy/android", json={"appId": app, "credentials": {"PLAY_SERVICE_ACCOUNT_JSON": "{"}}
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "credentials.PLAY_SERVICE_ACCOUNT_JSON"
        unknown = http.post("/api/deploy/android", json={"appId": app, "credentials": {"AWS_SECRET": "x"}})
        assert unknown.status_code == 422
        assert unknown.json()["error"]["field"] == "credentials.AWS_SECRET"

        desktop = http.post("/api/deploy/desktop", json={"appId": app})
        assert desktop.status_code == 202, desktop.text
        assert desktop.json()["kind"] == "desktop"
        done = wait_finished(http, desktop.json()["deploymentId"], timeout=2400)
        assert done["status"] == "succeeded", (done, workers.output()[-4000:])
        steps = [(s["title"], s["state"]) for s in done["steps"]]
        assert steps == [("Project generated", "done"), ("Built", "done"), ("Submitted", "skipped")]
        artifacts = done["outputs"]["artifacts"]
        assert sorted(a["kind"] for a in artifacts) == ["deb", "rpm"]
        for artifact in artifacts:
            assert Path(artifact["path"]).stat().st_size == artifact["size"] > 100_000
            assert len(artifact["sha256"]) == 64

        android = http.post(
            "/api/deploy/android", json={"appId": app, "credentials": {"PLAY_SERVICE_ACCOUNT_JSON": PLAY}}
        )
        assert android.status_code == 202, android.text
        ready = wait_finished(http, android.json()["deploymentId"], timeout=300)
        assert ready["status"] == "succeeded", (ready, workers.output()[-4000:])
        assert ready["outputs"]["status"] == "ready to submit"
        titles = {s["title"]: s for s in ready["steps"]}
        assert titles["Submitted"]["state"] == "skipped"
        assert "bundle exec fastlane android internal" in titles["Submitted"]["detail"]

        status = http.get("/api/apps").json()["apps"]
        assert [a["status"] for a in status if a["appId"] == app] == ["active"]
    stored = query(service_db, "SELECT outputs::text, spec::text FROM deployments WHERE user_id = %s", [user])
    assert "BEGIN PRIVATE KEY" not in json.dumps(stored), "credentials are stored encrypted only"
