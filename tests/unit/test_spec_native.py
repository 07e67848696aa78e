"""AppSpec's mobile and desktop sections: defaults, bundle ids, and errors naming field and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.errors import SpecError
from components.spec import AppSpec, default_bundle_id


@pytest.fixture
def web(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.html").write_text("hi")
    return {"buildDir": str(tmp_path / "out")}


def parse(web: dict[str, Any], **sections: Any) -> AppSpec:
    return AppSpec.parse({"id": "shop-1", "owner": "Alice.Smith@example.com", "web": web, **sections})


def test_defaults_give_sanitised_bundle_ids(web: dict[str, Any]) -> None:
    spec = parse(web, mobile={"platforms": ["android", "ios", "ios"]}, desktop={"platforms": ["linux"]})
    assert spec.mobile is not None
    assert spec.mobile.platforms == ["android", "ios"]
    assert spec.mobile.builder == "fastlane"
    assert not spec.mobile.build
    assert spec.mobile_app_id == "com.alicesmithexamplecom.shop1"
    assert spec.desktop_identifier == spec.mobile_app_id


@pytest.mark.parametrize(
    ("owner", "app", "expected"),
    [
        ("local", "app-123", "com.local.app123"),
        ("42", "9lives", "com.u42.app9lives"),
        ("x", "new", "com.x.newapp"),
    ],
)
def test_default_bundle_id_is_valid_everywhere(owner: str, app: str, expected: str) -> None:
    assert default_bundle_id(owner, app) == expected


@pytest.mark.parametrize(
    "bad", ["myapp", "com.my-app.x", "com.1acme.x", "com..x", "com.acme.new", "com.acme_x.y"]
)
def test_bad_bundle_id_names_field_and_fix(web: dict[str, Any], bad: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse(web, mobile={"platforms": ["ios"], "appId": bad})
    field, message = caught.value.problems[0]
    assert field == "mobile.appId"
    assert "com.example.myapp" in message or "Java keyword" in message


def test_platforms_builder_and_version_errors(web: dict[str, Any]) -> None:
    with pytest.raises(SpecError) as caught:
        parse(web, mobile={"platforms": ["blackberry"], "builder": "xcode", "version": "1.0"})
    fields = {field.split(".")[1] for field, _ in caught.value.problems}
    assert fields == {"platforms", "builder", "version"}
    with pytest.raises(SpecError, match=r"mobile\.platforms"):
        parse(web, mobile={"platforms": []})


def test_native_apps_need_web() -> None:
    with pytest.raises(SpecError) as caught:
        AppSpec.parse({"id": "a", "mobile": {"platforms": ["ios"]}, "desktop": {"platforms": ["linux"]}})
    assert [field for field, _ in caught.value.problems] == ["mobile", "desktop"]
    assert "needs a `web` section" in str(caught.value)


def test_icon_must_be_a_file_and_resolves_against_the_spec(tmp_path: Path, web: dict[str, Any]) -> None:
    with pytest.raises(SpecError, match=r"desktop\.icon: .* is not a file"):
        parse(web, desktop={"platforms": ["linux"], "icon": str(tmp_path / "missing.png")})
    (tmp_path / "icon.png").write_bytes(b"png")
    (tmp_path / "app.yaml").write_text(
        "id: a\nweb: {buildDir: out}\nmobile: {platforms: [ios], icon: icon.png}\n"
        "desktop: {platforms: [macos], icon: icon.png}\n"
    )
    spec = AppSpec.load(tmp_path / "app.yaml")
    assert spec.mobile is not None
    assert spec.desktop is not None
    assert spec.mobile.icon == spec.desktop.icon == tmp_path / "icon.png"


def test_desktop_identifier_and_updater_rules(web: dict[str, Any]) -> None:
    with pytest.raises(SpecError, match=r"desktop\.identifier: .*ends in '\.app'"):
        parse(web, desktop={"platforms": ["macos"], "identifier": "com.acme.shop.app"})
    with pytest.raises(SpecError, match="give both or neither"):
        parse(web, desktop={"platforms": ["linux"], "updaterEndpoint": "https://u.example.com/latest.json"})
    with pytest.raises(SpecError, match=r"desktop\.updaterEndpoint: must be an https URL"):
        parse(web, desktop={"platforms": ["linux"], "updaterEndpoint": "http://u", "updaterPubkey": "k"})


def test_public_round_trip_keeps_native_sections(web: dict[str, Any]) -> None:
    spec = parse(web, mobile={"platforms": ["ios"], "builder": "eas"}, desktop={"platforms": ["linux"]})
    assert AppSpec.from_public(spec.public_dict(), spec.secret_values()) == spec
