"""The native wrappers of one app (mobile: Capacitor, desktop: Tauri), made from its spec.

`App` calls `native_builds` once the site exists: both wrap the deployed site's URL (desktop may
embed the web build instead). Store credentials come from the deploying machine's environment
(never the spec) and are checked for shape here, before any resource or command exists, with the
variable's name in the message and never its value.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components.desktop.build import DesktopBuild, DesktopBuildArgs
from components.desktop.project import DesktopProjectError, DesktopProjectParams
from components.mobile.build import MobileBuild, MobileBuildArgs
from components.mobile.credentials import (
    AppStoreConnectKey,
    PlayServiceAccount,
    app_store_connect_key,
    expo_token,
    play_service_account,
)
from components.mobile.project import MobileProjectParams
from components.paths import state_root
from components.spec import AppSpec


def native_root(app_id: str) -> Path:
    """Generated projects and built packages of one app (git-ignored local state)."""
    return state_root() / "native" / app_id


def binary_name(app_id: str) -> str:
    """The executable's and the Linux package's name: the app id (already [a-z0-9-])."""
    return app_id if app_id[0].isalpha() else f"app-{app_id}"


def check_updater_pubkey(value: str) -> str:
    """A Tauri updater public key: base64 of minisign's public key file (`tauri signer generate`)."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode()
        comment, key = text.strip().splitlines()[:2]
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw, comment = b"", ""
    if "minisign public key" not in comment or len(raw) != 42:
        raise DesktopProjectError(
            "desktop.updaterPubkey: not a Tauri updater public key; give the .pub file's content "
            "from `tauri signer generate` (one base64 line)"
        )
    return value.strip()


def desktop_params(spec: AppSpec, url: str) -> DesktopProjectParams:
    desktop = spec.desktop
    assert desktop is not None
    if desktop.frontend == "static" and (spec.web is None or spec.web.build_dir is None):
        raise DesktopProjectError(
            "desktop.frontend: static embeds web.buildDir, which this spec does not have; "
            "use frontend: url (the deployed site) or give web.buildDir"
        )
    return DesktopProjectParams(
        identifier=spec.desktop_identifier,
        product_name=desktop.product_name or spec.display_name,
        binary_name=binary_name(spec.id),
        version=desktop.version,
        url=url,
        frontend=desktop.frontend,
        static_dir=str(spec.web.build_dir) if desktop.frontend == "static" and spec.web else None,
        width=desktop.width,
        height=desktop.height,
        icon=str(desktop.icon) if desktop.icon else None,
        updater_endpoint=desktop.updater_endpoint,
        updater_pubkey=check_updater_pubkey(desktop.updater_pubkey) if desktop.updater_pubkey else None,
        platforms=list(desktop.platforms),
    )


def mobile_params(spec: AppSpec, url: str) -> MobileProjectParams:
    mobile = spec.mobile
    assert mobile is not None
    return MobileProjectParams(
        app_id=spec.mobile_app_id,
        app_name=mobile.app_name or spec.display_name,
        server_url=url,
        platforms=list(mobile.platforms),
        version=mobile.version,
        build_number=mobile.build_number,
        splash_background=mobile.splash_background,
        icon=str(mobile.icon) if mobile.icon else None,
        builder=mobile.builder,
    )


@dataclass(frozen=True, repr=False)
class StoreCredentials:
    """What the cloud build and the store uploads authenticate with; every field optional."""

    expo_token: str | None = None
    app_store_key: AppStoreConnectKey | None = None
    play_account: PlayServiceAccount | None = None

    def __repr__(self) -> str:
        given = [n for n in ("expo_token", "app_store_key", "play_account") if getattr(self, n)]
        return f"StoreCredentials(given={given})"


def store_credentials(env: Mapping[str, str], platforms: list[str]) -> StoreCredentials:
    """The credentials set in `env`, each checked for shape (CredentialError names the variable).

    A credential is read when any of its variables is set: a half-set App Store key is an error,
    not a silent skip."""
    token = expo_token(env["EXPO_TOKEN"]) if env.get("EXPO_TOKEN") else None
    asc = None
    if "ios" in platforms and any(env.get(k) for k in ("ASC_KEY_ID", "ASC_ISSUER_ID", "ASC_KEY_P8")):
        asc = app_store_connect_key(env.get("ASC_KEY_ID"), env.get("ASC_ISSUER_ID"), env.get("ASC_KEY_P8"))
    play = None
    if "android" in platforms and env.get("PLAY_SERVICE_ACCOUNT_JSON"):
        play = play_service_account(env["PLAY_SERVICE_ACCOUNT_JSON"])
    return StoreCredentials(token, asc, play)


@dataclass
class NativeBuilds:
    mobile: MobileBuild | None = None
    desktop: DesktopBuild | None = None

    def outputs(self) -> dict[str, Any]:
        """Stack outputs: where the projects are and what was built."""
        found: dict[str, Any] = {}
        if self.mobile is not None:
            found.update(mobileProject=self.mobile.project_dir, mobileStatus=self.mobile.status)
            found["mobileBuildIds"] = self.mobile.build_ids
        if self.desktop is not None:
            found.update(desktopProject=self.desktop.project_dir, desktopStatus=self.desktop.status)
            found["desktopArtifacts"] = self.desktop.artifacts
        return found


def native_builds(
    spec: AppSpec,
    site_url: str,
    opts: pulumi.ResourceOptions,
    env: Mapping[str, str] | None = None,
) -> NativeBuilds:
    """MobileBuild and DesktopBuild for the sections the spec has (after the site: `opts` says so)."""
    env = os.environ if env is None else env
    built = NativeBuilds()
    root = native_root(spec.id)
    if spec.mobile is not None:
        creds = store_credentials(env, list(spec.mobile.platforms))
        built.mobile = MobileBuild(
            f"{spec.id}-mobile",
            MobileBuildArgs(
                params=mobile_params(spec, site_url),
                out_dir=str(root / "mobile"),
                run_builds=spec.mobile.build,
                expo_token=pulumi.Output.secret(creds.expo_token) if creds.expo_token else None,
                app_store_key=creds.app_store_key,
                play_account=creds.play_account,
            ),
            opts,
        )
    if spec.desktop is not None:
        built.desktop = DesktopBuild(
            f"{spec.id}-desktop",
            DesktopBuildArgs(
                params=desktop_params(spec, site_url),
                project_dir=str(root / "desktop"),
                artifacts_dir=str(root / "desktop-packages"),
            ),
            opts,
        )
    return built
