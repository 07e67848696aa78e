"""The icon files a Tauri 2 project lists in `bundle.icon`, made from the one source image.

Linux bundles take the PNGs (the .deb installs them under /usr/share/icons/hicolor/<size>/apps),
Windows the .ico and macOS the .icns; `icon.png` is the window icon.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from components import icons

if TYPE_CHECKING:  # Pillow is the mobile extra's: loaded only when images are made
    from PIL import Image

ICON_DIR = "src-tauri/icons"
# file name -> pixels; the names are the ones `tauri icon` writes, which Tauri's docs and CI expect.
PNG_ICONS: dict[str, int] = {"32x32.png": 32, "128x128.png": 128, "128x128@2x.png": 256, "icon.png": 512}
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def bundle_icon_list() -> list[str]:
    """The `bundle.icon` entries, relative to src-tauri/ (icon.png is the window icon, not bundled)."""
    pngs = [f"icons/{name}" for name in PNG_ICONS if name != "icon.png"]
    return [*pngs, "icons/icon.icns", "icons/icon.ico"]


def icns(source: Image.Image) -> bytes:
    """A macOS .icns with every size Finder and the Dock use."""
    from PIL import Image

    out = io.BytesIO()
    base = source.resize((1024, 1024), Image.Resampling.LANCZOS)
    extra = [source.resize((s, s), Image.Resampling.LANCZOS) for s in ICNS_SIZES if s != 1024]
    base.save(out, format="ICNS", append_images=extra)
    return out.getvalue()


def desktop_icons(icon: Path | None) -> dict[str, bytes]:
    source = icons.load_source(icon, field="desktop.icon")
    files = {f"{ICON_DIR}/{name}": icons.square(source, size) for name, size in PNG_ICONS.items()}
    files[f"{ICON_DIR}/icon.ico"] = icons.ico(source)
    files[f"{ICON_DIR}/icon.icns"] = icns(source)
    return files
