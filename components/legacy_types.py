"""The types dynamic resources had before each named its own, for aliases and the state upgrade.

Until then every dynamic resource had the SDK's one type, `pulumi-python:dynamic:Resource`; the
vendor ones sat alone under a ComponentResource that only gave them a name (`oneclick:turso:Database`
around the Turso database). Now the resource itself is typed (`pulumi-python:dynamic/turso:Database`)
and sits where the wrapper was. Deployed stacks still hold the old shape: resources alias their old
identity (components/typed_resource.py) and automation/state_upgrade.py rewrites the state once.
Plain data, no Pulumi import: automation reads it before any program runs.
"""

from __future__ import annotations

DYNAMIC = "pulumi-python:dynamic:Resource"  # the one type every dynamic resource used to have

# The wrapper component's type -> the type its only child, the dynamic resource, has now.
WRAPPED: dict[str, str] = {
    "oneclick:turso:Database": "pulumi-python:dynamic/turso:Database",
    "oneclick:neon:Project": "pulumi-python:dynamic/neon:Project",
    "oneclick:byo:Database": "pulumi-python:dynamic/byo:Database",
    "oneclick:database:Schema": "pulumi-python:dynamic/database:Schema",
    "oneclick:database:PreviewData": "pulumi-python:dynamic/database:PreviewData",
    "oneclick:cloudflare:PagesProject": "pulumi-python:dynamic/cloudflare:PagesProject",
    "oneclick:cloudflare:CustomDomain": "pulumi-python:dynamic/cloudflare:CustomDomain",
}
WRAPPER_OF: dict[str, str] = {new: old for old, new in WRAPPED.items()}
