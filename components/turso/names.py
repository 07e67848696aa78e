"""What Turso accepts as database and group names: one rule for the spec and the component."""

from __future__ import annotations

import re

DATABASE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
GROUP_NAME = DATABASE_NAME.pattern  # groups follow the same rule; a pattern string for pydantic's Field


def database_name_problem(value: str) -> str | None:
    """Why `value` cannot be a Turso database name, with the fix; None when it can."""
    if DATABASE_NAME.match(value):
        return None
    return (
        f"{value!r} is not a valid Turso database name; use 1-64 lowercase letters, digits "
        "and dashes, starting and ending with a letter or digit (e.g. 'my-app-db')"
    )
