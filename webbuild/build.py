"""`build_site`: a framework app's source folder to a Cloudflare Pages output, cached twice.

    cache_root/
      deps/<lockfile hash>/node_modules   `npm ci` once per lockfile (deps.py)
      sites/<build key>/                  finished Pages outputs, by the hash of everything that
                                          goes in (fingerprint.py); an unchanged app is not rebuilt
      work/<key>-<pid>/                   one build's copy of the source
      trash/                              used copies, being deleted in the background

A build runs in a copy, never in the source folder, with an environment of its own: no variable of
the caller's (vendor tokens, passphrases) reaches the app's build code, and nothing is fetched but
packages from the npm registry. Outputs appear under `sites/` whole (a rename) or not at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dbtools.prisma_schema import load_schema, parse_schema
from dbtools.transform import DEFAULT_CLIENT_OUTPUT, transform_schema
from webbuild.deps import installed, link_into, locked
from webbuild.errors import BuildFailed
from webbuild.fingerprint import build_key, lockfile_hash, read_source
from webbuild.nextjs import build as build_nextjs

Framework = Literal["nextjs"]
# The database the app is built for: by engine (sqlite = libSQL/Turso, postgresql) or by the spec's
# provider name (turso; neon and byo are PostgreSQL).
DatabaseProvider = Literal["sqlite", "postgresql", "turso", "neon", "byo"]
_SCHEMA_TARGET = {
    "sqlite": "turso",
    "turso": "turso",
    "postgresql": "postgresql",
    "neon": "postgresql",
    "byo": "postgresql",
}
SCHEMA = Path("prisma") / "schema.prisma"
DEFAULT_TIMEOUT_SECONDS = 900.0
# What of the caller's environment a build sees: where tools are, the locale, npm's own settings.
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
_BUILD_ENV = {
    "CI": "1",  # no prompts
    "NEXT_TELEMETRY_DISABLED": "1",
    "CHECKPOINT_DISABLE": "1",  # Prisma's update check
    "WRANGLER_SEND_METRICS": "false",
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
}


@dataclass(frozen=True)
class BuiltSite:
    """A Pages output folder: static assets, `_worker.js/` (entry `index.js`), `_routes.json`, `_headers`."""

    out_dir: Path
    key: str  # the build key: sha256 of the source, lockfile, framework, database and toolchain
    cached: bool  # True when an earlier build with the same key was reused
    seconds: float


def build_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.lower().startswith("npm_config_")})
    # Prisma 7 downloads its schema engine unless one is named; `generate` never runs it (it is wasm).
    env["PRISMA_SCHEMA_ENGINE_BINARY"] = shutil.which("false") or "/bin/false"
    env.update(_BUILD_ENV)
    return env


def build_site(
    source: Path,
    *,
    framework: Framework,
    database_provider: DatabaseProvider | None,
    cache_root: Path,
    on_line: Callable[[str], None] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> BuiltSite:
    """Build `source` for Pages (or return the cached output of the same inputs).

    `database_provider` picks the Prisma schema the client is generated from (`prisma/schema.prisma`
    rewritten for Prisma 7 and that database); None builds without Prisma. Build output lines go to
    `on_line` as they come. Raises BuildFailed (field `web.source`) with the failing step's lines.
    """
    started = time.monotonic()
    if framework != "nextjs":
        raise BuildFailed(f"unknown framework {framework!r}", fix="use framework: nextjs")
    source = source.resolve()
    if not (source / "package.json").is_file():
        raise BuildFailed(f"{source} has no package.json", fix="give the app's project folder as web.source")
    target = _SCHEMA_TARGET[database_provider] if database_provider else None
    schema_text, generated = _prisma_schema(source, target)
    files = read_source(source, generated)
    key = build_key(files, framework, target)
    sites = cache_root / "sites"
    site = sites / key
    if site.is_dir():
        return BuiltSite(site, key, True, time.monotonic() - started)
    with locked(sites / f"{key}.lock"):
        if site.is_dir():  # another process built it while this one waited
            return BuiltSite(site, key, True, time.monotonic() - started)
        env = build_env()
        deadline = started + timeout
        modules = installed(
            source, lockfile_hash(source), cache_root, env=env, deadline=deadline, on_line=on_line
        )
        work = cache_root / "work" / f"{key[:16]}-{os.getpid()}"
        staged = sites / f".{key}.{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(staged, ignore_errors=True)
        try:
            for relative in files.files:
                (work / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / relative, work / relative)
            link_into(modules, work)
            if schema_text is not None:
                (work / SCHEMA).write_text(schema_text)
            build_nextjs(
                work,
                staged,
                prisma_schema=work / SCHEMA if schema_text is not None else None,
                env=env,
                deadline=deadline,
                on_line=on_line,
            )
            staged.rename(site)
        finally:
            discard(work, cache_root)
            shutil.rmtree(staged, ignore_errors=True)
    return BuiltSite(site, key, False, time.monotonic() - started)


def discard(folder: Path, cache_root: Path) -> None:
    """Remove a used work copy without waiting: unlinking its ~50,000 hard-linked package files takes
    10+ s here, longer than the rest of a cached-package build's overhead. The folder is renamed into
    `trash/` at once and deleted by a detached `rm -rf`, which outlives this process; a later build
    sweeps whatever an interrupted one left there."""
    if not folder.exists():
        return
    trash = cache_root / "trash"
    trash.mkdir(parents=True, exist_ok=True)
    target = trash / f"{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        folder.rename(target)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return
    _remove_in_background(trash)


def _remove_in_background(trash: Path) -> None:
    entries = [str(entry) for entry in trash.iterdir()]
    if entries:
        # `sh` starts rm in the background and returns at once, so nothing is left to wait for.
        subprocess.run(
            ["sh", "-c", 'rm -rf -- "$@" &', "sh", *entries],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            check=False,
        )


def _prisma_schema(source: Path, target: str | None) -> tuple[str | None, frozenset[str]]:
    """The Prisma 7 schema text to build with, and the folder its client is generated into
    (relative to `source`; the build writes it, so it is not part of the source)."""
    if target is None:
        return None, frozenset()
    path = source / SCHEMA
    if not path.is_file():
        raise BuildFailed(
            f"{SCHEMA} is missing in {source}; the app has a database, its Prisma client is built from it",
            fix=f"put the app's Prisma schema at {SCHEMA.as_posix()}",
        )
    text = transform_schema(load_schema(path, "web.source"), target, prisma_version=7)
    outputs = {
        g.string("output") or DEFAULT_CLIENT_OUTPUT
        for g in parse_schema(text).generators
        if g.string("provider") == "prisma-client"
    }
    generated: set[str] = set()
    for output in outputs:
        folder = (path.parent / output).resolve()
        if not folder.is_relative_to(source) or folder == source:
            raise BuildFailed(
                f"the Prisma client's output {output!r} is outside the project folder",
                fix='generate it inside the project, e.g. output = "../generated/prisma"',
            )
        generated.add(folder.relative_to(source).as_posix())
    return text, frozenset(generated)
