"""A deploy through the HTTP API on a real worker, engine, sandbox and PostgreSQL: progress as
server-sent events, status after restarts, history, the Turso listing, and what is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.localhost import LoopbackTransport
from sandbox.endpoint import SandboxEndpoint
from service.vault import Binding, Vault
from tests.databases import query
from tests.helpers import SHOP
from tests.service.conftest import (
    Deploys,
    database_spec,
    wait_finished,
    web_spec,
)

pytestmark = pytest.mark.engine


def read_events(http: httpx.Client, deployment_id: str, **headers: str) -> list[tuple[str, dict[str, Any]]]:
    """The whole SSE stream of a deployment, as (event, data) pairs, until the server ends it."""
    events: list[tuple[str, dict[str, Any]]] = []
    kind = ""
    with http.stream(
        "GET", f"/api/deploy/status/{deployment_id}/events", headers=headers, timeout=120
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


def test_web_deploy_streams_every_step_and_survives_restarts(
    sandbox: SandboxEndpoint, deploys: Deploys, vault: Vault
) -> None:
    _user, token = deploys.user("starter")
    app = deploys.new_app()
    deploys.start_worker()
    with deploys.client(token) as http:
        accepted = http.post("/api/deploy/web", json=web_spec(app))
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        deployment_id = body["deploymentId"]
        assert body["appId"] == app
        assert body["status"] == "queued"

        # The stream, read while the deploy runs: every step is seen running and then done.
        events = read_events(http, deployment_id)
        kinds = [kind for kind, _ in events]
        assert (kinds[0], "started" in kinds, kinds[-1]) == ("queued", True, "finished"), (
            deploys.workers.output()
        )
        assert events[-1][1]["status"] == "succeeded", events[-1]
        seen: dict[str, list[str]] = {}
        for kind, data in events:
            if kind == "steps":
                for step in data["steps"]:
                    states = seen.setdefault(step["key"], [])
                    if not states or states[-1] != step["state"]:
                        states.append(step["state"])
        assert set(seen) == {"database", "schema", "data", "site", "health"}
        for key, states in seen.items():
            assert states[-1] == "done", (key, states)
            assert "running" in states, (key, states)
        last_steps = next(data for kind, data in reversed(events) if kind == "steps")["steps"]
        assert all(step["elapsedSeconds"] >= 0 for step in last_steps)

        status = http.get(f"/api/deploy/status/{deployment_id}").json()
        assert status["status"] == "succeeded"
        assert status["appStatus"] == "active"
        assert [s["key"] for s in status["steps"]] == ["database", "schema", "data", "site", "health"]
        assert all(s["state"] == "done" for s in status["steps"])
        assert (
            "rows transferred from preview"
            in next(s for s in status["steps"] if s["key"] == "data")["detail"]
        )
        with httpx.Client(transport=LoopbackTransport(), timeout=10) as web:
            assert "Welcome to Shop" in web.get(status["url"]).text

        # The same stream again, from the start and resumed after an event id.
        again = read_events(http, deployment_id)
        assert [k for k, _ in again] == kinds
        resumed = read_events(http, deployment_id, **{"Last-Event-ID": "0"})
        assert len(resumed) == len(events)

        # Accept: text/event-stream on the status route gives the same stream.
        with http.stream(
            "GET", f"/api/deploy/status/{app}", headers={"Accept": "text/event-stream"}
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert "event: finished" in stream.read().decode()

        history = http.get("/api/deploy/history", params={"appId": app}).json()["deployments"]
        assert [h["deploymentId"] for h in history] == [deployment_id]
        assert history[0]["status"] == "succeeded"
        assert history[0]["url"] == status["url"]
        databases = http.get("/api/turso/databases").json()["databases"]
        assert [(d["id"], d["appId"], d["status"]) for d in databases] == [(app, app, "active")]
        assert [a["appId"] for a in http.get("/api/apps").json()["apps"]] == [app]

    # The status is the database's: a restarted API (and a restarted worker) shows the same.
    deploys.api.stop()
    deploys.workers.stop_all()
    deploys.api.start()
    with deploys.client(token) as http:
        after = http.get(f"/api/deploy/status/{deployment_id}").json()
    assert after["steps"] == status["steps"]
    assert after["status"] == "succeeded"
    assert after["appStatus"] == "active"

    # At rest: the database URL and the spec's secrets are ciphertext, bound to their rows.
    row_id, envelope = query(
        deploys.db, "SELECT id::text, database_url_encrypted FROM deployed_apps WHERE app_id = %s", [app]
    )[0]
    assert b"libsql://" not in bytes(envelope)
    assert app.encode() not in bytes(envelope)
    assert vault.decrypt(
        bytes(envelope), Binding("deployed_apps", row_id, "database_url_encrypted")
    ).startswith("libsql://")
    (secrets,) = query(
        deploys.db, "SELECT secrets_encrypted FROM deployments WHERE id = %s", [deployment_id]
    )[0]
    assert b"key-s3cr3t-svc" not in bytes(secrets)
    dump = json.dumps(
        query(deploys.db, "SELECT spec, outputs FROM deployments WHERE id = %s", [deployment_id])
    )
    assert "key-s3cr3t-svc" not in dump


def test_database_only_deploy_and_delete_through_the_stack(
    sandbox: SandboxEndpoint, deploys: Deploys
) -> None:
    _, token = deploys.user("starter")
    app = deploys.new_app()
    deploys.start_worker()
    with deploys.client(token) as http:
        accepted = http.post("/api/deploy/database", json=database_spec(app))
        assert accepted.status_code == 202, accepted.text
        done = wait_finished(http, accepted.json()["deploymentId"])
        assert done["status"] == "succeeded", (done, deploys.workers.output())
        assert [s["key"] for s in done["steps"]] == ["database", "health"]

        # A site deploy is refused on the database route, and the database of a web app cannot be
        # deleted alone; this one (database only) can.
        refused = http.post("/api/deploy/database", json=web_spec(app))
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "web"
        deleting = http.delete(f"/api/turso/databases/{app}")
        assert deleting.status_code == 202, deleting.text
        gone = wait_finished(http, deleting.json()["deploymentId"])
        assert (gone["status"], gone["kind"]) == ("succeeded", "destroy"), gone
        assert http.get("/api/turso/databases").json()["databases"] == []
        assert http.get("/api/apps").json()["apps"] == []
        kinds = [
            h["kind"] for h in http.get("/api/deploy/history", params={"appId": app}).json()["deployments"]
        ]
        assert kinds == ["destroy", "database"]


def test_domains_and_data_migration_redeploy_the_app(
    sandbox: SandboxEndpoint, deploys: Deploys, tmp_path: Path
) -> None:
    _, token = deploys.user("pro")
    app = deploys.new_app()
    domain = f"{app}.example.com"
    deploys.start_worker()
    with deploys.client(token) as http:
        first = http.post("/api/deploy/web", json=web_spec(app)).json()["deploymentId"]
        assert wait_finished(http, first)["status"] == "succeeded", deploys.workers.output()

        check = http.post("/api/domains/check", json={"domain": domain}).json()
        assert check == {
            "domain": domain,
            "available": True,
            "reason": "available",
            "zone": "example.com",
            "allowedByTier": True,
        }
        no_zone = http.post("/api/domains/check", json={"domain": "shop.no-zone-here.org"}).json()
        assert no_zone["available"] is False
        assert "zone" in no_zone["reason"]

        configured = http.post("/api/domains/configure", json={"appId": app, "domain": domain})
        assert configured.status_code == 202, configured.text
        done = wait_finished(http, configured.json()["deploymentId"])
        assert (done["status"], done["kind"]) == ("succeeded", "domain"), (done, deploys.workers.output())
        assert done["outputs"]["customDomain"] == domain
        assert "domain" in [s["key"] for s in done["steps"]]
        taken = http.post("/api/domains/check", json={"domain": domain}).json()
        assert taken["reason"] == "already used by one of your apps"

        # The browser's data again: the database already holds rows, so they are kept (and said so).
        preview = tmp_path / "preview.sql"
        preview.write_text((SHOP / "prisma" / "preview.sql").read_text() + "\n-- exported again\n")
        migrated = http.post("/api/deploy/migrate-data", json={"appId": app, "previewData": str(preview)})
        assert migrated.status_code == 202, migrated.text
        done = wait_finished(http, migrated.json()["deploymentId"])
        assert (done["status"], done["kind"]) == ("succeeded", "migrate-data"), (
            done,
            deploys.workers.output(),
        )
        data_step = next(s for s in done["steps"] if s["key"] == "data")
        assert data_step["state"] == "done"
        assert done["outputs"]["customDomain"] == domain  # the rest of the app as it was
        missing = http.post("/api/deploy/migrate-data", json={"appId": app, "previewData": "/nope.sql"})
        assert missing.status_code == 422
        assert missing.json()["error"]["field"] == "database.previewData"
