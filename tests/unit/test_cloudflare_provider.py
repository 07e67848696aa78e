"""PagesProject and CustomDomain providers, method by method, against a real sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from components.cloudflare import domain_provider
from components.cloudflare.client import CloudflareClient
from components.cloudflare.domain_provider import CustomDomainProvider, DnsConflictError, cname_target
from components.cloudflare.models import Compatibility, EnvVar
from components.cloudflare.pages_provider import BuildChangedError, PagesProjectProvider
from components.cloudflare.upload import build_manifest, config_hashes
from components.cloudflare.worker_bundle import read_worker
from core.http import VendorConflict
from core.localhost import LoopbackTransport
from sandbox import server
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, SandboxEndpoint


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEndpoint]:
    directory = tmp_path_factory.mktemp("cfp") / "sbx"
    yield server.start(directory, port=0)
    server.stop(directory)


@pytest.fixture
def cf(endpoint: SandboxEndpoint) -> Iterator[CloudflareClient]:
    with CloudflareClient(
        endpoint.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{endpoint.url}/client/v4"
    ) as c:
        yield c


@pytest.fixture
def web() -> Iterator[httpx.Client]:
    with httpx.Client(transport=LoopbackTransport(), timeout=10) as client:
        yield client


def make_site(root: Path, title: str) -> Path:
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(f"<h1>{title}</h1>")
    (root / "assets" / "app.css").write_text("body{}")
    (root / "assets" / "app.js").write_text("1")
    return root


def props(endpoint: SandboxEndpoint, build_dir: Path, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "account_id": CLOUDFLARE_ACCOUNT_ID,
        "project_name": f"prov-{uuid.uuid4().hex[:8]}",
        "api_url": f"{endpoint.url}/client/v4",
        "api_token": endpoint.api_token,
        "build_dir": str(build_dir),
        "manifest": build_manifest(build_dir),
        "config_files": config_hashes(build_dir),
        "env_vars": {"NEXTAUTH_URL": "http://x"},
        "secret_env_vars": {"TURSO_AUTH_TOKEN": "tok-1"},
        "production_branch": "main",
    }
    values.update(changes)
    return values


def admin(endpoint: SandboxEndpoint, method: str, path: str, body: object = None) -> httpx.Response:
    return httpx.request(method, f"{endpoint.url}/_admin{path}", json=body, timeout=10)


def test_create_deploys_and_an_unchanged_build_is_no_change(
    endpoint: SandboxEndpoint, cf: CloudflareClient, web: httpx.Client, tmp_path: Path
) -> None:
    provider = PagesProjectProvider()
    inputs = props(endpoint, make_site(tmp_path / "out", "one"))
    created = provider.create(inputs)
    outs = created.outs
    assert created.id == inputs["project_name"]
    assert outs["uploaded_files"] == 3
    assert (outs or {}).get("subdomain") == f"{created.id}.pages.localhost", "a hostname, as Pages answers"
    assert outs["url"] == f"http://{outs['subdomain']}:{urlsplit(endpoint.url).port}"
    assert outs["deployment_ids"] == [outs["deployment_id"]]
    assert outs["production_deployment_id"] == outs["deployment_id"]
    assert web.get(outs["url"] + "/").text == "<h1>one</h1>"
    assert web.get(outs["deployment_url"] + "/").text == "<h1>one</h1>"
    project = cf.get_project(created.id)
    assert project.env_vars == {
        "NEXTAUTH_URL": EnvVar.plain("http://x"),
        "TURSO_AUTH_TOKEN": EnvVar("secret_text", None),
    }
    deployment = cf.get_deployment(created.id, outs["deployment_id"])
    assert set(deployment.env_vars) == {"NEXTAUTH_URL", "TURSO_AUTH_TOKEN"}

    same = props(endpoint, tmp_path / "out", project_name=created.id)
    diff = provider.diff(created.id, outs, same)
    assert diff.changes is False
    assert diff.replaces == []
    moved = provider.diff(created.id, outs, {**same, "build_dir": "/elsewhere/same/files"})
    assert moved.changes is False, "the manifest, not the path, describes the build"


def test_changed_files_update_uploading_only_what_changed(
    endpoint: SandboxEndpoint, web: httpx.Client, tmp_path: Path
) -> None:
    provider = PagesProjectProvider()
    root = make_site(tmp_path / "out", "one")
    olds = provider.create(props(endpoint, root)).outs
    root.joinpath("index.html").write_text("<h1>two</h1>")
    news = props(endpoint, root, project_name=olds["project_name"])
    diff = provider.diff(olds["project_name"], olds, news)
    assert diff.changes is True
    assert diff.replaces == []
    outs = provider.update(olds["project_name"], olds, news).outs
    assert outs["uploaded_files"] == 1
    assert outs["deployment_ids"] == [outs["deployment_id"], olds["deployment_id"]]
    assert web.get(outs["url"] + "/").text == "<h1>two</h1>"
    assert web.get(olds["deployment_url"] + "/").text == "<h1>one</h1>", "old deployments stay reachable"


def test_env_var_change_updates_the_project_and_deploys_again(
    endpoint: SandboxEndpoint, cf: CloudflareClient, tmp_path: Path
) -> None:
    provider = PagesProjectProvider()
    root = make_site(tmp_path / "out", "env")
    olds = provider.create(props(endpoint, root)).outs
    news = {
        **props(endpoint, root, project_name=olds["project_name"]),
        "env_vars": {"NEXTAUTH_URL": "http://y", "FEATURE": "on"},
        "secret_env_vars": {},
    }
    assert provider.diff(olds["project_name"], olds, news).changes is True
    outs = provider.update(olds["project_name"], olds, news).outs
    assert outs["deployment_id"] != olds["deployment_id"], "env vars apply to new deployments only"
    assert outs["uploaded_files"] == 0
    project = cf.get_project(olds["project_name"])
    assert project.env_vars == {"NEXTAUTH_URL": EnvVar.plain("http://y"), "FEATURE": EnvVar.plain("on")}
    assert set(project.preview_env_vars) == {"NEXTAUTH_URL", "FEATURE"}
    recorded = cf.get_deployment(olds["project_name"], outs["deployment_id"]).env_vars
    assert recorded["NEXTAUTH_URL"] == EnvVar.plain("http://y")
    assert "TURSO_AUTH_TOKEN" not in recorded

    rotated = {**news, "api_token": endpoint.api_token + ""}
    assert provider.diff(olds["project_name"], outs, rotated).changes is False


def test_refresh_shows_drift_and_update_puts_it_back(
    endpoint: SandboxEndpoint, cf: CloudflareClient, tmp_path: Path
) -> None:
    provider = PagesProjectProvider()
    root = make_site(tmp_path / "out", "drift")
    inputs = props(endpoint, root)
    name = inputs["project_name"]
    olds = provider.create(inputs).outs
    admin(endpoint, "PUT", f"/cloudflare/projects/{name}/env_vars/NEXTAUTH_URL", {"value": "http://evil"})
    admin(endpoint, "PUT", f"/cloudflare/projects/{name}/env_vars/ROGUE", {"value": "1"})

    read = provider.read(name, olds)
    assert read.id == name
    assert read.inputs is not None
    assert read.inputs["env_vars"] == {"NEXTAUTH_URL": "http://evil", "ROGUE": "1"}
    assert read.inputs["secret_env_vars"] == {"TURSO_AUTH_TOKEN": "tok-1"}, (
        "unreadable: the known value is kept"
    )
    assert provider.diff(name, read.outs, inputs).changes is True
    fixed = provider.update(name, read.outs, inputs).outs
    assert cf.get_project(name).env_vars["NEXTAUTH_URL"] == EnvVar.plain("http://x")
    assert "ROGUE" not in cf.get_project(name).env_vars
    assert provider.diff(name, provider.read(name, fixed).outs, inputs).changes is False


def test_a_rollback_elsewhere_is_drift_that_up_deploys_over(
    endpoint: SandboxEndpoint, cf: CloudflareClient, web: httpx.Client, tmp_path: Path
) -> None:
    provider = PagesProjectProvider()
    root = make_site(tmp_path / "out", "v1")
    first = provider.create(props(endpoint, root)).outs
    name = first["project_name"]
    root.joinpath("index.html").write_text("<h1>v2</h1>")
    news = props(endpoint, root, project_name=name)
    second = provider.update(name, first, news).outs
    cf.rollback_deployment(name, second["deployment_ids"][1])
    assert web.get(second["url"] + "/").text == "<h1>v1</h1>"
    read = provider.read(name, second).outs
    assert read["production_deployment_id"] == first["deployment_id"]
    assert provider.diff(name, read, news).changes is True
    third = provider.update(name, read, news).outs
    assert third["uploaded_files"] == 0
    assert web.get(third["url"] + "/").text == "<h1>v2</h1>"


def test_a_project_deleted_behind_pulumis_back_reads_as_gone(
    endpoint: SandboxEndpoint, tmp_path: Path
) -> None:
    provider = PagesProjectProvider()
    outs = provider.create(props(endpoint, make_site(tmp_path / "out", "gone"))).outs
    assert admin(endpoint, "DELETE", f"/cloudflare/projects/{outs['project_name']}").status_code == 200
    assert provider.read(outs["project_name"], outs).id is None
    provider.delete(outs["project_name"], outs)  # already gone: still fine


def test_identity_changes_replace(endpoint: SandboxEndpoint, tmp_path: Path) -> None:
    provider = PagesProjectProvider()
    olds = props(endpoint, make_site(tmp_path / "out", "id"), project_name="a")
    renamed = provider.diff("a", olds, {**olds, "project_name": "b"})
    assert renamed.replaces == ["project_name"]
    assert renamed.delete_before_replace is False
    moved = provider.diff("a", olds, {**olds, "account_id": "other"})
    assert moved.replaces == ["account_id"]
    assert moved.delete_before_replace is True, "same name: the old project must go first"


def test_files_changing_during_the_deploy_are_reported(endpoint: SandboxEndpoint, tmp_path: Path) -> None:
    root = make_site(tmp_path / "out", "racing")
    inputs = props(endpoint, root)
    root.joinpath("index.html").write_text("<h1>changed meanwhile</h1>")
    with pytest.raises(BuildChangedError, match="changed while deploying"):
        PagesProjectProvider().create(inputs)


def test_an_interrupted_create_is_resumed_but_a_foreign_project_is_refused(
    endpoint: SandboxEndpoint, cf: CloudflareClient, tmp_path: Path
) -> None:
    provider = PagesProjectProvider()
    root = make_site(tmp_path / "out", "again")
    inputs = props(endpoint, root)
    cf.create_project(inputs["project_name"], env_vars={"STALE": EnvVar.plain("1")})
    outs = provider.create(inputs).outs
    assert set(cf.get_project(outs["project_name"]).env_vars) == {"NEXTAUTH_URL", "TURSO_AUTH_TOKEN"}
    with pytest.raises(VendorConflict, match=r"web\.project_name"):
        provider.create(props(endpoint, root, project_name=outs["project_name"]))


def domain_props(endpoint: SandboxEndpoint, project: str, domain: str, **changes: Any) -> dict[str, Any]:
    port = endpoint.url.rsplit(":", 1)[1]
    return {
        "account_id": CLOUDFLARE_ACCOUNT_ID,
        "project_name": project,
        "domain": domain,
        "target": f"{project}.pages.localhost:{port}",
        "api_url": f"{endpoint.url}/client/v4",
        "api_token": endpoint.api_token,
        "wait_seconds": 5.0,
        "app_id": project,
        **changes,
    }


@pytest.fixture
def project(endpoint: SandboxEndpoint, tmp_path: Path) -> dict[str, Any]:
    return PagesProjectProvider().create(props(endpoint, make_site(tmp_path / "site", "custom"))).outs


def test_custom_domain_in_a_sandbox_zone_gets_a_cname_and_turns_active(
    endpoint: SandboxEndpoint, cf: CloudflareClient, project: dict[str, Any]
) -> None:
    provider = CustomDomainProvider()
    name = project["project_name"]
    inputs = domain_props(endpoint, name, f"{name}.example.com")
    outs = provider.create(inputs).outs
    assert (outs["status"], outs["verification_status"], outs["ssl_status"]) == ("active", "active", "active")
    assert outs["zone_id"] is not None
    assert outs["instructions"] is None
    assert outs["url"] == f"https://{name}.example.com"
    record = cf.get_dns_record(outs["zone_id"], outs["dns_record_id"])
    assert (record.type, record.content, record.proxied) == ("CNAME", f"{name}.pages.localhost", True)
    assert record.comment == f"managed by oneclick: app {name}", "marked as the app's own"
    assert provider.diff(inputs["domain"], outs, inputs).changes is False

    deleted = admin(endpoint, "DELETE", f"/cloudflare/zones/example.com/dns_records/{outs['dns_record_id']}")
    assert deleted.status_code == 200
    read = provider.read(inputs["domain"], outs)
    assert read.outs["dns_in_sync"] is False
    assert provider.diff(inputs["domain"], read.outs, inputs).changes is True
    repaired = provider.update(inputs["domain"], read.outs, inputs).outs
    assert repaired["dns_in_sync"] is True
    assert repaired["dns_record_id"] != outs["dns_record_id"]

    provider.delete(inputs["domain"], repaired)
    assert cf.list_dns_records(outs["zone_id"], name=inputs["domain"]) == []
    assert cf.list_domains(name) == []
    assert provider.read(inputs["domain"], repaired).id is None


def test_custom_domain_elsewhere_reports_the_cname_to_create(
    endpoint: SandboxEndpoint, cf: CloudflareClient, project: dict[str, Any]
) -> None:
    provider = CustomDomainProvider()
    name = project["project_name"]
    inputs = domain_props(endpoint, name, f"www.{name}.org", wait_seconds=0.0)
    outs = provider.create(inputs).outs
    assert outs["zone_id"] is None
    assert outs["dns_record_id"] is None
    assert outs["status"] == "pending", "no waiting asked for"
    assert outs["instructions"] == (
        f"Create a CNAME record at your DNS provider: www.{name}.org -> {name}.pages.localhost "
        "(the domain turns active once Cloudflare sees it)"
    )
    assert provider.read(inputs["domain"], outs).outs["status"] == "active", "the sandbox trusts outside DNS"
    admin(endpoint, "DELETE", f"/cloudflare/projects/{name}/domains/www.{name}.org")
    assert provider.read(inputs["domain"], outs).id is None, "removed behind Pulumi's back"


def test_custom_domain_refuses_to_replace_an_address_record(
    endpoint: SandboxEndpoint, cf: CloudflareClient, project: dict[str, Any]
) -> None:
    name = project["project_name"]
    domain = f"{name}.example.com"
    zone = cf.find_zone(domain)
    assert zone is not None
    cf.create_dns_record(zone.id, type="A", name=domain, content="192.0.2.7")
    with pytest.raises(DnsConflictError, match=r"customDomain: .* already has an A record .*did not make"):
        CustomDomainProvider().create(domain_props(endpoint, name, domain))
    assert cf.list_domains(name) == [], "refused before the domain joined the project"


def test_a_hand_made_cname_is_refused_and_left_as_it_was(
    endpoint: SandboxEndpoint, cf: CloudflareClient, project: dict[str, Any]
) -> None:
    name = project["project_name"]
    domain = f"{name}.example.com"
    zone = cf.find_zone(domain)
    assert zone is not None
    mine = cf.create_dns_record(zone.id, type="CNAME", name=domain, content="old.example.net")
    with pytest.raises(DnsConflictError, match=r"customDomain: .* CNAME record .*did not make"):
        CustomDomainProvider().create(domain_props(endpoint, name, domain))
    assert cf.get_dns_record(zone.id, mine.id) == mine, "never patched"
    assert cf.list_domains(name) == []


def test_domain_diff_replaces_on_a_new_domain_and_deletes_first_on_a_new_project() -> None:
    olds = {"account_id": "a", "project_name": "p", "domain": "x.example.com", "api_url": "u", "target": "t"}
    provider = CustomDomainProvider()
    assert provider.diff("x", olds, {**olds, "domain": "y.example.com"}).delete_before_replace is False
    moved = provider.diff("x", olds, {**olds, "project_name": "q"})
    assert moved.replaces == ["project_name"]
    assert moved.delete_before_replace is True


def test_cname_target_drops_scheme_and_port() -> None:
    assert cname_target("shop.pages.localhost:8787") == "shop.pages.localhost"
    assert cname_target("https://shop.pages.dev") == "shop.pages.dev"
    assert cname_target("Shop.Pages.Dev.") == "shop.pages.dev"
    assert domain_provider.POLL_SECONDS < 1


def worker_site(root: Path, version: str) -> Path:
    make_site(root, "static half")
    (root / "_worker.js").mkdir(exist_ok=True)
    (root / "_worker.js" / "index.js").write_text('export { default } from "./api.js";')
    (root / "_worker.js" / "api.js").write_text(
        f"export default {{ fetch: () => new Response('{version}') }};"
    )
    (root / "_routes.json").write_text('{"version": 1, "include": ["/api/*"]}')
    return root


def worker_props(endpoint: SandboxEndpoint, root: Path, **changes: Any) -> dict[str, Any]:
    bundle = read_worker(root)
    assert bundle is not None
    server = {"worker": bundle.digest, "compatibility": {"date": "2025-09-01", "flags": ["nodejs_compat"]}}
    return props(endpoint, root, **{**server, **changes})


def test_a_server_half_is_deployed_with_its_compatibility_and_only_its_change_redeploys(
    endpoint: SandboxEndpoint, cf: CloudflareClient, tmp_path: Path
) -> None:
    provider = PagesProjectProvider()
    root = worker_site(tmp_path / "out", "v1")
    olds = provider.create(worker_props(endpoint, root)).outs
    assert olds is not None
    name = olds["project_name"]
    assert cf.get_project(name).compatibility == Compatibility("2025-09-01", ("nodejs_compat",))
    assert set(olds["manifest"]) == {"/index.html", "/assets/app.css", "/assets/app.js"}, "no worker asset"

    same = worker_props(endpoint, root, project_name=name)
    assert provider.diff(name, olds, same).changes is False, "an unchanged bundle makes no deployment"

    (root / "_worker.js" / "api.js").write_text("export default { fetch: () => new Response('v2') };")
    news = worker_props(endpoint, root, project_name=name)
    assert news["worker"] != olds["worker"]
    assert news["manifest"] == olds["manifest"], "a route change changes only the bundle's digest"
    assert provider.diff(name, olds, news).changes is True
    outs = provider.update(name, olds, news).outs
    assert outs is not None
    assert outs["uploaded_files"] == 0, "assets already uploaded are not sent again"
    assert outs["deployment_id"] != olds["deployment_id"]

    flags = {"date": "2025-09-01", "flags": ["nodejs_compat", "nodejs_compat_populate_process_env"]}
    newer = worker_props(endpoint, root, project_name=name, compatibility=flags)
    assert provider.diff(name, outs, newer).changes is True
    latest = provider.update(name, outs, newer).outs
    assert latest is not None
    assert latest["deployment_id"] != outs["deployment_id"], "new settings take effect in a new deployment"
    assert cf.get_project(name).compatibility == Compatibility("2025-09-01", tuple(flags["flags"]))


def test_a_bundle_changed_after_the_program_read_it_is_refused(
    endpoint: SandboxEndpoint, tmp_path: Path
) -> None:
    root = worker_site(tmp_path / "out", "v1")
    inputs = worker_props(endpoint, root)
    (root / "_worker.js" / "api.js").write_text("export default {};")
    with pytest.raises(BuildChangedError, match="changed while deploying"):
        PagesProjectProvider().create(inputs)
