"""Installed packages, cached by the lockfile's hash and hard-linked into each build's work copy.

`npm ci` runs once per lockfile (about a minute and 1 GB for a Next.js app); every later build of any
source with that lockfile gets the same `node_modules` in about a second. It has to be a real folder
inside the work copy: Next's bundler (Turbopack) refuses a `node_modules` symbolic link that points
outside the project ("Symlink [project]/node_modules is invalid, it points out of the filesystem
root"), so the files are hard-linked (`cp -al`), which needs the cache and the work copies on one
file system (both live under `cache_root`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from webbuild.errors import BuildFailed
from webbuild.fingerprint import LOCKFILE
from webbuild.process import run_step


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if missing), so concurrent builds take turns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def installed(
    source: Path,
    lock_hash: str,
    cache_root: Path,
    *,
    env: Mapping[str, str],
    deadline: float,
    on_line: Callable[[str], None] | None,
) -> Path:
    """The cached `node_modules` for `source`'s lockfile, installed with `npm ci` when missing."""
    folder = cache_root / "deps" / lock_hash
    modules = folder / "node_modules"
    with locked(cache_root / "deps" / f"{lock_hash}.lock"):
        if modules.is_dir():
            if on_line:
                on_line(f"> npm ci: cached ({lock_hash[:12]})")
            return modules
        staging = cache_root / "deps" / f".{lock_hash}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        # Only the manifest and the lockfile: a project's .npmrc (another registry, tokens) is not used.
        for name in ("package.json", LOCKFILE):
            shutil.copyfile(source / name, staging / name)
        npm = shutil.which("npm")
        if npm is None:
            raise BuildFailed("npm is not installed", fix="install Node.js 20 with npm")
        try:
            # No install scripts: nothing this needs has one, and they would run the packages' code.
            run_step(
                "npm ci",
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
                cwd=staging,
                env=env,
                deadline=deadline,
                on_line=on_line,
            )
            folder.mkdir(parents=True, exist_ok=True)
            (staging / "node_modules").rename(modules)  # whole or not at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return modules


def link_into(modules: Path, work: Path) -> None:
    """Give `work` its own `node_modules` made of hard links to the cached files."""
    done = subprocess.run(
        ["cp", "-al", str(modules), str(work / "node_modules")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BuildFailed(
            f"could not link the installed packages into the build folder: {done.stderr.strip()}"
        )
