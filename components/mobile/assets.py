"""Every icon and splash screen iOS and Android ask for, at the paths the native projects use.

Paths are relative to the Capacitor project root and mirror the native projects' own (`ios/App/...`,
`android/app/src/main/res/...`) under `resources/`, so after `cap add` one copy puts them in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from components import icons

if TYPE_CHECKING:  # Pillow is the mobile extra's: loaded only when images are made
    from PIL import Image

IOS_ICONSET = "resources/ios/App/App/Assets.xcassets/AppIcon.appiconset"
IOS_SPLASH = "resources/ios/App/App/Assets.xcassets/Splash.imageset"
ANDROID_RES = "resources/android/app/src/main/res"

# (idiom, size in points, scale): Xcode's full AppIcon set, plus the 1024 marketing icon.
IOS_ICONS: tuple[tuple[str, str, int], ...] = (
    ("iphone", "20", 2),
    ("iphone", "20", 3),
    ("iphone", "29", 2),
    ("iphone", "29", 3),
    ("iphone", "40", 2),
    ("iphone", "40", 3),
    ("iphone", "60", 2),
    ("iphone", "60", 3),
    ("ipad", "20", 1),
    ("ipad", "20", 2),
    ("ipad", "29", 1),
    ("ipad", "29", 2),
    ("ipad", "40", 1),
    ("ipad", "40", 2),
    ("ipad", "76", 1),
    ("ipad", "76", 2),
    ("ipad", "83.5", 2),
    ("ios-marketing", "1024", 1),
)
# Android launcher icons (48dp) and adaptive foregrounds (108dp) per density.
ANDROID_DENSITIES = {"mdpi": 1.0, "hdpi": 1.5, "xhdpi": 2.0, "xxhdpi": 3.0, "xxxhdpi": 4.0}
# Capacitor's default portrait splash sizes per density; landscape is the same turned.
ANDROID_SPLASH = {
    "mdpi": (320, 480),
    "hdpi": (480, 800),
    "xhdpi": (720, 1280),
    "xxhdpi": (960, 1600),
    "xxxhdpi": (1280, 1920),
}
IOS_SPLASH_SIZE = 2732  # one universal image, used at 1x/2x/3x


def ios_pixels(size: str, scale: int) -> int:
    return round(float(size) * scale)


def ios_assets(source: Image.Image, background: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    images = []
    for idiom, size, scale in IOS_ICONS:
        pixels = ios_pixels(size, scale)
        name = f"AppIcon-{size}x{size}@{scale}x.png"
        files[f"{IOS_ICONSET}/{name}"] = icons.square(source, pixels, opaque=True, background=background)
        images.append({"filename": name, "idiom": idiom, "scale": f"{scale}x", "size": f"{size}x{size}"})
    contents = {"images": images, "info": {"author": "xcode", "version": 1}}
    files[f"{IOS_ICONSET}/Contents.json"] = _json(contents)
    splash = icons.splash(source, IOS_SPLASH_SIZE, IOS_SPLASH_SIZE, background)
    splash_images = []
    for scale in (1, 2, 3):
        name = f"splash-2732x2732{'' if scale == 1 else f'-{scale - 1}'}.png"
        files[f"{IOS_SPLASH}/{name}"] = splash
        splash_images.append({"filename": name, "idiom": "universal", "scale": f"{scale}x"})
    files[f"{IOS_SPLASH}/Contents.json"] = _json({"images": splash_images, "info": contents["info"]})
    return files


def android_assets(source: Image.Image, background: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for density, factor in ANDROID_DENSITIES.items():
        launcher, foreground = round(48 * factor), round(108 * factor)
        folder = f"{ANDROID_RES}/mipmap-{density}"
        files[f"{folder}/ic_launcher.png"] = icons.square(source, launcher)
        files[f"{folder}/ic_launcher_round.png"] = icons.round_icon(source, launcher)
        files[f"{folder}/ic_launcher_foreground.png"] = icons.adaptive_foreground(source, foreground)
        width, height = ANDROID_SPLASH[density]
        files[f"{ANDROID_RES}/drawable-port-{density}/splash.png"] = icons.splash(
            source, width, height, background
        )
        files[f"{ANDROID_RES}/drawable-land-{density}/splash.png"] = icons.splash(
            source, height, width, background
        )
    files[f"{ANDROID_RES}/drawable/splash.png"] = icons.splash(source, 480, 320, background)
    adaptive = (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<adaptive-icon xmlns:android="http://schemas.android.com/apk/res/android">\n'
        b'    <background android:drawable="@color/ic_launcher_background"/>\n'
        b'    <foreground android:drawable="@mipmap/ic_launcher_foreground"/>\n'
        b"</adaptive-icon>\n"
    )
    files[f"{ANDROID_RES}/mipmap-anydpi-v26/ic_launcher.xml"] = adaptive
    files[f"{ANDROID_RES}/mipmap-anydpi-v26/ic_launcher_round.xml"] = adaptive
    files[f"{ANDROID_RES}/values/ic_launcher_background.xml"] = (
        '<?xml version="1.0" encoding="utf-8"?>\n<resources>\n'
        f'    <color name="ic_launcher_background">{background}</color>\n</resources>\n'
    ).encode()
    return files


def mobile_assets(icon: Path | None, platforms: list[str], background: str) -> dict[str, bytes]:
    source = icons.load_source(icon, field="mobile.icon")
    files: dict[str, bytes] = {}
    if "ios" in platforms:
        files.update(ios_assets(source, background))
    if "android" in platforms:
        files.update(android_assets(source, background))
    return files


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()
