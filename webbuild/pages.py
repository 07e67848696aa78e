"""A Cloudflare Pages output folder from a Workers build: the static assets, the Worker bundle as
`_worker.js/` (entry `index.js`), and `_routes.json` sending static paths straight to the assets.

OpenNext targets Workers, where assets are served before the Worker runs and the Worker never
serves them itself; on Pages every request reaches `_worker.js` unless `_routes.json` excludes it.
So every top-level asset is excluded (one rule per file, `/<folder>/*` per folder), within Pages'
limits: at most 100 rules of at most 100 characters.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from webbuild.errors import BuildFailed

ENTRY = "index.js"
MAX_RULES = 100
MAX_RULE_LENGTH = 100
# Names Pages reads as configuration, never as assets; a build's own copies are kept as they are.
PAGES_FILES = frozenset({"_worker.js", "_routes.json", "_headers", "_redirects"})
# Next's hashed build files never change under one name.
IMMUTABLE_HEADERS = "/_next/static/*\n  Cache-Control: public, max-age=31536000, immutable\n"


def routes(assets: Path) -> dict[str, object]:
    """`_routes.json` for these assets: the Worker gets everything but them."""
    exclude: list[str] = []
    for entry in sorted(assets.iterdir()):
        if entry.name in PAGES_FILES:
            continue
        if entry.name == "_next":
            exclude.append("/_next/static/*")  # `_next/image` and `_next/data` are the Worker's
        else:
            exclude.append(f"/{entry.name}/*" if entry.is_dir() else f"/{entry.name}")
    too_long = [rule for rule in exclude if len(rule) > MAX_RULE_LENGTH]
    if too_long or len(exclude) + 1 > MAX_RULES:
        raise BuildFailed(
            f"the app has {len(exclude)} top-level public files and folders"
            + (f" ({too_long[0][:40]}… is longer than {MAX_RULE_LENGTH} characters)" if too_long else "")
            + f"; Pages routes at most {MAX_RULES - 1} of them past the Worker",
            fix="move public files into a few folders (e.g. public/images/)",
        )
    return {
        "version": 1,
        "description": "Built by oneclick: static assets skip the Worker",
        "include": ["/*"],
        "exclude": exclude,
    }


def assemble(assets: Path, bundle: Path, main: str, out: Path) -> None:
    """Write the Pages output into `out` (a new folder): `assets`' files, the `bundle` folder's
    modules under `_worker.js/` with `main` renamed to `index.js`, `_routes.json` and `_headers`."""
    if not (bundle / main).is_file():
        raise BuildFailed(f"the Worker bundle has no entry module {main} (in {bundle})")
    shutil.copytree(assets, out)
    worker = out / "_worker.js"
    if worker.exists():
        raise BuildFailed("public/_worker.js would replace the app's server half", fix="rename or remove it")
    worker.mkdir()
    for module in sorted(bundle.rglob("*")):
        # The source map only helps a debugger and is the biggest file; README.md is wrangler's note.
        if module.is_dir() or module.suffix == ".map" or module.name == "README.md":
            continue
        relative = module.relative_to(bundle).as_posix()
        target = worker / (ENTRY if relative == main else relative)
        if relative == ENTRY and main != ENTRY:
            raise BuildFailed(f"the Worker bundle has a module called {ENTRY} besides its entry {main}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, target)
    (out / "_routes.json").write_text(json.dumps(routes(assets), indent=2) + "\n")
    headers = out / "_headers"
    existing = headers.read_text() if headers.exists() else ""
    if "/_next/static/*" not in existing:
        headers.write_text(
            existing + ("\n" if existing and not existing.endswith("\n") else "") + IMMUTABLE_HEADERS
        )
