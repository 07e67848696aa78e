"""webbuild: a framework app's source folder to a Cloudflare Pages output (static assets, the server
half as `_worker.js/`, `_routes.json`), cached by what goes into it.

    built = build_site(Path("examples/shop"), framework="nextjs", database_provider="sqlite",
                       cache_root=Path(".state/builds"), on_line=print)
    built.out_dir, built.key, built.cached, built.seconds

Product layer: it uses dbtools (the Prisma 7 schema) and core; nothing Pulumi, never the sandbox.
`build.py` caches and copies, `deps.py` installs packages once per lockfile, `nextjs.py` is the
Next.js recipe (OpenNext + wrangler), `pages.py` lays out the Pages output, `process.py` runs each
step, `fingerprint.py` hashes the inputs.
"""

from webbuild.build import DEFAULT_TIMEOUT_SECONDS, BuiltSite, DatabaseProvider, Framework, build_site
from webbuild.errors import BuildFailed

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "BuildFailed",
    "BuiltSite",
    "DatabaseProvider",
    "Framework",
    "build_site",
]
