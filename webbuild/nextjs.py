"""The Next.js recipe: OpenNext for Cloudflare builds the app, wrangler bundles its Worker.

Chosen over next-on-pages (see README, "Full-stack apps"): OpenNext is maintained and supports
Next 16, runs Node-runtime routes (Prisma, NextAuth) without `runtime = "edge"` everywhere, and does
not run `npm install` itself, so the cached packages are used as they are.

Steps, in the work copy: the Prisma client is generated from the schema written for the deployed
database (`prisma generate`), `opennextjs-cloudflare build` (which runs the app's `next build`)
writes `.open-next/` (the Worker and its assets), `wrangler deploy --dry-run --outdir` bundles the
Worker into one ES module plus its wasm, and `pages.assemble` lays that out as a Pages output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from webbuild.errors import BuildFailed
from webbuild.pages import assemble
from webbuild.process import run_step

# Written into the work copy only when the app has none: what OpenNext and wrangler need to build.
DEFAULT_OPEN_NEXT_CONFIG = """import { defineCloudflareConfig } from "@opennextjs/cloudflare";

export default defineCloudflareConfig({});
"""
DEFAULT_WRANGLER_CONFIG = """{
  "name": "app",
  "main": ".open-next/worker.js",
  "compatibility_date": "2025-09-01",
  "compatibility_flags": ["nodejs_compat"],
  "assets": { "directory": ".open-next/assets", "binding": "ASSETS" }
}
"""
WRANGLER_CONFIGS = ("wrangler.jsonc", "wrangler.json", "wrangler.toml")
OPEN_NEXT_CONFIGS = ("open-next.config.ts", "open-next.config.js", "open-next.config.mjs")
# The packages the recipe runs, with the versions it is tested with.
TOOLS = {"opennextjs-cloudflare": "@opennextjs/cloudflare 1.20.2", "wrangler": "wrangler 4.86.0"}
BUNDLE_DIR = ".oneclick-bundle"
WORKER_MAIN = "worker.js"


def _tool(work: Path, name: str, package: str) -> str:
    path = work / "node_modules" / ".bin" / name
    if not path.exists():
        raise BuildFailed(
            f"{package.split()[0]} is not among the app's installed packages; the Next.js build needs it",
            fix=f"add {package.replace(' ', '@')} to devDependencies (npm install --save-dev --save-exact)",
        )
    return str(path)


def build(
    work: Path,
    out: Path,
    *,
    prisma_schema: Path | None,
    env: Mapping[str, str],
    deadline: float,
    on_line: Callable[[str], None] | None,
) -> None:
    """Build the Next.js app in `work` (source + node_modules) into the Pages output `out`."""
    if not (work / "package.json").is_file():
        raise BuildFailed("the source has no package.json", fix="give the Next.js project's root folder")
    tools = {name: _tool(work, name, package) for name, package in TOOLS.items()}
    if not any((work / name).exists() for name in OPEN_NEXT_CONFIGS):
        (work / "open-next.config.ts").write_text(DEFAULT_OPEN_NEXT_CONFIG)
    if not any((work / name).exists() for name in WRANGLER_CONFIGS):
        (work / "wrangler.jsonc").write_text(DEFAULT_WRANGLER_CONFIG)

    def run(name: str, command: list[str]) -> None:
        run_step(name, command, cwd=work, env=env, deadline=deadline, on_line=on_line)

    if prisma_schema is not None:
        run(
            "prisma generate",
            [_tool(work, "prisma", "prisma 7.10.1"), "generate", "--schema", str(prisma_schema)],
        )
    run("opennextjs-cloudflare build", [tools["opennextjs-cloudflare"], "build"])
    run("wrangler bundle", [tools["wrangler"], "deploy", "--dry-run", "--outdir", BUNDLE_DIR])
    assets = work / ".open-next" / "assets"
    if not assets.is_dir():
        raise BuildFailed("OpenNext wrote no .open-next/assets folder; see the build's lines above")
    assemble(assets, work / BUNDLE_DIR, _entry(work / BUNDLE_DIR), out)


def _entry(bundle: Path) -> str:
    """The bundle's entry module: named after the wrangler config's `main` (worker.js by default)."""
    if (bundle / WORKER_MAIN).is_file():
        return WORKER_MAIN
    scripts = sorted(p.name for p in bundle.glob("*.js"))
    if len(scripts) != 1:
        raise BuildFailed(
            f"cannot tell the Worker's entry module among {scripts or 'no modules'} in the bundle"
        )
    return scripts[0]
