"""Dynamic provider for one Neon project: its default branch, owner role, database and URI.

Credentials reach the provider only through the resource's (secret) inputs, never through the
provider object itself, because Pulumi stores the pickled provider in the stack's state.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pulumi.dynamic import CreateResult, UpdateResult

from components.neon.client import NeonClient
from components.neon.models import Project
from components.vendor_provider import VendorProvider
from core.http import VendorError

# Inputs that pin the project's place and contents: changing one means a new project.
IDENTITY = ("region_id", "database_name", "role_name", "api_url")
INPUTS = ("project_name", *IDENTITY, "api_key")
# Outputs that stay put when only the project name or the API key changes.
STABLE = ("project_id", "branch_id", "host", "region_id", "database_name", "role_name")


def client_for(props: dict[str, Any]) -> NeonClient:
    return NeonClient(str(props["api_key"]), base_url=str(props["api_url"]))


def _default_branch(neon: NeonClient, project_id: str, known: str | None) -> str:
    branches = neon.list_branches(project_id)
    ids = [b.id for b in branches]
    if known in ids:
        return str(known)
    return next((b.id for b in branches if b.default), ids[0] if ids else "")


def _observe(neon: NeonClient, project: Project, props: dict[str, Any]) -> dict[str, Any]:
    """Outputs as the cloud has them now; a role or database gone missing reads as an empty name."""
    branch_id = _default_branch(neon, project.id, props.get("branch_id"))
    endpoints = neon.list_endpoints(project.id, branch_id) if branch_id else []
    database_name, role_name = str(props["database_name"]), str(props["role_name"])
    databases = {d.name for d in neon.list_databases(project.id, branch_id)} if branch_id else set()
    roles = {r.name for r in neon.list_roles(project.id, branch_id)} if branch_id else set()
    present = database_name in databases and role_name in roles
    uri = (
        neon.connection_uri(project.id, database_name, role_name, branch_id) if present and endpoints else ""
    )
    return {
        **{key: props[key] for key in INPUTS},
        "project_name": project.name,
        "region_id": project.region_id,
        "database_name": database_name if database_name in databases else "",
        "role_name": role_name if role_name in roles else "",
        "project_id": project.id,
        "branch_id": branch_id,
        "host": endpoints[0].host if endpoints else "",
        "connection_uri": uri,
    }


class NeonProjectProvider(VendorProvider[NeonClient]):
    IDENTITY = IDENTITY
    IN_PLACE = ("project_name", "api_key")
    INPUTS = INPUTS
    STABLE = STABLE  # project ids are random and names need not be unique: the new one can come first

    def client(self, props: dict[str, Any]) -> NeonClient:
        return client_for(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.client(props) as neon:
            created = neon.create_project(
                str(props["project_name"]),
                region_id=str(props["region_id"]),
                database_name=str(props["database_name"]),
                role_name=str(props["role_name"]),
            )
            try:
                outs = _observe(neon, created.project, {**props, "branch_id": created.branch.id})
            except Exception:
                # Pulumi never learns the id of a create that fails: do not leave the project behind.
                with contextlib.suppress(VendorError):
                    neon.delete_project(created.project.id)
                raise
        return CreateResult(id_=created.project.id, outs=outs)

    def observe(self, client: NeonClient, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        return _observe(client, client.get_project(id_), props)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = {**olds, "api_key": news["api_key"]}
        with self.client(news) as neon:
            if olds.get("project_name") != news["project_name"]:
                outs["project_name"] = neon.update_project(id_, str(news["project_name"])).name
            # The password may have been reset since the last refresh: hand out the current URI.
            outs["connection_uri"] = neon.connection_uri(
                id_, str(olds["database_name"]), str(olds["role_name"]), str(olds["branch_id"])
            )
        return UpdateResult(outs=outs)

    def remove(self, client: NeonClient, id_: str, props: dict[str, Any]) -> None:
        client.delete_project(id_)
