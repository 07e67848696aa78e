"""Build a generated Tauri project into Linux packages (.deb, .rpm) with the pinned Tauri CLI.

`python -m components.desktop.tauri_build --project DIR --out DIR [--features updater]` is what
`DesktopBuild`'s command runs; it prints one JSON object (the artifacts) on stdout and keeps the
compiler's output in OUT/build.log, so neither state nor logs fill with a build log.

Every app's Rust half is the same crate with the same Cargo.lock (templates/desktop), so one
Cargo home (downloaded crates) and one target directory (compiled crates) under the desktop cache
serve every app: a cold build compiles the ~480 crates once, later builds only the app crate, whose
embedded config differs per app. Builds in that target directory take turns (a file lock), and run
niced with CARGO_BUILD_JOBS (2 unless set) so a build shares the machine.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from components.paths import REPO_ROOT
from core.errors import OneclickError, UserError
from core.settings import settings

LINUX_BUNDLES = ("deb", "rpm")  # AppImage needs linuxdeploy downloaded at build time: CI only
_TAIL = 3000


class DesktopBuildError(OneclickError, RuntimeError):
    """The Tauri build failed; the message has the end of its log and where the whole log is."""


class DesktopToolMissing(UserError, RuntimeError):
    """A tool the Linux build needs is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Artifact:
    kind: str  # deb | rpm
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BuildResult:
    artifacts: list[Artifact]
    seconds: float
    log: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "artifacts": [asdict(a) for a in self.artifacts],
                "seconds": round(self.seconds, 1),
                "log": self.log,
            }
        )


def cache_root() -> Path:
    """Cargo home and target dir of desktop builds: ONECLICK_DESKTOP_CACHE (a CI cache restores it),
    else desktop-cache/ under the state directory."""
    return settings().paths.desktop_cache


def tauri_cli() -> str:
    pinned = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "tauri"
    if pinned.is_file():
        return str(pinned)
    found = shutil.which("tauri")
    if found is None:
        raise DesktopToolMissing(
            "desktop: the Tauri CLI is not installed; run scripts/setup (it installs @tauri-apps/cli "
            "from tools/node)"
        )
    return found


def check_linux_toolchain() -> None:
    """Cargo and WebKitGTK 4.1's development files, before anything starts."""
    if shutil.which("cargo") is None:
        raise DesktopToolMissing("desktop: cargo is not installed; install Rust (rustup) and run again")
    probe = subprocess.run(
        ["pkg-config", "--exists", "webkit2gtk-4.1", "gtk+-3.0", "librsvg-2.0"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        raise DesktopToolMissing(
            "desktop: WebKitGTK 4.1 / GTK 3 development packages are missing; run "
            "ONECLICK_DESKTOP=1 scripts/setup (installs libwebkit2gtk-4.1-dev and the rest)"
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_environment(cache: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "CARGO_HOME": str(cache / "cargo-home"),
        "CARGO_TARGET_DIR": str(cache / "target"),
        "CARGO_BUILD_JOBS": os.environ.get("CARGO_BUILD_JOBS", "2"),
        "CI": "true",  # the Tauri CLI asks no questions
    }
    # rustup's proxies find their toolchains through RUSTUP_HOME, which follows CARGO_HOME's
    # default location unless set: keep the machine's.
    env.setdefault("RUSTUP_HOME", str(Path.home() / ".rustup"))
    return env


def build_linux(
    project_dir: Path,
    out_dir: Path,
    *,
    features: list[str] | None = None,
    cache: Path | None = None,
    on_line: Callable[[str], None] | None = None,
) -> BuildResult:
    """`tauri build --bundles deb,rpm` in `project_dir`; the packages are copied to `out_dir`."""
    check_linux_toolchain()
    cache = cache or cache_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / "build.log"
    argv = ["nice", "-n", "10", tauri_cli(), "build", "--ci", "--bundles", ",".join(LINUX_BUNDLES)]
    if features:
        argv += ["--features", ",".join(features)]
    argv += ["--", "--locked"]  # the template's Cargo.lock, exactly
    env = build_environment(cache)
    bundle_dir = cache / "target" / "release" / "bundle"
    started = time.monotonic()
    with _exclusive(cache / "build.lock"):
        shutil.rmtree(bundle_dir, ignore_errors=True)  # another app's packages are not ours
        with log_path.open("w") as log:
            process = subprocess.Popen(
                argv, cwd=project_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            assert process.stdout is not None
            tail: list[str] = []
            for line in process.stdout:
                log.write(line)
                tail = [*tail[-60:], line]
                if on_line is not None:
                    on_line(line.rstrip("\n"))
            code = process.wait()
        if code != 0:
            text = "".join(tail)[-_TAIL:].strip()
            raise DesktopBuildError(f"the Tauri build exited with status {code} (log: {log_path}):\n{text}")
        artifacts = []
        for kind in LINUX_BUNDLES:
            for built in sorted((bundle_dir / kind).glob(f"*.{kind}")):
                target = out_dir / built.name
                shutil.copy2(built, target)
                artifacts.append(Artifact(kind, str(target), target.stat().st_size, sha256_of(target)))
    if not artifacts:
        raise DesktopBuildError(f"the Tauri build made no .deb or .rpm (log: {log_path})")
    return BuildResult(artifacts, time.monotonic() - started, str(log_path))


def parse_result(stdout: str) -> list[dict[str, object]]:
    """The artifacts the command printed; [] when the output is not ours (e.g. a preview)."""
    try:
        data = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    except ValueError:
        return []
    artifacts = data.get("artifacts") if isinstance(data, dict) else None
    return [a for a in artifacts if isinstance(a, dict)] if isinstance(artifacts, list) else []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.desktop.tauri_build")
    parser.add_argument("--project", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--features", default="")
    args = parser.parse_args(argv)
    features = [f for f in args.features.split(",") if f]
    try:
        result = build_linux(args.project, args.out, features=features)
    except (DesktopBuildError, DesktopToolMissing) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
