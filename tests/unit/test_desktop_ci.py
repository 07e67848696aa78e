"""The CI workflow templates pass actionlint (GitHub's expression, job and action-input checks)."""

from __future__ import annotations

import subprocess

import yaml

from sandbox.endpoint import REPO_ROOT

ACTIONLINT = REPO_ROOT / ".tools" / "bin" / "actionlint"
CI = REPO_ROOT / "templates" / "ci"
GITHUB = ["desktop-release.yml", "mobile-fastlane.yml", "github-drift.yml"]


def test_github_templates_pass_actionlint() -> None:
    assert ACTIONLINT.is_file(), "scripts/setup installs actionlint into .tools/bin"
    done = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", *[str(CI / name) for name in GITHUB]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_template(tmp_path: object) -> None:
    broken = (
        (CI / "desktop-release.yml")
        .read_text()
        .replace("runs-on: ${{ matrix.os }}", "runs-on: ${{ matrix.nope }}")
    )
    done = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", "-"],
        input=broken,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "nope" in done.stdout


def test_desktop_matrix_builds_every_platform_and_publishes_the_updater_manifest() -> None:
    workflow = yaml.safe_load((CI / "desktop-release.yml").read_text())
    include = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
    assert {entry["os"] for entry in include} == {"windows-latest", "macos-latest", "ubuntu-22.04"}
    names = " ".join(entry["name"] for entry in include)
    for package in (".msi", ".exe", ".dmg", ".app", ".AppImage", ".deb"):
        assert package in names
    tauri = next(
        s for s in workflow["jobs"]["build"]["steps"] if str(s.get("uses", "")).startswith("tauri-apps/")
    )
    assert tauri["with"]["includeUpdaterJson"] is True
    assert tauri["with"]["projectPath"] == "desktop"
    assert "TAURI_SIGNING_PRIVATE_KEY" in tauri["env"]


def test_mobile_workflow_runs_the_generated_lanes() -> None:
    workflow = yaml.safe_load((CI / "mobile-fastlane.yml").read_text())
    runs = {job: " ".join(s.get("run", "") for s in spec["steps"]) for job, spec in workflow["jobs"].items()}
    assert "fastlane ios beta" in runs["ios"]
    assert "fastlane android internal" in runs["android"]
    assert workflow["jobs"]["ios"]["runs-on"] == "macos-latest"
