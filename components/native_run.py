"""One native target (desktop, ios or android) built outside the Pulumi engine.

`oneclick build desktop|ios|android SPEC` and the service's `POST /api/deploy/desktop|ios|android`
run this; `oneclick deploy` builds the same projects through `DesktopBuild`/`MobileBuild` in the
stack. Same generators, same builder, three steps:

    project   "Project generated"   the Tauri or Capacitor project written under the state dir
    build     "Built"               desktop: .deb/.rpm made here (reused when nothing changed);
                                    mobile: the EAS cloud build or the fastlane lane
    submit    "Submitted"           mobile: eas submit / the fastlane upload; desktop: none

A mobile build or upload runs only where it can (the vendor answers, the tools are there, the
spec says `mobile.build: true`); otherwise the step is recorded as "ready to submit" with the
exact command and the names of the variables it needs, never as done. Credentials are checked
for shape first, before anything is written or run; their values travel only in the command's
environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from components.commands import run_command
from components.desktop.build import CI_WORKFLOW, builds_here
from components.desktop.project import desktop_project
from components.desktop.tauri_build import build_linux, sha256_of
from components.mobile.build import SYNC, eas_build_command, eas_submit_command
from components.mobile.credentials import CredentialError
from components.mobile.project import mobile_project
from components.native_builds import (
    StoreCredentials,
    desktop_params,
    mobile_params,
    native_root,
    store_credentials,
)
from components.project_files import MARKER, hashes, write
from components.spec import AppSpec
from core.errors import UserError
from core.settings import settings

Target = Literal["desktop", "ios", "android"]
TARGETS: tuple[Target, ...] = ("desktop", "ios", "android")
STEP_TITLES = {"project": "Project generated", "build": "Built", "submit": "Submitted"}
MOBILE_CI_WORKFLOW = "templates/ci/mobile-fastlane.yml"
# Where each vendor answers; a build is attempted only when its host can be reached.
VENDOR_HOSTS = {
    "eas": "api.expo.dev",
    "ios": "api.appstoreconnect.apple.com",
    "android": "androidpublisher.googleapis.com",
}
FASTLANE_LANES = {"ios": "ios beta", "android": "android internal"}

StepSink = Callable[[str, str, str, str], None]  # key, title, state, detail


class NativeTargetError(UserError, ValueError):
    """The spec has no section for the requested target; the message says which to add."""


@dataclass
class PreparedCommand:
    """A command line as it runs (or would run): the text, the folder, the variables it needs."""

    step: str
    command: str
    dir: str
    environment: list[str]  # names only: values are secrets

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "command": self.command, "dir": self.dir, "environment": self.environment}


@dataclass
class NativeResult:
    target: str
    project_dir: str
    status: str
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    commands: list[PreparedCommand] = field(default_factory=list)

    def outputs(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "projectDir": self.project_dir,
            "status": self.status,
            "artifacts": self.artifacts,
            "commands": [c.as_dict() for c in self.commands],
        }


def check_target(spec: AppSpec, target: Target) -> None:
    """The spec has a section for `target`; NativeTargetError says what to add otherwise."""
    if target == "desktop" and spec.desktop is None:
        raise NativeTargetError(
            "desktop: the spec has no desktop section; add one, e.g. desktop: {platforms: [linux]}",
            field="desktop",
        )
    if target != "desktop" and (spec.mobile is None or target not in spec.mobile.platforms):
        raise NativeTargetError(
            f"mobile.platforms: the spec does not build {target}; add it, e.g. "
            f"mobile: {{platforms: [{target}]}}",
            field="mobile.platforms",
        )


def _noop(_key: str, _title: str, _state: str, _detail: str) -> None:
    return None


def reachable(host: str, timeout: float = 3.0) -> bool:
    if settings().deploy.native_offline:
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def run_native(
    spec: AppSpec,
    target: Target,
    url: str,
    *,
    env: Mapping[str, str] | None = None,
    on_step: StepSink | None = None,
    force: bool = False,
) -> NativeResult:
    """Generate, build and (where possible) submit one target of `spec`, wrapping `url`."""
    step = on_step or _noop
    check_target(spec, target)
    if target == "desktop":
        return _desktop(spec, url, step, force)
    return _mobile(spec, target, url, os.environ if env is None else env, step)


# -- desktop -------------------------------------------------------------------------------------


def _fresh_dir(path: Path, files: dict[str, bytes]) -> None:
    """The generated project exactly: files of an earlier generation that are gone now go too."""
    if (path / MARKER).is_file():
        shutil.rmtree(path)
    write(path, files)


def _digest(files: dict[str, bytes]) -> str:
    return hashlib.sha256(json.dumps(hashes(files), sort_keys=True).encode()).hexdigest()


def _reusable(stamp: Path, digest: str) -> list[dict[str, Any]] | None:
    """The packages of the last build when it was made from the same files and is still intact."""
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    artifacts = recorded.get("artifacts") if recorded.get("digest") == digest else None
    if not artifacts:
        return None
    for a in artifacts:
        if not Path(a["path"]).is_file() or sha256_of(Path(a["path"])) != a["sha256"]:
            return None
    return list(artifacts)


def _desktop(spec: AppSpec, url: str, step: StepSink, force: bool) -> NativeResult:
    params = desktop_params(spec, url)
    root = native_root(spec.id)
    project_dir, packages = root / "desktop", root / "desktop-packages"
    step("project", STEP_TITLES["project"], "running", "")
    files = desktop_project(params)
    _fresh_dir(project_dir, files)
    step("project", STEP_TITLES["project"], "done", f"Tauri 2 project, {len(files)} files")
    result = NativeResult("desktop", str(project_dir), "generated")
    if not builds_here(params.platforms):
        step("build", STEP_TITLES["build"], "skipped", f"built in CI ({CI_WORKFLOW})")
    else:
        digest = _digest(files)
        stamp = packages / "build.json"
        reused = None if force else _reusable(stamp, digest)
        if reused is not None:
            result.artifacts = reused
            step("build", STEP_TITLES["build"], "done", "unchanged: packages of the last build reused")
        else:
            step("build", STEP_TITLES["build"], "running", "tauri build --bundles deb,rpm")
            built = build_linux(project_dir, packages, features=["updater"] if params.updater else [])
            result.artifacts = [vars(a) for a in built.artifacts]
            stamp.write_text(json.dumps({"digest": digest, "artifacts": result.artifacts}, indent=2))
            sizes = ", ".join(f"{Path(a.path).name} {a.size / 1e6:.1f} MB" for a in built.artifacts)
            step("build", STEP_TITLES["build"], "done", f"{sizes} in {built.seconds:.0f}s")
        result.status = "built"
    elsewhere = [p for p in params.platforms if p != "linux"]
    step(
        "submit",
        STEP_TITLES["submit"],
        "skipped",
        "desktop packages are not submitted to a store"
        + (f"; {', '.join(elsewhere)} and signed updates: {CI_WORKFLOW}" if elsewhere else ""),
    )
    return result


# -- mobile --------------------------------------------------------------------------------------


def required_credentials(builder: str, target: str, creds: StoreCredentials) -> None:
    """Missing credentials, named by their variables, before anything is written or run."""
    if builder == "eas" and creds.expo_token is None:
        raise CredentialError(
            "EXPO_TOKEN missing: mobile.builder eas builds in Expo's cloud; create an access token "
            "at expo.dev and set EXPO_TOKEN",
            field="EXPO_TOKEN",
        )
    if target == "ios" and creds.app_store_key is None:
        raise CredentialError(
            "ASC_KEY_ID, ASC_ISSUER_ID and ASC_KEY_P8 missing: TestFlight uploads need an App Store "
            "Connect API key (Users and Access > Integrations); set the three variables",
            field="ASC_KEY_ID",
        )
    if target == "android" and creds.play_account is None:
        raise CredentialError(
            "PLAY_SERVICE_ACCOUNT_JSON missing: Play uploads need a service account's JSON key; set "
            "the variable to the file's text",
            field="PLAY_SERVICE_ACCOUNT_JSON",
        )


def _submit_env_names(target: str) -> list[str]:
    if target == "ios":
        return ["EXPO_TOKEN", "EXPO_ASC_KEY_ID", "EXPO_ASC_ISSUER_ID", "EXPO_ASC_API_KEY_PATH", "ASC_KEY_P8"]
    return ["EXPO_TOKEN", "PLAY_SERVICE_ACCOUNT_JSON"]


def mobile_commands(builder: str, target: str, project_dir: str) -> list[PreparedCommand]:
    if builder == "eas":
        return [
            PreparedCommand("build", eas_build_command([target]), project_dir, ["EXPO_TOKEN"]),
            PreparedCommand("submit", eas_submit_command([target]), project_dir, _submit_env_names(target)),
        ]
    secrets = (
        ["ASC_KEY_ID", "ASC_ISSUER_ID", "ASC_KEY_P8"]
        if target == "ios"
        else [
            "PLAY_SERVICE_ACCOUNT_JSON",
            "ANDROID_KEYSTORE_PATH",
            "ANDROID_KEYSTORE_PASSWORD",
            "ANDROID_KEY_ALIAS",
            "ANDROID_KEY_PASSWORD",
        ]
    )
    return [
        PreparedCommand("build", SYNC, project_dir, ["PLATFORMS"]),
        PreparedCommand("submit", f"bundle exec fastlane {FASTLANE_LANES[target]}", project_dir, secrets),
    ]


def _command_env(target: str, creds: StoreCredentials) -> dict[str, str]:
    env: dict[str, str] = {"PLATFORMS": target}
    if creds.expo_token:
        env["EXPO_TOKEN"] = creds.expo_token
    if creds.app_store_key is not None:
        key = creds.app_store_key
        env.update(
            ASC_KEY_ID=key.key_id,
            ASC_ISSUER_ID=key.issuer_id,
            ASC_KEY_P8=key.private_key,
            EXPO_ASC_KEY_ID=key.key_id,
            EXPO_ASC_ISSUER_ID=key.issuer_id,
            EXPO_ASC_API_KEY_PATH="asc-api-key.p8",
        )
    if creds.play_account is not None:
        env["PLAY_SERVICE_ACCOUNT_JSON"] = creds.play_account.json_key
    return env


def blocker(builder: str, target: str, run_builds: bool) -> str | None:
    """Why the vendor step cannot run from here; None when it can."""
    if not run_builds:
        return "mobile.build is off"
    if builder == "fastlane" and target == "ios" and sys.platform != "darwin":
        return f"iOS builds need macOS with Xcode: run {MOBILE_CI_WORKFLOW}"
    if builder == "fastlane" and target == "android" and not os.environ.get("ANDROID_HOME"):
        return f"no Android SDK here (ANDROID_HOME): run {MOBILE_CI_WORKFLOW}"
    if shutil.which("npx") is None or (builder == "fastlane" and shutil.which("bundle") is None):
        return "the build tools (npx, bundler) are not installed here"
    host = VENDOR_HOSTS["eas" if builder == "eas" else target]
    if not reachable(host):
        return f"{host} cannot be reached from this machine"
    return None


def _mobile(spec: AppSpec, target: Target, url: str, env: Mapping[str, str], step: StepSink) -> NativeResult:
    mobile = spec.mobile
    assert mobile is not None  # check_target
    creds = store_credentials(env, [target])
    required_credentials(mobile.builder, target, creds)
    params = mobile_params(spec, url)
    params = type(params)(**{**params.to_dict(), "platforms": [target]})
    project_dir = native_root(spec.id) / f"mobile-{target}"
    step("project", STEP_TITLES["project"], "running", "")
    files = mobile_project(params)
    _fresh_dir(project_dir, files)
    step("project", STEP_TITLES["project"], "done", f"Capacitor project, {len(files)} files")
    commands = mobile_commands(mobile.builder, target, str(project_dir))
    result = NativeResult(target, str(project_dir), "ready to submit", commands=commands)
    why = blocker(mobile.builder, target, mobile.build)
    if why is not None:
        for command in commands:
            step(
                command.step,
                STEP_TITLES[command.step],
                "skipped",
                f"ready to submit ({why}): {command.command}",
            )
        return result
    command_env = _command_env(target, creds)
    for command in commands:
        step(command.step, STEP_TITLES[command.step], "running", command.command)
        run_command(
            command.command, environment=command_env, dir_=command.dir, label=f"{target} {command.step}"
        )
        step(command.step, STEP_TITLES[command.step], "done", "queued at the vendor")
    result.status = "submitted"
    return result
