"""The `*.localhost` host names a sandbox hands out right now, read from its saved state.

RFC 6761 reserves `.localhost` for this machine and curl (7.78+) and browsers resolve any such
name to loopback themselves, but the system resolver (glibc's getaddrinfo, which Node, Python and
the Rust clients use) knows only what /etc/hosts says. `oneclick sandbox hosts` prints or installs
these names there (sandbox/hostsfile.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.cloudflare.state import PAGES_DOMAIN, branch_label
from sandbox.turso.state import HOST_SUFFIX


def _turso(data: dict[str, Any]) -> list[str]:
    orgs: dict[str, Any] = data.get("turso", {}).get("orgs", {})
    return [f"{name}-{org}{HOST_SUFFIX}" for org, node in orgs.items() for name in node.get("databases", {})]


def _pages(data: dict[str, Any]) -> list[str]:
    root: dict[str, Any] = data.get("cloudflare", {})
    deployments: dict[str, Any] = root.get("deployments", {})
    names: list[str] = []
    for project in root.get("projects", {}).values():
        site = f"{project['name']}.{PAGES_DOMAIN}"
        names.append(site)
        for deployment_id in project.get("deployment_ids", []):
            deployment = deployments.get(deployment_id)
            if deployment is not None:
                names.append(f"{deployment['short_id']}.{site}")
                names.append(f"{branch_label(deployment.get('branch') or '')}.{site}")
    return names


def current(directory: Path) -> list[str]:
    """Every host name the sandbox whose state is in `directory` serves, sorted, without ports."""
    try:
        data: dict[str, Any] = json.loads((directory / "state.json").read_text())
    except FileNotFoundError:
        return []
    return sorted({name.lower() for name in [*_turso(data), *_pages(data)]})
