"""A real Tauri 2 build on Linux: the .deb and .rpm, what is inside them, the app's window under Xvfb,
and rebuilds through the engine (an unchanged app is not rebuilt, a version bump is).

The build runs once per test session (a session fixture), niced, with CARGO_BUILD_JOBS=2. Its Cargo
home and target dir live in .state/desktop-cache of the repository (ONECLICK_DESKTOP_CACHE), so only
the first session on a machine compiles the ~400 crates; later ones recompile only the app crate.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pytest
from PIL import Image

from components.desktop.build import DesktopBuild, DesktopBuildArgs
from components.native_builds import desktop_params
from components.native_run import NativeResult, run_native
from components.spec import AppSpec
from sandbox.endpoint import REPO_ROOT
from tests.helpers import free_port
from tests.integration.engine_program import inline_stack

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(shutil.which("cargo") is None, reason="needs Rust (cargo); scripts/setup says how"),
    # The first test builds a Tauri app cold (about 5 min on 2 quiet cores; past 10 when they are busy).
    pytest.mark.timeout(1800),
]

PAGE_COLOUR = (230, 20, 140)
PAGE = (
    "<!doctype html><html><head><title>Desk</title></head>"
    f"<body style='margin:0;background:rgb{PAGE_COLOUR}'><h1>desk</h1></body></html>"
).encode()


class _Page(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Page.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *_: Any) -> None:
        return None


@dataclass
class Built:
    spec: AppSpec
    url: str
    result: NativeResult
    seconds: float

    def artifact(self, kind: str) -> Path:
        return Path(next(a["path"] for a in self.result.artifacts if a["kind"] == kind))


@pytest.fixture(scope="session")
def page_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def desktop_cache() -> Iterator[Path]:
    cache = Path(os.environ.get("ONECLICK_DESKTOP_CACHE") or REPO_ROOT / ".state" / "desktop-cache")
    before = os.environ.get("ONECLICK_DESKTOP_CACHE")
    os.environ["ONECLICK_DESKTOP_CACHE"] = str(cache)
    yield cache
    if before is None:
        os.environ.pop("ONECLICK_DESKTOP_CACHE", None)


def desk_spec(version: str = "0.1.0") -> AppSpec:
    site = REPO_ROOT / "tests" / "fixtures" / "static-site"
    return AppSpec.parse(
        {
            "id": "desk-test",
            "owner": "alice",
            "name": "Desk Test",
            "web": {"buildDir": str(site)},
            "desktop": {"platforms": ["linux"], "version": version, "width": 800, "height": 600},
        }
    )


@pytest.fixture(scope="session")
def built(desktop_cache: Path, page_url: str) -> Built:
    started = time.monotonic()
    result = run_native(desk_spec(), "desktop", page_url, force=True)
    return Built(desk_spec(), page_url, result, time.monotonic() - started)


def test_deb_holds_binary_desktop_entry_icons_and_the_config(built: Built, tmp_path: Path) -> None:
    deb = built.artifact("deb")
    assert deb.name == "Desk Test_0.1.0_amd64.deb"
    print(f"\ndesktop build: {built.seconds:.0f}s, .deb {deb.stat().st_size / 1e6:.2f} MB")
    control = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Package", "Version"], capture_output=True, text=True
    )
    assert control.stdout.split() == ["Package:", "desk-test", "Version:", "0.1.0"]
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    binary = tmp_path / "usr" / "bin" / "desk-test"
    assert binary.is_file()
    assert os.access(binary, os.X_OK)
    entry = (tmp_path / "usr" / "share" / "applications" / "Desk Test.desktop").read_text()
    assert "Name=Desk Test" in entry
    assert "Exec=desk-test" in entry
    assert "Icon=desk-test" in entry
    for size, folder in ((32, "32x32"), (128, "128x128"), (256, "256x256@2")):
        icon = tmp_path / "usr" / "share" / "icons" / "hicolor" / folder / "apps" / "desk-test.png"
        with Image.open(icon) as image:
            assert image.size == (size, size), folder
    # The config is compiled into the binary: its identifier and the URL its window opens.
    content = binary.read_bytes()
    assert b"com.alice.desktest" in content
    assert built.url.encode() in content
    for artifact in built.result.artifacts:
        assert len(artifact["sha256"]) == 64
        assert Path(artifact["path"]).stat().st_size == artifact["size"]


def test_rpm_is_built_too(built: Built) -> None:
    rpm = built.artifact("rpm")
    assert rpm.suffix == ".rpm"
    if shutil.which("rpm"):
        listing = subprocess.run(["rpm", "-qpl", str(rpm)], capture_output=True, text=True, check=True).stdout
        assert "/usr/bin/desk-test" in listing.split()


def xwd_pixels(dump: bytes) -> Callable[[int, int], tuple[int, int, int]]:
    """Pixels of an X window dump (xwd's format: a big-endian header, the colour map, the image)."""
    header = struct.unpack(">25I", dump[:100])
    header_size, byte_order, bits_per_pixel, bytes_per_line = header[0], header[7], header[11], header[12]
    masks, ncolours = header[14:17], header[19]
    assert bits_per_pixel in (24, 32), f"a true-colour screen, not {bits_per_pixel} bits a pixel"
    size = bits_per_pixel // 8
    start = header_size + ncolours * 12

    def channel(value: int, mask: int) -> int:
        return (value & mask) >> (mask & -mask).bit_length() - 1

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        offset = start + y * bytes_per_line + x * size
        value = int.from_bytes(dump[offset : offset + size], "little" if byte_order == 0 else "big")
        red, green, blue = (channel(value, mask) for mask in masks)
        return red, green, blue

    return pixel


@contextlib.contextmanager
def xvfb() -> Iterator[str]:
    display = f":{free_port() % 1000 + 100}"
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1024x768x24", "-br", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        assert server.poll() is None, "Xvfb did not start"
        yield display
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (ONECLICK_DESKTOP=1 scripts/setup)")
def test_the_app_starts_under_xvfb_and_shows_its_window(built: Built, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(built.artifact("deb")), str(tmp_path)], check=True)
    binary = tmp_path / "usr" / "bin" / "desk-test"
    _Page.hits.clear()
    with xvfb() as display:
        env = {
            **os.environ,
            "DISPLAY": display,
            "HOME": str(tmp_path),
            "XDG_RUNTIME_DIR": str(tmp_path),
            # No GPU under Xvfb: software rendering, no DMA-BUF renderer.
            "WEBKIT_DISABLE_COMPOSITING_MODE": "1",
            "WEBKIT_DISABLE_DMABUF_RENDERER": "1",
            "LIBGL_ALWAYS_SOFTWARE": "1",
        }
        log = (tmp_path / "app.log").open("w")
        app = subprocess.Popen([str(binary)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            seen = 0
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and seen < 2000:
                time.sleep(2)
                assert app.poll() is None, (tmp_path / "app.log").read_text()[-2000:]
                dump = subprocess.run(
                    ["xwd", "-root", "-silent", "-display", display], capture_output=True, check=True
                ).stdout
                pixel = xwd_pixels(dump)
                # The page's colour in the window (the root window is black: -br).
                seen = sum(
                    1 for y in range(0, 600, 10) for x in range(0, 800, 10) if pixel(x, y) == PAGE_COLOUR
                )
            (tmp_path / "screen.xwd").write_bytes(dump)
        finally:
            app.terminate()
            app.wait(timeout=20)
    assert _Page.hits, "the window asked the app's URL for its page"
    assert seen >= 2000, (
        f"only {seen} of 4800 sampled pixels show the page; log: {(tmp_path / 'app.log').read_text()[-1500:]}"
    )


def test_engine_rebuilds_only_when_the_app_changes(built: Built, tmp_path: Path) -> None:
    """DesktopBuild in a stack: a second `up` runs no build; a version bump builds new packages."""
    packages = tmp_path / "packages"

    def program(version: str) -> Callable[[], None]:
        def run() -> None:
            params = desktop_params(desk_spec(version), built.url)
            build = DesktopBuild("desk", DesktopBuildArgs(params, str(tmp_path / "project"), str(packages)))
            pulumi.export("artifacts", build.artifacts)

        return run

    with inline_stack(
        "desktop",
        program("0.1.0"),
        tmp_path,
        {"ONECLICK_DESKTOP_CACHE": os.environ["ONECLICK_DESKTOP_CACHE"]},
    ) as stack:
        first = stack.up(color="never")
        [deb] = [a for a in first.outputs["artifacts"].value if a["kind"] == "deb"]
        assert Path(deb["path"]).name == "Desk Test_0.1.0_amd64.deb"
        made = Path(deb["path"]).stat().st_mtime_ns

        again = stack.up(color="never")
        assert set(again.summary.resource_changes or {}) == {"same"}, again.summary.resource_changes
        assert Path(deb["path"]).stat().st_mtime_ns == made, "no rebuild"

        stack.workspace.program = program("0.1.1")
        started = time.monotonic()
        bumped = stack.up(color="never")
        print(f"\nversion bump rebuild: {time.monotonic() - started:.0f}s")
        changes = bumped.summary.resource_changes or {}
        assert changes.get("replace") == 1, changes  # the build command, on its trigger
        assert changes.get("update") == 1, changes  # the project files
        names = sorted(Path(a["path"]).name for a in bumped.outputs["artifacts"].value)
        assert names == ["Desk Test-0.1.1-1.x86_64.rpm", "Desk Test_0.1.1_amd64.deb"]


def test_unchanged_app_reuses_its_packages_outside_the_engine(built: Built) -> None:
    details: list[str] = []
    again = run_native(
        built.spec,
        "desktop",
        built.url,
        on_step=lambda key, _t, _s, detail: details.append(f"{key}: {detail}"),
    )
    assert "build: unchanged: packages of the last build reused" in details
    assert again.artifacts == built.result.artifacts
