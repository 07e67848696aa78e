"""What Neon accepts as project, region, role and database names, checked before any API call.

Role and database names are held to plain lowercase PostgreSQL identifiers, so they never need
quoting in SQL or escaping in a connection URI; Neon refuses the `pg_` prefix and a few names.
"""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
REGION_ID = re.compile(r"^(?:aws|azure)-[a-z0-9]+(?:-[a-z0-9]+)*$")
PROJECT_NAME_MAX = 64
RESERVED_ROLES = frozenset({"postgres", "cloud_admin", "neon_superuser", "neon_service", "public", "none"})
RESERVED_DATABASES = frozenset({"postgres", "template0", "template1"})


def _identifier(field: str, kind: str, value: str, reserved: frozenset[str]) -> list[tuple[str, str]]:
    if not IDENTIFIER.match(value):
        return [
            (
                field,
                f"{value!r} is not a valid {kind} name; use 1-63 lowercase letters, digits and "
                "underscores, starting with a letter or underscore (e.g. 'app_db')",
            )
        ]
    if value.startswith("pg_") or value in reserved:
        return [(field, f"{value!r} is reserved by Neon; choose another {kind} name")]
    return []


def name_problems(
    project_name: str, region_id: str, database_name: str, role_name: str, prefix: str = "database."
) -> list[tuple[str, str]]:
    """Each bad name as (field, message naming the fix); empty when all are fine."""
    problems: list[tuple[str, str]] = []
    if not project_name.strip() or len(project_name) > PROJECT_NAME_MAX or not project_name.isprintable():
        problems.append(
            (
                f"{prefix}project_name",
                f"{project_name!r} is not a valid Neon project name; "
                f"use 1-{PROJECT_NAME_MAX} printable characters",
            )
        )
    if not REGION_ID.match(region_id):
        problems.append(
            (f"{prefix}region", f"{region_id!r} is not a Neon region id; use one like 'aws-us-east-2'")
        )
    problems += _identifier(f"{prefix}database_name", "database", database_name, RESERVED_DATABASES)
    problems += _identifier(f"{prefix}role_name", "role", role_name, RESERVED_ROLES)
    return problems
