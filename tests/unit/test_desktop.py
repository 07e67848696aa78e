"""Desktop: the generated Tauri project (config, template pins, icons, embedded web build), the spec's
checks before anything runs, the native-run steps, and DesktopBuild's tree under mocks."""

from __future__ import annotations

import base64
import io
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pulumi
import pytest
from PIL import Image

from components.desktop import assets
from components.desktop.build import BUILD_COMMAND, status_text
from components.desktop.project import TEMPLATE, DesktopProjectError, DesktopProjectParams, desktop_project
from components.desktop.tauri_build import parse_result
from components.icons import IconError
from components.mobile.credentials import CredentialError
from components.native_builds import check_updater_pubkey, desktop_params, store_credentials
from components.native_run import NativeTargetError, run_native
from components.project_files import hashes
from components.spec import AppSpec
from tests.unit.pulumi_mocks import RecordingMocks

RAW_KEY = b"Ed" + bytes(range(40))
PUBKEY = base64.b64encode(
    b"untrusted comment: minisign public key: 0001020304050607\n" + base64.b64encode(RAW_KEY) + b"\n"
).decode()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "assets").mkdir(parents=True)
    (out / "index.html").write_text("<!doctype html><title>Shop</title>")
    (out / "assets" / "app.js").write_text("console.log(1)")
    (out / "_worker.js").write_text("export default {}")
    (out / "_routes.json").write_text("{}")
    return out


def spec(site: Path, **desktop: Any) -> AppSpec:
    return AppSpec.parse(
        {
            "id": "shop",
            "owner": "alice",
            "web": {"buildDir": str(site)},
            "desktop": {"platforms": ["linux"], **desktop},
        }
    )


def params(**kw: Any) -> DesktopProjectParams:
    base: dict[str, Any] = {
        "identifier": "com.alice.shop",
        "product_name": "Shop",
        "binary_name": "shop",
        "version": "1.2.3",
        "url": "https://shop.pages.dev",
    }
    return DesktopProjectParams(**{**base, **kw})


def test_tauri_conf_carries_identity_window_and_url() -> None:
    files = desktop_project(params(width=1000, height=700))
    conf = json.loads(files["src-tauri/tauri.conf.json"])
    assert conf["identifier"] == "com.alice.shop"
    assert conf["productName"] == "Shop"
    assert conf["mainBinaryName"] == "shop"
    assert conf["version"] == "1.2.3"
    assert conf["build"] == {"frontendDist": "https://shop.pages.dev"}
    [window] = conf["app"]["windows"]
    assert window["url"] == "https://shop.pages.dev"
    assert (window["width"], window["height"], window["title"]) == (1000, 700, "Shop")
    assert conf["bundle"]["icon"] == [
        "icons/32x32.png",
        "icons/128x128.png",
        "icons/128x128@2x.png",
        "icons/icon.icns",
        "icons/icon.ico",
    ]
    assert "plugins" not in conf, "no updater unless the spec configures one"
    assert not any(path.startswith("dist/") for path in files)


def test_equal_params_give_equal_bytes_and_a_version_bump_changes_only_the_config() -> None:
    one, same, bumped = (
        desktop_project(params()),
        desktop_project(params()),
        desktop_project(params(version="1.2.4")),
    )
    assert hashes(one) == hashes(same)
    changed = {path for path in one if one[path] != bumped[path]}
    assert changed == {"src-tauri/tauri.conf.json"}


def test_static_frontend_embeds_the_web_build_without_pages_files(site: Path) -> None:
    files = desktop_project(params(frontend="static", static_dir=str(site)))
    conf = json.loads(files["src-tauri/tauri.conf.json"])
    assert conf["build"]["frontendDist"] == "../dist"
    assert conf["app"]["windows"][0]["url"] == "index.html"
    assert sorted(p for p in files if p.startswith("dist/")) == ["dist/assets/app.js", "dist/index.html"]
    (site / "index.html").unlink()
    with pytest.raises(DesktopProjectError, match=r"desktop\.frontend: static needs an index\.html"):
        desktop_project(params(frontend="static", static_dir=str(site)))


def test_template_pins_exact_crates_that_the_committed_lock_holds() -> None:
    cargo = tomllib.loads((TEMPLATE / "src-tauri" / "Cargo.toml").read_text())
    lock = tomllib.loads((TEMPLATE / "src-tauri" / "Cargo.lock").read_text())
    locked = {(p["name"], p["version"]) for p in lock["package"]}
    deps = {**cargo["dependencies"], **cargo["build-dependencies"]}
    for name, dep in deps.items():
        version = dep["version"]
        assert re.fullmatch(r"=\d+\.\d+\.\d+", version), f"{name} is pinned exactly"
        assert (name, version[1:]) in locked, f"{name} {version} is in Cargo.lock"
    assert cargo["features"]["updater"] == ["dep:tauri-plugin-updater"]


def test_every_icon_exists_with_its_dimensions(tmp_path: Path) -> None:
    source = tmp_path / "icon.png"
    Image.new("RGBA", (1024, 1024), "#00aa00").save(source)
    files = assets.desktop_icons(source)
    for name, size in assets.PNG_ICONS.items():
        with Image.open(io.BytesIO(files[f"src-tauri/icons/{name}"])) as image:
            assert image.size == (size, size), name
            assert image.getpixel((size // 2, size // 2))[:3] == (0, 170, 0)
    with Image.open(io.BytesIO(files["src-tauri/icons/icon.ico"])) as ico:
        assert {(16, 16), (32, 32), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(io.BytesIO(files["src-tauri/icons/icon.icns"])) as icns:
        assert icns.size == (1024, 1024)
    small = tmp_path / "small.png"
    Image.new("RGBA", (100, 100)).save(small)
    with pytest.raises(IconError, match=r"desktop\.icon: small\.png is 100px wide"):
        assets.desktop_icons(small)


def test_updater_settings_carry_the_public_key(site: Path) -> None:
    p = desktop_params(
        spec(site, updaterEndpoint="https://example.com/latest.json", updaterPubkey=PUBKEY), "https://x"
    )
    assert p.updater
    conf = json.loads(desktop_project(p)["src-tauri/tauri.conf.json"])
    assert conf["plugins"]["updater"] == {"pubkey": PUBKEY, "endpoints": ["https://example.com/latest.json"]}
    with pytest.raises(DesktopProjectError, match=r"desktop\.updaterPubkey: not a Tauri updater public key"):
        check_updater_pubkey(base64.b64encode(b"hello").decode())


def test_desktop_params_from_the_spec(site: Path) -> None:
    (site / "package.json").write_text("{}")
    p = desktop_params(spec(site, version="2.0.0", productName="Shop Desk"), "https://shop.pages.dev")
    assert (p.identifier, p.product_name, p.binary_name, p.version) == (
        "com.alice.shop",
        "Shop Desk",
        "shop",
        "2.0.0",
    )
    bare = AppSpec.parse(
        {
            "id": "shop",
            "web": {"source": str(site), "framework": "nextjs"},
            "desktop": {"platforms": ["linux"], "frontend": "static"},
        }
    )
    with pytest.raises(DesktopProjectError, match=r"desktop\.frontend: static embeds web\.buildDir"):
        desktop_params(bare, "https://x")


@pytest.mark.parametrize("bad", ["shop", "com.example.app", "com.1x.shop", "com.example.class"])
def test_bad_identifiers_name_the_field(site: Path, bad: str) -> None:
    with pytest.raises(Exception, match=r"desktop\.identifier"):
        spec(site, identifier=bad)


def test_native_run_desktop_writes_the_project_and_skips_builds_for_other_platforms(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONECLICK_STATE_DIR", str(tmp_path / "state"))
    steps: list[tuple[str, str, str]] = []
    result = run_native(
        spec(site).model_copy(
            update={"desktop": spec(site).desktop.model_copy(update={"platforms": ["macos", "windows"]})}
        ),  # type: ignore[union-attr]
        "desktop",
        "https://shop.pages.dev",
        on_step=lambda key, _title, state, detail: steps.append((key, state, detail)),
    )
    project = Path(result.project_dir)
    assert (
        json.loads((project / "src-tauri" / "tauri.conf.json").read_text())["identifier"] == "com.alice.shop"
    )
    assert [(k, s) for k, s, _ in steps] == [
        ("project", "running"),
        ("project", "done"),
        ("build", "skipped"),
        ("submit", "skipped"),
    ]
    assert "desktop-release.yml" in steps[2][2]
    assert result.artifacts == []


def test_native_run_refuses_a_target_the_spec_lacks(site: Path) -> None:
    with pytest.raises(NativeTargetError, match=r"mobile\.platforms"):
        run_native(spec(site), "ios", "https://x")


def test_store_credentials_are_checked_for_shape_by_variable() -> None:
    with pytest.raises(CredentialError, match="EXPO_TOKEN is not an Expo access token"):
        store_credentials({"EXPO_TOKEN": "short"}, ["ios"])
    with pytest.raises(CredentialError, match="issuer id, private key missing"):
        store_credentials({"ASC_KEY_ID": "2X9R4HXF34"}, ["ios"])
    with pytest.raises(CredentialError, match="Play service account key is not JSON"):
        store_credentials({"PLAY_SERVICE_ACCOUNT_JSON": "{nope"}, ["android"])
    assert store_credentials({}, ["ios"]).expo_token is None
    assert "a" * 40 not in repr(store_credentials({"EXPO_TOKEN": "a" * 40}, ["ios"]))


def test_status_and_parse_result() -> None:
    assert status_text(["linux", "macos", "windows"], True) == (
        "linux: .deb and .rpm built here; macos, windows: built in CI (templates/ci/desktop-release.yml)"
    )
    printed = json.dumps({"artifacts": [{"kind": "deb", "path": "/a.deb", "size": 1, "sha256": "x"}]})
    assert parse_result(f"noise\n{printed}\n") == [
        {"kind": "deb", "path": "/a.deb", "size": 1, "sha256": "x"}
    ]
    assert parse_result("") == parse_result("not json") == []


class Mocks(RecordingMocks):
    def outputs_of(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outs = dict(args.inputs)
        if "create" in outs:
            artifact = {"kind": "deb", "path": "/p/shop_1.2.3_amd64.deb", "size": 10, "sha256": "ab"}
            outs.update(stdout=json.dumps({"artifacts": [artifact]}), stderr="")
        return f"{args.name}-id", outs


@pulumi.runtime.test
def test_desktop_build_tree_triggers_on_the_project_hashes(mocks: Mocks, tmp_path: Path) -> Any:
    from components.desktop.build import DesktopBuild, DesktopBuildArgs

    build = DesktopBuild("shop-desktop", DesktopBuildArgs(params(), str(tmp_path / "p"), str(tmp_path / "a")))

    def check(values: list[Any]) -> None:
        status, artifacts = values
        assert status == "linux: .deb and .rpm built here"
        assert artifacts[0]["path"].endswith(".deb")
        [files] = [r for r in mocks.created if r.typ == "pulumi-python:dynamic/app:ProjectFiles"]
        [command] = [r for r in mocks.created if "create" in r.inputs]
        assert command.inputs["create"] == BUILD_COMMAND
        assert command.inputs["triggers"] == [files.inputs["hashes"]]
        env = command.inputs["environment"]["value"]
        assert env["CARGO_FEATURES"] == ""
        assert "com.alice.shop" not in command.inputs["create"], "spec values only in the environment"

    return pulumi.Output.all(build.status, build.artifacts).apply(check)


def test_the_provider_makes_the_planned_files_from_json_numbers() -> None:
    # A dynamic provider gets its inputs back from JSON: 800 arrives as 800.0.
    from components.project_files import generator

    planned = params(width=800, height=600).to_dict()
    as_json = {**planned, "width": 800.0, "height": 600.0}
    assert hashes(generator("desktop")(as_json)) == hashes(generator("desktop")(planned))
