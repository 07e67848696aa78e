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


def identifier_problem(kind: str, value: str) -> str | None:
    """Why `value` cannot be a Neon `kind` ("role" or "database") name, with the fix; None when it can."""
    if not IDENTIFIER.match(value):
        return (
            f"{value!r} is not a valid {kind} name; use 1-63 lowercase letters, digits and "
            "underscores, starting with a letter or underscore (e.g. 'app_db')"
        )
    reserved = RESERVED_ROLES if kind == "role" else RESERVED_DATABASES
    if value.startswith("pg_") or value in reserved:
        return f"{value!r} is reserved by Neon; choose another {kind} name"
    return None


def region_problem(value: str) -> str | None:
    """Why `value` cannot be a Neon region id, with the fix; None when it can."""
    if REGION_ID.match(value):
        return None
    return f"{value!r} is not a Neon region id; use one like 'aws-us-east-2'"


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
    checks = (
        ("region", region_problem(region_id)),
        ("database_name", identifier_problem("database", database_name)),
        ("role_name", identifier_problem("role", role_name)),
    )
    problems += [(f"{prefix}{field}", message) for field, message in checks if message]
    return problems
