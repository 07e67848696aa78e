"""Mobile: the generated Capacitor project, every icon size, credential checks, and MobileBuild's tree."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from components.icons import IconError
from components.mobile import assets
from components.mobile.build import eas_build_command, eas_submit_command
from components.mobile.credentials import CredentialError, app_store_connect_key, play_service_account
from components.mobile.project import CAPACITOR_VERSION, MobileProjectParams, mobile_project
from components.project_files import ProjectFilesProvider, hashes
from tests.unit.pulumi_mocks import RecordingMocks


@pytest.fixture
def icon(tmp_path: Path) -> Path:
    path = tmp_path / "icon.png"
    Image.new("RGBA", (1024, 1024), "#ff0000").save(path)
    return path


def params(icon: Path | None = None, **kw: Any) -> MobileProjectParams:
    base: dict[str, Any] = {
        "app_id": "com.alice.shop",
        "app_name": "Shop",
        "server_url": "https://shop.pages.dev",
        "platforms": ["android", "ios"],
        "icon": str(icon) if icon else None,
    }
    return MobileProjectParams(**{**base, **kw})


def test_capacitor_config_and_package_carry_ids_and_url(icon: Path) -> None:
    files = mobile_project(params(icon, builder="eas"))
    config = json.loads(files["capacitor.config.json"])
    assert config["appId"] == "com.alice.shop"
    assert config["appName"] == "Shop"
    assert config["webDir"] == "www"
    assert config["server"] == {"url": "https://shop.pages.dev", "androidScheme": "https", "cleartext": False}
    package = json.loads(files["package.json"])
    assert package["devDependencies"] == {"@capacitor/cli": CAPACITOR_VERSION}
    assert set(package["dependencies"]) == {"@capacitor/core", "@capacitor/ios", "@capacitor/android"}
    eas = json.loads(files["eas.json"])
    assert eas["build"]["production"]["android"]["buildType"] == "app-bundle"
    fastfile = files["fastlane/Fastfile"].decode()
    assert 'package_name: "com.alice.shop"' in fastfile
    assert "upload_to_testflight" in fastfile
    assert 'track: "internal"' in fastfile
    assert "eas.json" not in mobile_project(params(icon, builder="fastlane"))


def test_every_icon_and_splash_has_its_size(icon: Path) -> None:
    files = mobile_project(params(icon))

    def size(path: str) -> tuple[int, int]:
        with Image.open(io.BytesIO(files[path])) as image:
            return image.size

    contents = json.loads(files[f"{assets.IOS_ICONSET}/Contents.json"])
    assert len(contents["images"]) == len(assets.IOS_ICONS)
    pixels = set()
    for entry in contents["images"]:
        points = float(entry["size"].split("x")[0])
        expected = round(points * int(entry["scale"][0]))
        assert size(f"{assets.IOS_ICONSET}/{entry['filename']}") == (expected, expected)
        pixels.add(expected)
    assert {20, 29, 40, 58, 60, 76, 80, 87, 120, 152, 167, 180, 1024} <= pixels
    marketing = files[f"{assets.IOS_ICONSET}/AppIcon-1024x1024@1x.png"]
    assert Image.open(io.BytesIO(marketing)).mode == "RGB", "App Store icons may not have alpha"
    for density, px in {"mdpi": 48, "hdpi": 72, "xhdpi": 96, "xxhdpi": 144, "xxxhdpi": 192}.items():
        assert size(f"{assets.ANDROID_RES}/mipmap-{density}/ic_launcher.png") == (px, px)
        assert size(f"{assets.ANDROID_RES}/mipmap-{density}/ic_launcher_round.png") == (px, px)
        fg = round(px * 108 / 48)
        assert size(f"{assets.ANDROID_RES}/mipmap-{density}/ic_launcher_foreground.png") == (fg, fg)
        w, h = assets.ANDROID_SPLASH[density]
        assert size(f"{assets.ANDROID_RES}/drawable-port-{density}/splash.png") == (w, h)
        assert size(f"{assets.ANDROID_RES}/drawable-land-{density}/splash.png") == (h, w)
    assert size(f"{assets.IOS_SPLASH}/splash-2732x2732.png") == (2732, 2732)


def test_generation_is_deterministic_and_platform_scoped(icon: Path) -> None:
    assert hashes(mobile_project(params(icon))) == hashes(mobile_project(params(icon)))
    android = mobile_project(params(None, platforms=["android"]))
    assert not any(path.startswith("resources/ios") for path in android)


def test_bad_icons_are_refused(tmp_path: Path) -> None:
    wide = tmp_path / "wide.png"
    Image.new("RGBA", (1024, 512)).save(wide)
    with pytest.raises(IconError, match="give a square image"):
        mobile_project(params(wide))
    (tmp_path / "junk.png").write_text("not png")
    with pytest.raises(IconError, match="not an image"):
        mobile_project(params(tmp_path / "junk.png"))


def test_project_files_writes_updates_and_deletes(tmp_path: Path, icon: Path) -> None:
    provider = ProjectFilesProvider()
    props = {"kind": "mobile", "params": params(icon).to_dict(), "out_dir": str(tmp_path / "m")}
    props["hashes"] = hashes(mobile_project(params(icon)))
    provider.create(props)
    assert json.loads((tmp_path / "m" / "capacitor.config.json").read_text())["appId"] == "com.alice.shop"
    assert not provider.diff("x", props, dict(props)).changes
    news = {**props, "params": params(icon, version="1.0.1").to_dict()}
    news["hashes"] = hashes(mobile_project(params(icon, version="1.0.1")))
    assert provider.diff("x", props, news).changes
    provider.update("x", props, news)
    assert json.loads((tmp_path / "m" / "package.json").read_text())["version"] == "1.0.1"
    (tmp_path / "m" / "package.json").write_text("{}")
    assert provider.read("x", news).outs["hashes"] != news["hashes"]
    provider.delete("x", news)
    assert not (tmp_path / "m").exists()


def p8() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


ISSUER = "57246542-96fe-1a63-e053-0824d011072a"


def test_app_store_connect_key_shape() -> None:
    pem = p8()
    key = app_store_connect_key("2X9R4HXF34", ISSUER, pem)
    assert key.key_id == "2X9R4HXF34"
    assert pem.strip() not in repr(key)
    with pytest.raises(CredentialError, match="key id, private key missing"):
        app_store_connect_key(None, ISSUER, "")
    with pytest.raises(CredentialError, match="10 uppercase"):
        app_store_connect_key("short", ISSUER, pem)
    with pytest.raises(CredentialError, match="must be a UUID"):
        app_store_connect_key("2X9R4HXF34", "issuer", pem)
    broken = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----"
    with pytest.raises(CredentialError) as err:
        app_store_connect_key("2X9R4HXF34", ISSUER, broken)
    assert "c2VjcmV0LWJ5dGVz" not in str(err.value)


def test_play_service_account_shape() -> None:
    good = {"type": "service_account", "client_email": "ci@proj.iam.gserviceaccount.com", "private_key": p8()}
    assert play_service_account(json.dumps(good)).client_email == good["client_email"]
    cases = {
        "": "missing",
        "{not json": "is not JSON",
        json.dumps({**good, "type": "authorized_user"}): "service_account",
        json.dumps({**good, "client_email": "me@example.com"}): "client_email",
        json.dumps({**good, "private_key": "hunter2-secret"}): "no PEM private_key",
    }
    for text, message in cases.items():
        with pytest.raises(CredentialError, match=message) as err:
            play_service_account(text)
        assert "hunter2" not in str(err.value)


def test_eas_command_lines_are_exact() -> None:
    assert eas_build_command(["android", "ios"]) == (
        "npx --yes eas-cli@16 build --platform all --profile production --non-interactive --no-wait --json"
    )
    assert "--platform ios " in eas_build_command(["ios"])
    submit = eas_submit_command(["android"])
    assert "submit --platform android --profile production --latest --non-interactive --no-wait" in submit
    assert "trap 'rm -f asc-api-key.p8 play-service-account.json' EXIT" in submit


class Mocks(RecordingMocks):
    def outputs_of(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outs = dict(args.inputs)
        if "create" in outs:
            outs.update(stdout='[{"id": "b-1", "platform": "ANDROID"}, {"id": "b-2"}]', stderr="")
        return f"{args.name}-id", outs


@pulumi.runtime.test
def test_mobile_build_is_generate_only_by_default(mocks: Mocks, tmp_path: Path) -> Any:
    from components.mobile.build import MobileBuild, MobileBuildArgs

    build = MobileBuild("shop-mobile", MobileBuildArgs(params(None), str(tmp_path / "m")))

    def check(values: list[Any]) -> None:
        status, ids = values
        assert status.startswith("generated; native builds off")
        assert ids == []
        assert [r.typ for r in mocks.created if "create" in r.inputs] == []

    return pulumi.Output.all(build.status, build.build_ids).apply(check)


@pulumi.runtime.test
def test_mobile_build_without_expo_token_syncs_and_skips(mocks: Mocks, tmp_path: Path) -> Any:
    from components.mobile.build import MobileBuild, MobileBuildArgs

    args = MobileBuildArgs(params(None, builder="eas"), str(tmp_path / "m"), run_builds=True)
    build = MobileBuild("shop-mobile", args)

    def check(values: list[Any]) -> None:
        status = values[0]
        assert status == "synced; skipped eas build: no EXPO_TOKEN"
        commands = [r for r in mocks.created if "create" in r.inputs]
        assert len(commands) == 1
        env = commands[0].inputs["environment"]
        assert env["4dabf18193072939515e22adb298388d"], "every environment is a secret input"
        assert env["value"] == {"PLATFORMS": "android ios"}

    assert build.sync is not None
    return pulumi.Output.all(build.status, build.sync.stdout).apply(check)


@pulumi.runtime.test
def test_mobile_build_with_token_queues_eas_with_a_secret_token(mocks: Mocks, tmp_path: Path) -> Any:
    from components.mobile.build import MobileBuild, MobileBuildArgs

    args = MobileBuildArgs(
        params(None, builder="eas"), str(tmp_path / "m"), run_builds=True, expo_token="tok-9"
    )
    build = MobileBuild("shop-mobile", args)

    def check(values: list[Any]) -> None:
        status, ids = values
        assert status == "eas build queued"
        assert ids == ["b-1", "b-2"]
        eas = next(r for r in mocks.created if r.name == "shop-mobile-eas-build")
        assert eas.inputs["create"] == eas_build_command(["android", "ios"])
        env = eas.inputs["environment"]
        assert env["4dabf18193072939515e22adb298388d"], "the environment is registered as a secret"
        assert env["value"] == {"EXPO_TOKEN": "tok-9"}

    return pulumi.Output.all(build.status, build.build_ids).apply(check)
