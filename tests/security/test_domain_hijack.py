"""Issue 13, item 6 and the custom-domain race: a tenant must never take over a DNS name it does not own.

The attack: `status.example.com` (a platform zone) already has a record oneclick did not make. B
asked whether it was free (`available`), deployed with it as its customDomain, and the provider
PATCHED the record to B's site; B's destroy then left it pointing at a deleted project. Now the
name is reported unavailable, the API answers 409 before anything is recorded, the provider refuses
the record even when it appears after the API's check, and it changes or deletes only records that
carry its app's mark. Two users asking for one free domain at the same moment get one 202 and one
JSON 409 (it was a plain-text 500).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from components.cloudflare.client import CloudflareClient
from components.cloudflare.domain_provider import CustomDomainProvider, DnsConflictError
from components.cloudflare.models import DnsRecord, Zone
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, SandboxEndpoint
from tests.databases import query
from tests.helpers import wait_for
from tests.service.conftest import ApiServer, Workers, client, make_user, new_app, wait_finished, web_spec

pytestmark = pytest.mark.engine

VICTIM_TARGET = "status-page.victim-hosting.example.net"


@pytest.fixture
def cf(sandbox: SandboxEndpoint) -> Iterator[CloudflareClient]:
    """The sandbox's Cloudflare API, as the zone's owner (the platform) uses it."""
    with CloudflareClient(sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4") as c:
        yield c


def zone(cf: CloudflareClient) -> Zone:
    found = cf.find_zone("example.com")
    assert found is not None
    return found


def plant(cf: CloudflareClient, kind: str = "CNAME", comment: str | None = None) -> DnsRecord:
    """The victim's record at a fresh name of the platform zone (as `status.example.com` was)."""
    name = f"status-{uuid.uuid4().hex[:8]}.example.com"
    content = VICTIM_TARGET if kind == "CNAME" else "192.0.2.80"
    return cf.create_dns_record(zone(cf).id, type=kind, name=name, content=content, comment=comment)


def assert_untouched(cf: CloudflareClient, victim: DnsRecord) -> None:
    """The victim's record is there, exactly as planted, and the only record at its name."""
    assert cf.list_dns_records(victim.zone_id, name=victim.name) == [victim]
    assert not pages_projects_with(cf, victim.name), "the name joined a Pages project"


def pages_projects_with(cf: CloudflareClient, domain: str) -> list[str]:
    return [p.name for p in cf.list_projects() if domain in {d.name for d in cf.list_domains(p.name)}]


def assert_conflict(response: httpx.Response, fix: str = "choose another customDomain") -> dict[str, Any]:
    assert response.status_code == 409, response.text
    error: dict[str, Any] = response.json()["error"]
    assert (error["code"], error["field"]) == ("conflict", "customDomain"), error
    assert fix in error["fix"], error
    return error


def recorded(service_db: str, app: str) -> list[tuple[Any, ...]]:
    return query(
        service_db,
        "SELECT 'deployment' FROM deployments WHERE app_id = %s "
        "UNION ALL SELECT 'app' FROM deployed_apps WHERE app_id = %s",
        [app, app],
    )


# -- through the HTTP API --------------------------------------------------------------------------


def test_a_name_with_a_foreign_record_is_not_available(
    sandbox: SandboxEndpoint, api: ApiServer, service_db: str, cf: CloudflareClient
) -> None:
    _, token = make_user(service_db, "pro")
    hidden_origin = plant(cf, "A", comment="status page origin")
    other_app = plant(cf, comment="managed by oneclick: app someone-else")
    with client(api, token) as http:
        for victim, whose in ((hidden_origin, "oneclick did not make"), (other_app, "another oneclick app")):
            check = http.post("/api/domains/check", json={"domain": victim.name})
            assert check.status_code == 200, check.text
            body = check.json()
            assert (body["available"], body["zone"]) == (False, "example.com"), body
            assert whose in body["reason"], body
            assert victim.content not in check.text, "a proxied record's origin is not for tenants"
            assert_untouched(cf, victim)


def test_deploying_onto_a_foreign_record_is_refused_before_anything_is_recorded(
    sandbox: SandboxEndpoint, api: ApiServer, service_db: str, cf: CloudflareClient, app_ids: list[str]
) -> None:
    _, token = make_user(service_db, "pro")
    with client(api, token) as http:
        for victim in (plant(cf), plant(cf, "A"), plant(cf, comment="managed by oneclick: app other")):
            app = new_app(app_ids, "hijack")
            refused = http.post("/api/deploy/web", json=web_spec(app, customDomain=victim.name))
            error = assert_conflict(refused)
            assert victim.name in error["message"], error
            assert victim.content not in refused.text
            assert recorded(service_db, app) == [], "refused before anything was recorded"
            assert_untouched(cf, victim)


def test_the_attackers_deploys_and_destroy_never_touch_the_victims_record(
    sandbox: SandboxEndpoint,
    api: ApiServer,
    workers: Workers,
    service_db: str,
    cf: CloudflareClient,
    app_ids: list[str],
    tmp_path: Path,
) -> None:
    _, token = make_user(service_db, "pro")
    app = new_app(app_ids, "attacker")
    late = f"late-{app}.example.com"
    with client(api, token) as http:
        # The name is free when asked for; the victim's record appears before the deploy runs
        # (the API's check cannot see the future): the provider refuses it all the same.
        accepted = http.post("/api/deploy/web", json=web_spec(app, customDomain=late))
        assert accepted.status_code == 202, accepted.text
        victim = cf.create_dns_record(zone(cf).id, type="CNAME", name=late, content=VICTIM_TARGET)
        workers.start(tmp_path)
        failed = wait_finished(http, accepted.json()["deploymentId"], timeout=240)
        assert failed["status"] == "failed", (failed, workers.output())
        assert "customDomain" in (failed["error"] or ""), failed["error"]
        assert_untouched(cf, victim)

        # Its own name: the record it makes is marked as this app's.
        own = f"own-{app}.example.com"
        configured = http.post("/api/domains/configure", json={"appId": app, "domain": own})
        assert configured.status_code == 202, configured.text
        done = wait_finished(http, configured.json()["deploymentId"], timeout=240)
        assert done["status"] == "succeeded", (done, workers.output())
        [mine] = cf.list_dns_records(zone(cf).id, name=own)
        assert mine.comment == f"managed by oneclick: app {app}"

        # The platform's name, asked for directly: refused before anything is queued.
        platform = plant(cf)
        before = len(http.get("/api/deploy/history", params={"appId": app}).json()["deployments"])
        assert_conflict(http.post("/api/domains/configure", json={"appId": app, "domain": platform.name}))
        after = len(http.get("/api/deploy/history", params={"appId": app}).json()["deployments"])
        assert after == before

        destroyed = http.delete(f"/api/apps/{app}")
        assert destroyed.status_code == 202, destroyed.text
        gone = wait_finished(http, destroyed.json()["deploymentId"], timeout=240)
        assert gone["status"] == "succeeded", (gone, workers.output())
    assert cf.list_dns_records(zone(cf).id, name=own) == [], "its own record goes with it"
    assert_untouched(cf, victim)
    assert_untouched(cf, platform)


def test_two_users_racing_for_one_domain_get_one_202_and_one_json_409(
    sandbox: SandboxEndpoint,
    api: ApiServer,
    workers: Workers,
    service_db: str,
    cf: CloudflareClient,
    app_ids: list[str],
    tmp_path: Path,
) -> None:
    domain = f"race-{uuid.uuid4().hex[:8]}.example.com"
    racers = [(make_user(service_db, "pro")[1], new_app(app_ids, "race")) for _ in range(2)]
    clients = [client(api, token) for token, _ in racers]
    specs = [
        http.with_uploads(web_spec(app, customDomain=domain))
        for http, (_, app) in zip(clients, racers, strict=True)
    ]
    answers: list[httpx.Response] = []

    def submit(http: httpx.Client, spec: dict[str, Any]) -> None:
        answers.append(http.post("/api/deploy/web", json=spec))

    # Hold both requests inside their transactions: each passes the "taken" query before either
    # commits, as two requests arriving together do. Locking the steps table parks the first
    # after its app row; the second then waits on the unique index for the first's commit.
    with psycopg.connect(service_db) as lock:
        lock.execute("LOCK TABLE deployment_steps, deployment_events IN EXCLUSIVE MODE")
        threads = [threading.Thread(target=submit, args=pair) for pair in zip(clients, specs, strict=True)]
        for thread in threads:
            thread.start()
        waiting = wait_for(
            lambda: (
                query(
                    service_db,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'",
                )[0][0]
                >= 2
            ),
            timeout=30,
        )
        lock.commit()
    for thread in threads:
        thread.join(timeout=60)
    for http in clients:
        http.close()
    assert waiting, "both requests were held inside their transactions"
    assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409)
    assert loser.headers["content-type"].startswith("application/json")
    assert (
        "already the custom domain of another app"
        in assert_conflict(loser, "choose another domain")["message"]
    )

    # The winner's deploy makes the record, marked as its own; the loser has nothing anywhere.
    winner = next(a for a in answers if a.status_code == 202).json()
    loser_app = next(app for _, app in racers if app != winner["appId"])
    assert recorded(service_db, loser_app) == []
    workers.start(tmp_path)
    with client(api, next(t for t, app in racers if app == winner["appId"])) as http:
        done = wait_finished(http, winner["deploymentId"], timeout=240)
    assert done["status"] == "succeeded", (done, workers.output())
    [record] = cf.list_dns_records(zone(cf).id, name=domain)
    assert record.comment == f"managed by oneclick: app {winner['appId']}"


# -- the provider itself ---------------------------------------------------------------------------


def domain_inputs(sandbox: SandboxEndpoint, project: str, domain: str, app: str) -> dict[str, Any]:
    port = sandbox.url.rsplit(":", 1)[1]
    return {
        "account_id": CLOUDFLARE_ACCOUNT_ID,
        "project_name": project,
        "domain": domain,
        "target": f"{project}.pages.localhost:{port}",
        "api_url": f"{sandbox.url}/client/v4",
        "api_token": sandbox.api_token,
        "wait_seconds": 0.0,
        "app_id": app,
    }


def test_the_provider_refuses_a_record_that_is_not_its_apps(
    sandbox: SandboxEndpoint, cf: CloudflareClient
) -> None:
    project = f"hijack-{uuid.uuid4().hex[:8]}"
    cf.create_project(project)
    provider = CustomDomainProvider()
    for victim in (plant(cf), plant(cf, "A"), plant(cf, comment=f"managed by oneclick: app {project}-2")):
        with pytest.raises(DnsConflictError) as refused:
            provider.create(domain_inputs(sandbox, project, victim.name, project))
        message = str(refused.value)
        assert message.startswith(f"customDomain: {victim.name} already has "), message
        assert "Choose another customDomain" in message
        assert victim.content not in message
        assert_untouched(cf, victim)


def test_update_and_delete_touch_only_records_marked_as_the_apps(
    sandbox: SandboxEndpoint, cf: CloudflareClient
) -> None:
    """A state that claims the victim's record (as the old code recorded an adopted one) still
    cannot change or delete it."""
    project = f"hijack-{uuid.uuid4().hex[:8]}"
    cf.create_project(project)
    provider = CustomDomainProvider()
    own = f"{project}.example.com"
    outs = provider.create(domain_inputs(sandbox, project, own, project)).outs
    assert cf.get_dns_record(outs["zone_id"], outs["dns_record_id"]).comment == (
        f"managed by oneclick: app {project}"
    )
    # Refresh finds its own record by its mark when the state lost the id (a recovered create).
    found = provider.read(own, {**outs, "dns_record_id": None, "zone_id": None}).outs
    assert (found["dns_record_id"], found["dns_record_managed"]) == (outs["dns_record_id"], True)

    victim = plant(cf)
    claimed = {
        **domain_inputs(sandbox, project, victim.name, project),
        "zone_id": victim.zone_id,
        "dns_record_id": victim.id,
        "dns_record_managed": True,
        "dns_in_sync": False,
    }
    with pytest.raises(DnsConflictError):
        provider.update(victim.name, claimed, domain_inputs(sandbox, project, victim.name, project))
    provider.delete(victim.name, claimed)
    assert_untouched(cf, victim)

    provider.delete(own, outs)
    assert cf.list_dns_records(outs["zone_id"], name=own) == [], "its own record is removed"


def test_the_sandbox_keeps_comments_and_tags_as_the_contract_says(
    sandbox: SandboxEndpoint, cf: CloudflareClient
) -> None:
    """The mark lives in `comment`: the sandbox must keep it through every write, as Cloudflare does."""
    url = f"{sandbox.url}/client/v4/zones/{zone(cf).id}/dns_records"
    auth = {"Authorization": f"Bearer {sandbox.api_token}"}
    name = f"c-{uuid.uuid4().hex[:8]}.example.com"
    body = {"type": "TXT", "name": name, "content": "v=1", "comment": "mark", "tags": ["owner:team-1"]}
    made = httpx.post(url, json=body, headers=auth).json()["result"]
    assert (made["comment"], made["tags"]) == ("mark", ["owner:team-1"])
    kept = httpx.patch(f"{url}/{made['id']}", json={"content": "v=2"}, headers=auth).json()["result"]
    assert (kept["comment"], kept["tags"]) == ("mark", ["owner:team-1"]), "PATCH keeps what it does not name"
    changed = httpx.patch(f"{url}/{made['id']}", json={"comment": "other"}, headers=auth).json()["result"]
    assert changed["comment"] == "other"
    assert [r.comment for r in cf.list_dns_records(zone(cf).id, name=name)] == ["other"]
    for bad in ({"tags": ["no value"]}, {"tags": ["sp ace:x"]}, {"comment": "two\nlines"}):
        refused = httpx.post(url, json={**body, "name": f"x{name}", **bad}, headers=auth)
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["success"] is False
