"""The Tauri 2 project for one app, as {relative path: bytes}. Pure: equal parameters give equal bytes.

    src-tauri/Cargo.toml, Cargo.lock, build.rs, src/main.rs   copied from templates/desktop (the same
                                                               for every app: one lock, one build cache)
    src-tauri/tauri.conf.json                                  everything app-specific
    src-tauri/icons/                                           from the one source image
    dist/                                                      the web build (frontend: static only)

`frontend: url` opens the deployed site in the window; `frontend: static` embeds the site's built
files in the binary (Pages-only files such as `_worker.js` are left out: there is no server there).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.desktop.assets import bundle_icon_list, desktop_icons
from core.errors import UserError
from core.files import check_regular, read_capped, regular_files

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "desktop"
TEMPLATE_FILES = (
    "src-tauri/Cargo.toml",
    "src-tauri/Cargo.lock",
    "src-tauri/build.rs",
    "src-tauri/src/main.rs",
)
# Cloudflare Pages control files and the server half: meaningless inside a desktop app.
PAGES_ONLY = frozenset({"_worker.js", "_routes.json", "_headers", "_redirects"})
STATIC_CAP = 256 * 1024 * 1024  # every embedded file together; the binary carries them all


class DesktopProjectError(UserError, ValueError):
    """The spec cannot make a desktop project; the message names the field and the fix."""


@dataclass(frozen=True)
class DesktopProjectParams:
    """Everything the project is made from; JSON-able, so a dynamic provider can carry it."""

    identifier: str
    product_name: str
    binary_name: str  # the executable's and the .deb package's name
    version: str
    url: str  # the deployed site
    frontend: str = "url"  # url | static
    static_dir: str | None = None  # the site's built files (frontend: static)
    width: int = 1200
    height: int = 800
    icon: str | None = None
    updater_endpoint: str | None = None
    updater_pubkey: str | None = None
    platforms: list[str] = field(default_factory=lambda: ["linux"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def updater(self) -> bool:
        return bool(self.updater_endpoint and self.updater_pubkey)


def tauri_conf(p: DesktopProjectParams) -> dict[str, Any]:
    window: dict[str, Any] = {
        "label": "main",
        "title": p.product_name,
        "width": p.width,
        "height": p.height,
        "resizable": True,
        "url": p.url if p.frontend == "url" else "index.html",
    }
    conf: dict[str, Any] = {
        "$schema": "https://schema.tauri.app/config/2",
        "productName": p.product_name,
        "mainBinaryName": p.binary_name,
        "version": p.version,
        "identifier": p.identifier,
        "build": {"frontendDist": p.url if p.frontend == "url" else "../dist"},
        "app": {"windows": [window], "security": {"csp": None}},
        "bundle": {
            "active": True,
            "targets": "all",
            "icon": bundle_icon_list(),
            "category": "Utility",
            "shortDescription": f"{p.product_name} desktop app",
            "longDescription": f"{p.product_name}: a desktop window onto {p.url}",
            # Updater artifacts need the signing key, which only the CI release job holds.
            "createUpdaterArtifacts": False,
        },
    }
    if p.updater:
        conf["plugins"] = {
            "updater": {"pubkey": p.updater_pubkey, "endpoints": [p.updater_endpoint]},
        }
    return conf


def static_files(static_dir: Path) -> dict[str, bytes]:
    """The site's built files under dist/, without the Pages-only ones; refused when too large."""
    files: dict[str, bytes] = {}
    total = 0
    skip = lambda rel: rel.parts[0] in PAGES_ONLY  # noqa: E731
    for rel, info in regular_files(static_dir, "web.buildDir", skip):
        total += info.st_size
        if total > STATIC_CAP:
            raise DesktopProjectError(
                "desktop.frontend: the web build is over 256 MiB, too large to embed; "
                "use frontend: url to open the deployed site instead"
            )
        files[f"dist/{rel.as_posix()}"] = read_capped(static_dir / rel, "web.buildDir", STATIC_CAP)
    if "dist/index.html" not in files:
        raise DesktopProjectError(
            "desktop.frontend: static needs an index.html at the top of the web build; "
            "use frontend: url for an app without one"
        )
    return files


def desktop_project(p: DesktopProjectParams) -> dict[str, bytes]:
    for rel in TEMPLATE_FILES:
        check_regular(TEMPLATE / rel, "templates/desktop")
    files = {rel: (TEMPLATE / rel).read_bytes() for rel in TEMPLATE_FILES}
    files["src-tauri/tauri.conf.json"] = (json.dumps(tauri_conf(p), indent=2) + "\n").encode()
    files.update(desktop_icons(Path(p.icon) if p.icon else None))
    if p.frontend == "static":
        if not p.static_dir:
            raise DesktopProjectError("desktop.frontend: static needs web.buildDir (the built site)")
        files.update(static_files(Path(p.static_dir)))
    return files
