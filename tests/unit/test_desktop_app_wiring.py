"""App creates the native builds the spec asks for, after the site, wrapping the site's URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.mobile.credentials import CredentialError
from tests.unit.test_app_component import Mocks, targets

__all__ = ["Mocks"]  # the monitor fixture installs this module's Mocks


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("hi")
    return tmp_path


@pulumi.runtime.test
def test_native_builds_come_after_the_site_and_wrap_its_url(
    mocks: Mocks, site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    from components.app import App
    from components.spec import AppSpec

    monkeypatch.setenv("ONECLICK_STATE_DIR", str(tmp_path / "state"))
    spec = AppSpec.parse(
        {
            "id": "shop",
            "owner": "alice",
            "web": {"buildDir": str(site)},
            "mobile": {"platforms": ["android"]},
            "desktop": {"platforms": ["windows"], "version": "2.0.0"},
        }
    )
    app = App(spec, targets(sandbox=False))
    assert app.native.mobile is not None
    assert app.native.desktop is not None
    assert set(app.native.outputs()) == {
        "mobileProject",
        "mobileStatus",
        "mobileBuildIds",
        "desktopProject",
        "desktopStatus",
        "desktopArtifacts",
    }

    def check(values: list[Any]) -> None:
        desktop_status = values[0]
        assert desktop_status == "windows: built in CI (templates/ci/desktop-release.yml)"
        projects = {r.inputs["kind"]: r.inputs["params"] for r in mocks.created if "kind" in r.inputs}
        assert projects["mobile"]["server_url"] == "https://shop.pages.dev"
        assert projects["mobile"]["app_id"] == "com.alice.shop"
        assert projects["desktop"]["url"] == "https://shop.pages.dev"
        assert projects["desktop"]["identifier"] == "com.alice.shop"
        assert projects["desktop"]["version"] == "2.0.0"
        assert not [r for r in mocks.created if "create" in r.inputs], "nothing is built for windows here"

    native = app.native
    return pulumi.Output.all(
        native.desktop.status, native.desktop.project_dir, native.mobile.project_dir
    ).apply(check)


def test_a_malformed_credential_stops_the_app_before_its_native_builds(
    mocks: Mocks, site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.app import App
    from components.spec import AppSpec

    monkeypatch.setenv("ONECLICK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("EXPO_TOKEN", "bad token")
    spec = AppSpec.parse({"id": "shop", "web": {"buildDir": str(site)}, "mobile": {"platforms": ["android"]}})
    with pytest.raises(CredentialError) as failed:
        App(spec, targets(sandbox=False))
    assert failed.value.field == "EXPO_TOKEN"
    assert "bad token" not in str(failed.value)
    assert not (tmp_path / "state" / "native").exists()
