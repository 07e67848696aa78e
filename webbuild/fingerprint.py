"""What a build's result depends on, as hashes: the source files, the lockfile, the toolchain.

The source is walked once, in a fixed order, skipping what a build or an editor writes (installed
packages, build output, the generated Prisma client); a symbolic link anywhere else is refused, so
a build never reads outside its source folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from webbuild.errors import BuildFailed

# Folders that hold installed packages or build output, at any depth; never part of the source.
SKIPPED_DIRS = frozenset({"node_modules", ".next", ".open-next", ".wrangler", ".vercel", ".git", ".turbo"})
# Folders skipped at the top of the source only (a nested `out/` may be the app's own code).
SKIPPED_TOP_DIRS = frozenset({"out"})
# Files a build or an editor rewrites; hashing them would rebuild an unchanged app.
SKIPPED_FILES = frozenset({"next-env.d.ts", "tsconfig.tsbuildinfo", ".DS_Store"})
LOCKFILE = "package-lock.json"
# Bump when the way a build is made or laid out changes, so older cached outputs are not reused.
RECIPE = "webbuild-1"


@dataclass(frozen=True)
class Source:
    """The files of one source folder (relative paths, sorted) and their combined hash."""

    root: Path
    files: tuple[str, ...]
    digest: str


def _walk(root: Path, skipped: frozenset[str]) -> Iterator[str]:
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        top = here == root
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS and not (top and d in SKIPPED_TOP_DIRS) and _plain(here / d, root)
        )
        for name in sorted(files):
            relative = (here / name).relative_to(root).as_posix()
            if name in SKIPPED_FILES or relative in skipped:
                continue
            if _plain(here / name, root):
                yield relative


def _plain(path: Path, root: Path) -> bool:
    if path.is_symlink():
        raise BuildFailed(
            f"{path.relative_to(root)} is a symbolic link; a source folder must hold plain files only",
            fix="replace the link with the file or folder it points at",
        )
    return True


def read_source(root: Path, generated: frozenset[str] = frozenset()) -> Source:
    """`root`'s files and their hash; `generated` are folders (relative) the build writes itself."""
    if not root.is_dir():
        raise BuildFailed(f"{root} is not a folder", fix="give the app's project folder (with package.json)")
    files = tuple(
        f for f in _walk(root, frozenset()) if not any(f == g or f.startswith(g + "/") for g in generated)
    )
    digest = hashlib.sha256()
    for relative in files:
        content = (root / relative).read_bytes()
        digest.update(f"{relative}\0{len(content)}\0".encode())
        digest.update(content)
    return Source(root, files, digest.hexdigest())


def lockfile_hash(root: Path) -> str:
    """The hash the installed packages are cached by: the lockfile and the Node/npm that install it."""
    lockfile = root / LOCKFILE
    if not lockfile.is_file():
        raise BuildFailed(
            f"{LOCKFILE} is missing in {root}; builds install exactly what a lockfile names",
            fix="run `npm install` in the project and add package-lock.json",
        )
    digest = hashlib.sha256(lockfile.read_bytes())
    digest.update(json.dumps(toolchain(), sort_keys=True).encode())
    return digest.hexdigest()


@cache
def toolchain() -> dict[str, str]:
    """Node's and npm's versions (npm's read from its package.json: `npm --version` costs ~0.3 s)."""
    node = shutil.which("node")
    if node is None:
        raise BuildFailed("Node.js is not installed", fix="install Node.js 20 (scripts/setup checks it)")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout.strip()
    npm_package = Path(node).resolve().parent.parent / "lib" / "node_modules" / "npm" / "package.json"
    try:
        npm = str(json.loads(npm_package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        npm = "unknown"
    return {"node": version, "npm": npm, "recipe": RECIPE}


def build_key(source: Source, framework: str, database: str | None) -> str:
    """The hash a finished output is cached by."""
    parts = {"source": source.digest, "framework": framework, "database": database or "", **toolchain()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
