"""App under Pulumi mocks: which children a spec makes, what they get, and that secrets stay secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.targets import Targets, VendorTarget
from tests.unit.pulumi_mocks import RecordingMocks

# How a secret value looks in a resource's registered inputs.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"


class Mocks(RecordingMocks):
    def outputs_of(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        inputs = args.inputs
        if "group" in inputs:  # Turso database
            outputs.update(
                hostname="db-o.turso.io", url="libsql://db-o.turso.io", auth_token="db-token", db_id="1"
            )
        elif "region_id" in inputs:  # Neon project
            outputs.update(connection_uri="postgresql://r:pw@h/db", host="h", project_id="p", branch_id="b")
        elif "build_dir" in inputs:  # Pages project
            outputs.update(subdomain=f"{inputs['project_name']}.pages.dev", url="https://x.pages.dev")
            outputs.update(deployment_id="d1", deployment_url="https://d1.x.pages.dev", deployment_ids=["d1"])
            outputs.update(uploaded_files=1, project_id="pid")
        elif "bytes" in inputs:  # generated secret
            outputs.update(value="generated")
        elif "data_path" in inputs:  # preview data
            outputs.update(summary="ok", rows=0, tables={})
        elif "schema_sha256" in inputs:  # schema
            outputs.update(summary="ok", transformed_schema="schema", tables=0, indexes=0, applied=[])
        return f"{args.name}-id", outputs


def targets(sandbox: bool = True) -> Targets:
    return Targets(
        {
            "turso": VendorTarget("turso", "http://127.0.0.1:8787", "sandbox", "turso-token", sandbox),
            "neon": VendorTarget("neon", "http://127.0.0.1:8787/api/v2", "", "neon-key", sandbox),
            "cloudflare": VendorTarget(
                "cloudflare", "http://127.0.0.1:8787/client/v4", "acct", "cf-token", sandbox
            ),
        }
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("hi")
    return tmp_path


def by_type(mocks: Mocks, token: str) -> list[pulumi.runtime.MockResourceArgs]:
    return [r for r in mocks.created if r.typ == token]


@pulumi.runtime.test
def test_web_app_with_domain_makes_the_whole_tree(mocks: Mocks, site: Path) -> Any:
    from components.app import App
    from components.spec import AppSpec

    spec = AppSpec.parse(
        {
            "id": "shop",
            "web": {"buildDir": str(site), "env": {"MODE": "x"}, "secretEnv": {"API_KEY": "k-123"}},
            "customDomain": "shop.example.com",
        }
    )
    app = App(spec, targets())

    def check(_: Any) -> None:
        types = {r.typ for r in mocks.created}
        assert {
            "oneclick:app:App",
            "pulumi-python:dynamic/turso:Database",
            "pulumi-python:dynamic/app:GeneratedSecret",
            "pulumi-python:dynamic/cloudflare:PagesProject",
            "pulumi-python:dynamic/cloudflare:CustomDomain",
        } == types, "App is the one component: every other resource is its direct child"
        pages = next(r for r in mocks.created if "build_dir" in r.inputs)
        assert pages.inputs["env_vars"] == {"MODE": "x", "NEXTAUTH_URL": "https://shop.example.com"}
        secret_env = pages.inputs["secret_env_vars"]
        assert secret_env.get(SECRET_SIG) == SECRET_VALUE_SIG, "the whole map is a secret"
        assert set(secret_env["value"]) == {
            "TURSO_DATABASE_URL",
            "TURSO_AUTH_TOKEN",
            "NEXTAUTH_SECRET",
            "API_KEY",
        }
        domain = next(r for r in mocks.created if "domain" in r.inputs and "target" in r.inputs)
        assert domain.inputs["domain"] == "shop.example.com"

    assert app.pages is not None
    assert app.domain is not None
    return pulumi.Output.all(app.pages.url, app.database.url, app.domain.status).apply(check)


@pulumi.runtime.test
def test_secret_env_and_database_credentials_are_secret_outputs(mocks: Mocks, site: Path) -> Any:
    from components.app import App
    from components.spec import AppSpec

    spec = AppSpec.parse({"id": "shop", "web": {"buildDir": str(site), "secretEnv": {"API_KEY": "k-123"}}})
    app = App(spec, targets())
    assert app.database.auth_token is not None
    return pulumi.Output.all(
        pulumi.Output.is_secret(app.database.auth_token),
        pulumi.Output.is_secret(app.database.env["TURSO_AUTH_TOKEN"]),  # type: ignore[arg-type]
    ).apply(lambda flags: assert_all(flags))


def assert_all(flags: list[bool]) -> None:
    assert all(flags), flags


@pulumi.runtime.test
def test_sandbox_site_url_carries_the_port(mocks: Mocks, site: Path) -> None:
    from components.app import site_url
    from components.spec import AppSpec

    spec = AppSpec.parse({"id": "shop", "web": {"buildDir": str(site)}})
    assert site_url(spec, targets().get("cloudflare")) == "http://shop.pages.localhost:8787"
    assert site_url(spec, targets(sandbox=False).get("cloudflare")) == "https://shop.pages.dev"


@pulumi.runtime.test
def test_neon_database_only_app(mocks: Mocks) -> Any:
    from components.app import App
    from components.spec import AppSpec

    app = App(
        AppSpec.parse({"id": "pg-app", "database": {"provider": "neon", "region": "aws-eu-west-1"}}),
        targets(),
    )

    def check(values: list[Any]) -> None:
        uri, secret = values
        assert uri == "postgresql://r:pw@h/db"
        assert secret
        neon = next(r for r in mocks.created if "region_id" in r.inputs)
        assert neon.inputs["region_id"] == "aws-eu-west-1"
        assert not [r for r in mocks.created if "build_dir" in r.inputs], "no web section: no site"

    return pulumi.Output.all(app.database.url, pulumi.Output.is_secret(app.database.url)).apply(check)


@pulumi.runtime.test
def test_byo_url_is_secret_and_schema_and_data_follow_the_database(mocks: Mocks) -> Any:
    from components.app import App
    from components.spec import AppSpec

    shop = Path(__file__).resolve().parents[2] / "examples" / "shop" / "prisma"
    spec = AppSpec.parse(
        {
            "id": "mine",
            "database": {
                "provider": "byo",
                "url": "postgresql://me:pw-777@db.example.com/app",
                "prismaSchema": str(shop / "schema.prisma"),
                "previewData": str(shop / "preview.sql"),
            },
        }
    )
    app = App(spec, targets())
    assert app.schema is not None
    assert app.preview_data is not None

    def check(values: list[Any]) -> None:
        (secret,) = values
        assert secret
        types = [r.typ for r in mocks.created]
        assert "pulumi-python:dynamic/database:Schema" in types
        assert "pulumi-python:dynamic/database:PreviewData" in types

    return pulumi.Output.all(pulumi.Output.is_secret(app.database.url), app.preview_data.summary).apply(
        lambda values: check(values[:1])
    )


def source_spec(tmp_path: Path, **web: Any) -> Any:
    from components.spec import AppSpec

    source = tmp_path / "shop"
    source.mkdir()
    (source / "package.json").write_text("{}")
    return AppSpec.parse({"id": "shop", "web": {"source": str(source), "framework": "nextjs", **web}})


def built_output(tmp_path: Path) -> Path:
    out = tmp_path / "built"
    (out / "_worker.js").mkdir(parents=True)
    (out / "_worker.js" / "index.js").write_text("export default {}")
    (out / "index.html").write_text("home")
    return out


@pulumi.runtime.test
def test_a_source_app_deploys_its_cached_build_with_the_server_halfs_settings(
    mocks: Mocks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    from components import site_build
    from components.app import App
    from components.cloudflare.worker_bundle import read_worker

    out = built_output(tmp_path)
    asked: list[Any] = []

    def build_web(spec: Any, on_line: Any = None) -> site_build.BuiltSite:
        asked.append(spec)
        return site_build.BuiltSite(out, "k" * 64, cached=True, seconds=0.01)

    monkeypatch.setattr(site_build, "build_web", build_web)
    spec = source_spec(tmp_path, compatibilityFlags=["nodejs_compat", "url_standard"])
    app = App(spec, targets())
    assert [s.id for s in asked] == ["shop"], "the program asks for the (cached) build once"
    assert app.health_path == "/api/health", "a server half is checked through its health route"
    bundle = read_worker(out)
    assert bundle is not None

    def check(_: Any) -> None:
        pages = next(r for r in mocks.created if "build_dir" in r.inputs)
        assert pages.inputs["build_dir"] == str(out)
        assert pages.inputs["worker"] == bundle.digest
        assert pages.inputs["compatibility"] == {
            "date": "2025-09-01",
            "flags": ["nodejs_compat", "url_standard"],
        }

    assert app.pages is not None
    return app.pages.url.apply(check)


@pulumi.runtime.test
def test_a_static_build_has_no_runtime_inputs_and_no_app_health_path(mocks: Mocks, site: Path) -> Any:
    from components.app import App
    from components.spec import AppSpec

    app = App(AppSpec.parse({"id": "shop", "web": {"buildDir": str(site)}}), targets())
    assert app.health_path is None

    def check(_: Any) -> None:
        pages = next(r for r in mocks.created if "build_dir" in r.inputs)
        assert "worker" not in pages.inputs
        assert "compatibility" not in pages.inputs, "a static site's inputs stay as they always were"

    assert app.pages is not None
    return app.pages.url.apply(check)


def test_a_failed_build_stops_the_program_with_the_builds_lines(
    mocks: Mocks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components import site_build
    from components.app import App

    def build_web(spec: Any, on_line: Any = None) -> site_build.BuiltSite:
        raise site_build.BuildFailed("next build failed:\nType error: 'x' is not assignable")

    monkeypatch.setattr(site_build, "build_web", build_web)
    with pytest.raises(pulumi.RunError, match=r"web\.source: the build failed(.|\n)*Type error"):
        App(source_spec(tmp_path), targets())
    assert not [r for r in mocks.created if "build_dir" in r.inputs]


def test_the_neon_sql_endpoint_is_named_only_for_the_sandbox(site: Path) -> None:
    from components.app import neon_sql_endpoint
    from components.spec import AppSpec

    neon = AppSpec.parse({"id": "shop", "database": {"provider": "neon"}, "web": {"buildDir": str(site)}})
    assert neon_sql_endpoint(neon, targets()) == "http://localhost:8787/sql"
    assert neon_sql_endpoint(neon, targets(sandbox=False)) is None, "real Neon derives it from the host"
    turso = AppSpec.parse({"id": "shop", "web": {"buildDir": str(site)}})
    assert neon_sql_endpoint(turso, targets()) is None
