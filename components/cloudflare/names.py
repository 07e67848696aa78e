"""What Cloudflare Pages accepts as a project name: one rule for the spec and the component."""

from __future__ import annotations

import re

PAGES_PROJECT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,56}[a-z0-9])?$")


def project_name_problem(value: str) -> str | None:
    """Why `value` cannot be a Pages project name, with the fix; None when it can."""
    if PAGES_PROJECT_NAME.match(value):
        return None
    return f"{value!r} is not a valid Pages project name; use 1-58 lowercase letters, digits and dashes"
