"""Stack config files (`stacks/Pulumi.<app>.yaml`) kept in a PostgreSQL backend beside the state.

The config file holds the stack's secrets salt (`encryptionsalt`) and its encrypted config; Pulumi
reads it from the project directory, which is one host's disk. With state in PostgreSQL any worker
may run any stack, so the file is saved into the backend (key `.oneclick/config/<project>/<app>.yaml`)
after every command that changes it and written back to disk before a stack is opened. Without the
saved salt another host would make a new one and could no longer read the stack's secrets. On the
file backend (one machine) the file on disk is the only copy, as before.
"""

from __future__ import annotations

from functools import cache

import yaml

from automation.environment import backend_url, is_postgres, stack_config_path
from automation.state_blobs import PostgresBlobs
from components.paths import REPO_ROOT


@cache
def project_name() -> str:
    return str(yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["name"])


def config_key(app_id: str, project: str | None = None) -> str:
    return f".oneclick/config/{project or project_name()}/{app_id}.yaml"


def _shared() -> PostgresBlobs | None:
    url = backend_url()
    return _prepared(url) if is_postgres(url) else None


@cache
def _prepared(url: str) -> PostgresBlobs:
    """Once per process and URL: the schema the URL names must exist before Pulumi makes its table."""
    blobs = PostgresBlobs(url)
    blobs.ensure()
    return blobs


def restore(app_id: str) -> None:
    """The saved config file onto this host's disk (when the backend holds one and it differs)."""
    blobs = _shared()
    if blobs is None:
        return
    saved = blobs.read(config_key(app_id))
    if saved is None:
        return
    path = stack_config_path(app_id)
    if not path.exists() or path.read_bytes() != saved:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(saved)


def save(app_id: str) -> None:
    """This host's config file into the backend (after a command changed it)."""
    blobs = _shared()
    path = stack_config_path(app_id)
    if blobs is not None and path.exists():
        blobs.write(config_key(app_id), path.read_bytes())


def forget(app_id: str) -> None:
    """The stack was removed: so is its saved config (a new stack of that name gets a new salt)."""
    blobs = _shared()
    if blobs is not None:
        blobs.delete(config_key(app_id))
