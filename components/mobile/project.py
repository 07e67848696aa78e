"""The Capacitor project for one app, as {relative path: bytes}: config, npm manifest, build profiles,
fastlane lanes, icons and splash screens. Pure: equal parameters give equal bytes.

The native `ios/` and `android/` folders are not generated here: the Capacitor CLI makes them
(`cap add`), and `MobileBuild` runs it when builds are enabled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from components.mobile.assets import mobile_assets

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mobile"
# One Capacitor major for all four packages; they are released together.
CAPACITOR_VERSION = "8.5.2"
EAS_CLI_VERSION = ">= 16.0.0"


@dataclass(frozen=True)
class MobileProjectParams:
    """Everything the project is made from; JSON-able, so a dynamic provider can carry it."""

    app_id: str
    app_name: str
    server_url: str
    platforms: list[str]
    version: str = "1.0.0"
    build_number: int = 1
    splash_background: str = "#ffffff"
    icon: str | None = None
    builder: str = "fastlane"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def capacitor_config(p: MobileProjectParams) -> dict[str, Any]:
    return {
        "appId": p.app_id,
        "appName": p.app_name,
        "webDir": "www",
        "server": {
            "url": p.server_url,
            "androidScheme": "https",
            "cleartext": p.server_url.startswith("http:"),
        },
        "plugins": {"SplashScreen": {"launchShowDuration": 1000, "backgroundColor": p.splash_background}},
    }


def package_json(p: MobileProjectParams) -> dict[str, Any]:
    slug = p.app_id.rsplit(".", 1)[-1]
    deps = {f"@capacitor/{name}": CAPACITOR_VERSION for name in ("core", "ios", "android")}
    return {
        "name": slug,
        "version": p.version,
        "private": True,
        "description": f"{p.app_name}: native wrapper of {p.server_url}",
        "dependencies": dict(sorted(deps.items())),
        "devDependencies": {"@capacitor/cli": CAPACITOR_VERSION},
    }


def eas_json(p: MobileProjectParams) -> dict[str, Any]:
    return {
        "cli": {"version": EAS_CLI_VERSION, "appVersionSource": "local"},
        "build": {
            "production": {
                "env": {"APP_VERSION": p.version, "BUILD_NUMBER": str(p.build_number)},
                "android": {"buildType": "app-bundle"},
                "ios": {"resourceClass": "m-medium"},
            },
            "preview": {"distribution": "internal", "android": {"buildType": "apk"}},
        },
        "submit": {
            "production": {
                "android": {"track": "internal", "serviceAccountKeyPath": "./play-service-account.json"},
                # The App Store Connect key comes from EXPO_ASC_* variables at submit time.
                "ios": {},
            }
        },
    }


def index_html(p: MobileProjectParams) -> str:
    # Shown only if server.url cannot be reached: the app itself is the deployed site.
    return (
        "<!doctype html>\n<meta charset='utf-8'>\n<title>{0}</title>\n"
        "<p>{0} needs a network connection.</p>\n"
    ).format(p.app_name.replace("&", "&amp;").replace("<", "&lt;"))


def render(template: str, p: MobileProjectParams) -> str:
    values = {
        "app_id": p.app_id,
        "app_name": p.app_name,
        "version": p.version,
        "build_number": p.build_number,
    }
    return Template((TEMPLATES / template).read_text()).substitute(values)


def mobile_project(p: MobileProjectParams) -> dict[str, bytes]:
    files: dict[str, bytes] = {
        "capacitor.config.json": _json(capacitor_config(p)),
        "package.json": _json(package_json(p)),
        "www/index.html": index_html(p).encode(),
        "fastlane/Fastfile": render("Fastfile", p).encode(),
        "fastlane/Appfile": render("Appfile", p).encode(),
    }
    if p.builder == "eas":
        files["eas.json"] = _json(eas_json(p))
    files.update(mobile_assets(Path(p.icon) if p.icon else None, p.platforms, p.splash_background))
    return files


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()
