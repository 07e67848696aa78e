"""The build of `web.source`: one cached build that the deploy runs before the engine starts and the
Pulumi program asks for again (a cache hit), so `pulumi up` by hand deploys the very same output.

Builds are cached under the state directory by the hash of the source and its lockfile: an unchanged
app is never built twice.
"""

from __future__ import annotations

from collections.abc import Callable

from components.paths import build_cache_root
from components.spec import AppSpec
from webbuild import BuildFailed, BuiltSite, build_site

__all__ = ["BuildFailed", "BuiltSite", "build_web"]


def build_web(spec: AppSpec, on_line: Callable[[str], None] | None = None) -> BuiltSite:
    """Build the spec's `web.source` (or take the cached build); BuildFailed carries the build's lines."""
    web = spec.web
    if web is None or web.source is None or web.framework is None:
        raise ValueError(f"app {spec.id!r} has no web.source to build")
    return build_site(
        web.source,
        framework=web.framework,
        database_provider=spec.database.provider,
        cache_root=build_cache_root(),
        on_line=on_line,
    )
