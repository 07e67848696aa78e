"""Reading Pulumi URNs: which component a resource belongs to, and a short name for reports."""

from __future__ import annotations

DYNAMIC = "pulumi-python:dynamic:Resource"


def resource_name(urn: str) -> str:
    return urn.split("::")[-1]


def type_chain(urn: str) -> list[str]:
    """`urn:pulumi:s::p::a:b:A$c:d:C::name` -> ["a:b:A", "c:d:C"] (outermost parent first)."""
    parts = urn.split("::")
    return parts[-2].split("$") if len(parts) >= 4 else []


def resource_type(urn: str) -> str:
    """What the resource is: its own type, or its component's for a dynamic resource (whose own type
    says only that a Python provider manages it)."""
    chain = type_chain(urn)
    if not chain:
        return ""
    if chain[-1] == DYNAMIC and len(chain) >= 2:
        return chain[-2]
    return chain[-1]
