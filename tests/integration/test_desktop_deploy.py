"""`oneclick deploy` of an app with a desktop section: the stack builds the .deb after the site, its
outputs carry the packages, and a redeploy of the unchanged spec changes nothing (no rebuild)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from automation import operations
from components.spec import AppSpec
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(shutil.which("cargo") is None, reason="needs Rust (cargo); scripts/setup says how"),
    # The first test builds a Tauri app cold (about 5 min on 2 quiet cores; past 10 when they are busy).
    pytest.mark.timeout(1800),
]


def test_deploy_builds_the_desktop_app_once(
    sandbox: SandboxEndpoint, app_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONECLICK_DESKTOP_CACHE", str(Path(REPO_ROOT / ".state" / "desktop-cache")))
    spec = AppSpec.parse(
        {
            "id": app_id,
            "web": {"buildDir": str(REPO_ROOT / "tests" / "fixtures" / "static-site")},
            "desktop": {"platforms": ["linux", "windows"], "productName": "Deployed Desk"},
        }
    )
    first = operations.deploy(spec)
    assert first.outputs["desktopStatus"] == (
        "linux: .deb and .rpm built here; windows: built in CI (templates/ci/desktop-release.yml)"
    )
    kinds = {a["kind"]: a for a in first.outputs["desktopArtifacts"]}
    assert set(kinds) == {"deb", "rpm"}
    deb = Path(kinds["deb"]["path"])
    assert deb.name == "Deployed Desk_0.1.0_amd64.deb"
    assert deb.stat().st_size == kinds["deb"]["size"]
    assert (
        first.outputs["url"].encode()
        in Path(first.outputs["desktopProject"], "src-tauri", "tauri.conf.json").read_bytes()
    )
    made = deb.stat().st_mtime_ns

    again = operations.deploy(spec)
    assert set(again.changes) == {"same"}, again.changes
    assert deb.stat().st_mtime_ns == made, "an unchanged app is not rebuilt"
    operations.destroy(app_id, remove_stack=True)
