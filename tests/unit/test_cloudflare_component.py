"""PagesProject and CustomDomain under Pulumi mocks: no engine, no network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from google.protobuf.json_format import MessageToDict
from pulumi.runtime import rpc

from components.cloudflare.domain import CustomDomain, CustomDomainArgs
from components.cloudflare.pages import PagesProject, PagesProjectArgs
from components.cloudflare.upload import build_manifest
from components.errors import SpecError
from tests.unit.pulumi_mocks import RecordingMocks
from tests.unit.pulumi_mocks import RecordingMonitor as Monitor

pytestmark = pytest.mark.usefixtures("monitor")


class Mocks(RecordingMocks):
    def outputs_of(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == PagesProject.TYPE:
            name = args.inputs["project_name"]
            outputs.update(
                project_id="p-1",
                subdomain=f"{name}.pages.dev",
                url=f"https://{name}.pages.dev",
                deployment_id="d-1",
                deployment_url=f"https://d1.{name}.pages.dev",
                deployment_ids=["d-1"],
                uploaded_files=len(args.inputs["manifest"]),
            )
            return name, outputs
        if args.typ == CustomDomain.TYPE:
            domain = args.inputs["domain"]
            outputs.update(
                url=f"https://{domain}",
                status="pending",
                verification_status="pending",
                ssl_status="pending",
                zone_id=None,
                dns_record_id=None,
                instructions=f"Create a CNAME record at your DNS provider: {domain} -> x",
            )
            return domain, outputs
        return f"{args.name}-id", outputs


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    root.mkdir()
    (root / "index.html").write_text("<h1>shop</h1>")
    (root / "app.js").write_text("1")
    (root / "_redirects").write_text("/old /new 301\n")
    return root


def pages_args(build_dir: Path, **changes: Any) -> PagesProjectArgs:
    values: dict[str, Any] = {
        "account_id": "acc",
        "project_name": "shop",
        "build_dir": str(build_dir),
        "env_vars": {"NEXTAUTH_URL": "https://shop.pages.dev"},
        "secret_env_vars": {"TURSO_AUTH_TOKEN": pulumi.Output.secret("db-token")},
        "api_url": "http://127.0.0.1:1/client/v4",
        "api_token": "cf-token",
        **changes,
    }
    return PagesProjectArgs(**values)


def registration(monitor: Monitor, type_: str) -> Any:
    return [r for r in monitor.requests if r.type == type_][-1]


@pulumi.runtime.test
def test_pages_outputs_and_the_manifest_computed_at_program_time(mocks: Mocks, build_dir: Path) -> Any:
    site = PagesProject("shop-site", pages_args(build_dir))

    def check(values: list[Any]) -> None:
        url, subdomain, deployment_ids, uploaded, project_name = values
        assert (url, subdomain) == ("https://shop.pages.dev", "shop.pages.dev")
        assert deployment_ids == ["d-1"]
        assert uploaded == 2
        assert project_name == "shop"
        dynamic = [r for r in mocks.created if r.typ == PagesProject.TYPE][-1]
        assert dynamic.inputs["manifest"] == build_manifest(build_dir)
        assert set(dynamic.inputs["config_files"]) == {"_redirects"}
        assert dynamic.inputs["production_branch"] == "main"
        assert [r.name for r in mocks.created if r.typ == PagesProject.TYPE] == ["shop-site"]
        assert [r.typ for r in mocks.created] == [PagesProject.TYPE], "one resource, no wrapper"

    return pulumi.Output.all(
        site.url, site.subdomain, site.deployment_ids, site.uploaded_files, site.project_name
    ).apply(check)


@pulumi.runtime.test
def test_secret_env_values_and_the_token_are_secret_in_the_registration(
    monitor: Monitor, build_dir: Path
) -> Any:
    site = PagesProject("secret-site", pages_args(build_dir))

    def check(_: Any) -> None:
        request = registration(monitor, PagesProject.TYPE)
        assert sorted(request.additionalSecretOutputs) == ["api_token", "secret_env_vars"]
        inputs = MessageToDict(request.object)
        assert rpc.is_rpc_secret(inputs["api_token"]), "the API token must reach the provider as a secret"
        assert rpc.is_rpc_secret(inputs["secret_env_vars"])
        assert not rpc.is_rpc_secret(inputs["env_vars"])
        assert "cf-token" not in str(inputs["env_vars"])

    return site.deployment_id.apply(check)


@pulumi.runtime.test
def test_domain_outputs_and_secret_token(monitor: Monitor) -> Any:
    domain = CustomDomain(
        "shop-domain",
        CustomDomainArgs(
            account_id="acc",
            project_name="shop",
            domain="shop.example.org",
            target=pulumi.Output.from_input("shop.pages.dev"),
            api_url="http://127.0.0.1:1/client/v4",
            api_token="cf-token",
            app_id="shop",
        ),
    )

    def check(values: list[Any]) -> None:
        url, status, instructions = values
        assert url == "https://shop.example.org"
        assert status == "pending"
        assert "shop.example.org" in instructions
        request = registration(monitor, CustomDomain.TYPE)
        assert list(request.additionalSecretOutputs) == ["api_token"]
        inputs = MessageToDict(request.object)
        assert rpc.is_rpc_secret(inputs["api_token"])
        assert inputs["target"] == "shop.pages.dev"
        assert inputs["app_id"] == "shop", "the owner the DNS record's mark names"

    return pulumi.Output.all(domain.url, domain.status, domain.instructions).apply(check)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"project_name": "Shop_Site"}, "web.project_name", "not a valid Pages project name"),
        ({"project_name": "-shop"}, "web.project_name", "not a valid Pages project name"),
        ({"env_vars": {"1BAD": "x"}}, "web.env", "1BAD: use letters"),
        ({"secret_env_vars": {"BAD-NAME": "x"}}, "web.secret_env", "BAD-NAME"),
        ({"secret_env_vars": {"NEXTAUTH_URL": "x"}}, "web.secret_env", "both plain and secret"),
        ({"account_id": ""}, "account_id", "CLOUDFLARE_ACCOUNT_ID"),
        ({"production_branch": " "}, "production_branch", "is empty"),
    ],
)
def test_invalid_pages_args_name_the_field(
    build_dir: Path, changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(SpecError) as error:
        pages_args(build_dir, **changes)
    assert any(f == field and message in m for f, m in error.value.problems), error.value.problems


def test_a_missing_or_empty_build_dir_is_refused_before_any_resource(mocks: Mocks, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"web\.build_dir: .*is not a directory"):
        PagesProject("none", pages_args(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match=r"web\.build_dir: .*holds no files"):
        PagesProject("empty", pages_args(tmp_path / "empty"))
    assert mocks.created == [], "refused before anything is registered"


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("Shop.Example.com", "not a domain name"),
        ("localhost", "not a domain name"),
        ("shop.pages.dev", "Pages or local name"),
    ],
)
def test_invalid_domain_names_the_field(domain: str, message: str) -> None:
    with pytest.raises(SpecError, match=rf"custom_domain: .*{message}"):
        CustomDomainArgs(
            account_id="acc",
            project_name="shop",
            domain=domain,
            target="shop.pages.dev",
            api_url="http://x",
            api_token="t",
            app_id="shop",
        )
