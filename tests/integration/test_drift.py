"""Drift detection and fleet operations through the real engine, against the sandbox.

The module has a sandbox and a backend of its own, so `--all` means exactly the stacks made here.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from automation import drift, operations
from automation.fleet import run_fleet
from automation.parallel import run_bounded
from cli.main import main as cli
from components.cloudflare.client import CloudflareClient
from components.spec import AppSpec
from components.turso.client import TursoClient
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, REPO_ROOT, TURSO_ORG, SandboxEndpoint
from tests.integration.private_cloud import private_cloud

pytestmark = pytest.mark.engine

SITE = REPO_ROOT / "tests" / "fixtures" / "static-site"
SECRET = "key-s3cr3t-7"


def cloudflare(sandbox: SandboxEndpoint) -> CloudflareClient:
    return CloudflareClient(sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4")


def admin(sandbox: SandboxEndpoint, method: str, path: str, body: Any = None) -> None:
    httpx.request(method, f"{sandbox.url}/_admin{path}", json=body).raise_for_status()


def oneclick(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def spec(app: str, *, domain: bool) -> dict[str, Any]:
    return {
        "id": app,
        "web": {"buildDir": str(SITE), "env": {"PUBLIC_MODE": "one"}, "secretEnv": {"API_KEY": SECRET}},
        **({"customDomain": f"{app}.example.com"} if domain else {}),
    }


@pytest.fixture(scope="module")
def cloud() -> Iterator[tuple[SandboxEndpoint, Path]]:
    with private_cloud("oneclick-drift-") as made:
        yield made


@pytest.fixture(scope="module")
def sandbox(cloud: tuple[SandboxEndpoint, Path]) -> SandboxEndpoint:
    return cloud[0]


@pytest.fixture(scope="module")
def backend(cloud: tuple[SandboxEndpoint, Path]) -> Path:
    return cloud[1]


@pytest.fixture(scope="module")
def apps(sandbox: SandboxEndpoint, backend: Path) -> Iterator[dict[str, str]]:
    """Three deployed apps: `site` (a site and its database), `dns` and `domain` (with custom domains)."""
    suffix = uuid.uuid4().hex[:6]
    names = {"site": f"drift-site-{suffix}", "dns": f"drift-dns-{suffix}", "domain": f"drift-dom-{suffix}"}
    specs = [AppSpec.parse(spec(app, domain=role != "site")) for role, app in names.items()]
    run_bounded(specs, lambda s: operations.deploy(s, health_check=False), 3)
    yield names
    destroyed = run_fleet("destroy", list(names.values()), parallel=3)
    for app in names.values():
        (REPO_ROOT / "stacks" / f"Pulumi.{app}.yaml").unlink(missing_ok=True)
    assert destroyed.failed == []


def dns_record(sandbox: SandboxEndpoint, domain: str) -> tuple[str, str, str]:
    with cloudflare(sandbox) as cf:
        zone = cf.find_zone(domain)
        assert zone is not None
        [record] = [r for r in cf.list_dns_records(zone.id) if r.name == domain]
        return zone.id, record.id, record.content


def found(report: dict[str, Any]) -> dict[str, set[tuple[str, str, frozenset[str]]]]:
    return {
        stack["app"]: {
            (r["resource"], r["change"], frozenset(p["property"] for p in r["properties"]))
            for r in stack["resources"]
        }
        for stack in report["stacks"]
    }


def assert_both_paths_agree(app_ids: list[str]) -> None:
    """Each stack's drift read in this process is the engine's refresh preview's, to the property."""
    for app in app_ids:
        direct, engine = drift.check(app), drift.check(app, engine=True)
        assert (direct.via, engine.via) == ("direct", "engine")
        assert direct.status in ("clean", "drift")
        assert strip(direct) == strip(engine)


def strip(result: drift.StackDrift) -> dict[str, Any]:
    return {k: v for k, v in result.as_dict().items() if k not in ("seconds", "via")}


def test_drift_names_exactly_what_changed_and_fix_converges(
    sandbox: SandboxEndpoint, apps: dict[str, str], tmp_path: Path
) -> None:
    clean = oneclick("drift", "--all")
    assert clean.exit_code == 0, clean.output
    assert "3 stacks: 3 clean" in clean.stdout
    assert_both_paths_agree(list(apps.values()))

    site, dns, domain = apps["site"], apps["dns"], apps["domain"]
    admin(sandbox, "PUT", f"/cloudflare/projects/{site}/env_vars/PUBLIC_MODE", {"value": "edited-by-hand"})
    admin(sandbox, "DELETE", f"/turso/{TURSO_ORG}/databases/{dns}")
    zone_id, record_id, target = dns_record(sandbox, f"{dns}.example.com")
    record = f"/cloudflare/zones/{zone_id}/dns_records/{record_id}"
    admin(sandbox, "PATCH", record, {"content": "elsewhere.example.net"})
    admin(sandbox, "DELETE", f"/cloudflare/projects/{domain}/domains/{domain}.example.com")

    assert_both_paths_agree(list(apps.values()))
    junit = tmp_path / "drift.xml"
    result = oneclick("drift", "--all", "--json", "--junit", str(junit), "--parallel", "2")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert {s["via"] for s in report["stacks"]} == {"direct"}
    assert found(report) == {
        site: {(f"{site}-site", "changed", frozenset({"env_vars.PUBLIC_MODE"}))},
        dns: {
            (f"{dns}-db", "deleted", frozenset()),
            (f"{dns}-domain", "changed", frozenset({"dns_record_content", "dns_in_sync"})),
        },
        domain: {(f"{domain}-domain", "deleted", frozenset())},
    }
    by_app = {s["app"]: s for s in report["stacks"]}
    [env_change] = by_app[site]["resources"][0]["properties"]
    assert (env_change["old"], env_change["new"]) == ("one", "edited-by-hand")
    dns_changes = {p["property"]: p for r in by_app[dns]["resources"] for p in r["properties"]}
    assert (dns_changes["dns_record_content"]["old"], dns_changes["dns_record_content"]["new"]) == (
        target,
        "elsewhere.example.net",
    )
    assert report["summary"] == {"stacks": 3, "clean": 0, "drifted": 3, "failed": 0}
    for secret in (SECRET, sandbox.api_token):
        assert secret not in result.output
        assert secret not in junit.read_text()

    suite = ET.fromstring(junit.read_text())  # noqa: S314 (our own report)
    assert suite.tag == "testsuites"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "3", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == set(apps.values())
    assert all(case.find("failure") is not None for case in cases.values())
    failure = cases[site].find("failure")
    assert failure is not None
    assert 'env_vars.PUBLIC_MODE: "one" -> "edited-by-hand"' in (failure.text or "")

    table = oneclick("drift", site)
    assert table.exit_code == 1
    assert "env_vars.PUBLIC_MODE" in table.stdout
    assert "edited-by-hand" in table.stdout

    fixed = oneclick("drift", "--all", "--fix", "--yes")
    assert fixed.exit_code == 0, fixed.output
    assert "3 succeeded (3 changed), 0 failed" in fixed.stdout
    with cloudflare(sandbox) as cf:
        assert cf.get_project(site).env_vars["PUBLIC_MODE"].value == "one"
        assert [d.name for d in cf.list_domains(domain)] == [f"{domain}.example.com"]
    assert dns_record(sandbox, f"{dns}.example.com")[2] == target
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        assert turso.get_database(dns).name == dns

    again = oneclick("drift", "--all", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["summary"] == {"stacks": 3, "clean": 3, "drifted": 0, "failed": 0}
    engine = oneclick("drift", "--all", "--json", "--engine")
    assert engine.exit_code == 0, engine.output
    assert {s["via"] for s in json.loads(engine.stdout)["stacks"]} == {"engine"}


def test_an_unreadable_stack_exits_2_and_the_others_are_still_checked(
    apps: dict[str, str], backend: Path, tmp_path: Path
) -> None:
    broken = f"drift-broken-{uuid.uuid4().hex[:6]}"
    operations.deploy(AppSpec.parse({"id": broken}), health_check=False)
    state = backend / ".pulumi" / "stacks" / "oneclick" / f"{broken}.json"
    original = state.read_bytes()
    state.write_text('{"version": 3, "checkpoint": {"latest": {"resources": [')
    try:
        junit = tmp_path / "drift.xml"
        result = oneclick("drift", "--all", "--json", "--junit", str(junit))
        assert result.exit_code == 2, result.output
        report = json.loads(result.stdout)
        statuses = {s["app"]: s["status"] for s in report["stacks"]}
        assert statuses == {**dict.fromkeys(apps.values(), "clean"), broken: "error"}
        [error] = [s["error"] for s in report["stacks"] if s["app"] == broken]
        assert "failed to load checkpoint" in error  # the engine's words: the direct check refused
        suite = ET.fromstring(junit.read_text())  # noqa: S314 (our own report)
        assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "1")
        named = oneclick("drift", broken, apps["site"])
        assert named.exit_code == 2
        assert "could not be checked" in named.stdout
    finally:
        state.write_bytes(original)
        operations.destroy(broken)
        (REPO_ROOT / "stacks" / f"Pulumi.{broken}.yaml").unlink(missing_ok=True)


def test_drift_usage_errors_exit_2(apps: dict[str, str]) -> None:
    assert oneclick("drift").exit_code == 2  # no apps named
    assert oneclick("drift", "--all", apps["site"]).exit_code == 2
    missing = oneclick("drift", "never-deployed-app")
    assert missing.exit_code == 2
    assert "no app 'never-deployed-app' is deployed" in missing.stdout


def test_fleet_runs_recorded_programs_and_a_locked_stack_is_a_typed_error(
    sandbox: SandboxEndpoint, apps: dict[str, str]
) -> None:
    preview = oneclick("fleet", "preview", "--all", "--json")
    assert preview.exit_code == 0, preview.output
    summary = json.loads(preview.stdout)["summary"]
    assert summary == {"stacks": 3, "succeeded": 3, "changed": 0, "failed": 0}

    # Hold a refresh of one app open on a slow vendor answer; `fleet up` meets its lock.
    held = apps["site"]
    admin(
        sandbox,
        "POST",
        "/faults",
        {
            "path_prefix": f"/client/v4/accounts/{CLOUDFLARE_ACCOUNT_ID}/pages/projects/{held}",
            "status": 500,
            "count": 1,
            "delay_seconds": 6,
        },
    )
    holder = threading.Thread(target=operations.refresh, args=(held,))
    holder.start()
    deadline = time.monotonic() + 60
    while httpx.get(f"{sandbox.url}/_admin/faults").json() and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        locked = drift.check(held)
        up = oneclick("fleet", "up", held, apps["dns"], "--parallel", "2")
    finally:
        holder.join()
    assert up.exit_code == 1, up.output
    assert "1 succeeded (0 changed), 1 failed" in up.stdout
    assert f"failed: {held}: app {held!r} is locked by another update" in up.stdout
    # A refresh preview takes no lock and reads the checkpoint as it is; a held lock makes the
    # in-process check hand the stack to the engine, so the answer stays the engine's.
    assert (locked.status, locked.via) == ("clean", "engine")

    result = run_fleet("up", [held, apps["dns"]], parallel=2)
    assert [r.state for r in result.runs] == ["succeeded", "succeeded"]
    assert result.changed == []
