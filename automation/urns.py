"""Reading Pulumi URNs: which component a resource belongs to, and a short name for reports."""

from __future__ import annotations

from components.legacy_types import DYNAMIC, WRAPPED

# The resources' types (components/<vendor>/…: TypedResource subclasses' TYPE).
TURSO_DATABASE = WRAPPED["oneclick:turso:Database"]
NEON_PROJECT = WRAPPED["oneclick:neon:Project"]
BYO_DATABASE = WRAPPED["oneclick:byo:Database"]
DATABASE_SCHEMA = WRAPPED["oneclick:database:Schema"]
PREVIEW_DATA = WRAPPED["oneclick:database:PreviewData"]
PAGES_PROJECT = WRAPPED["oneclick:cloudflare:PagesProject"]
CUSTOM_DOMAIN = WRAPPED["oneclick:cloudflare:CustomDomain"]


def resource_name(urn: str) -> str:
    return urn.split("::")[-1]


def type_chain(urn: str) -> list[str]:
    """`urn:pulumi:s::p::a:b:A$c:d:C::name` -> ["a:b:A", "c:d:C"] (outermost parent first)."""
    parts = urn.split("::")
    return parts[-2].split("$") if len(parts) >= 4 else []


def resource_type(urn: str) -> str:
    """What the resource is: its own type; for one from before dynamic resources named their type
    (`pulumi-python:dynamic:Resource` alone under a wrapper component), the type it has now."""
    chain = type_chain(urn)
    if not chain:
        return ""
    if chain[-1] == DYNAMIC and len(chain) >= 2 and chain[-2] in WRAPPED:
        return WRAPPED[chain[-2]]
    return chain[-1]


def short_type(type_: str) -> str:
    """A type as reports show it: `pulumi-python:dynamic/cloudflare:PagesProject` ->
    `cloudflare:PagesProject`."""
    return type_.removeprefix("pulumi-python:dynamic/")
