"""NeonProject: a Neon Postgres project with its owner role and database (type
`pulumi-python:dynamic/neon:Project`)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.errors import SpecError
from components.neon.names import name_problems
from components.neon.provider import NeonProjectProvider
from components.typed_resource import TypedResource


@dataclass(frozen=True)
class NeonProjectArgs:
    project_name: str
    """The project's name (the app id); a change replaces the project."""
    region_id: str
    """The Neon region id, e.g. aws-us-east-2 (spec `database.region`); a change replaces it."""
    database_name: str
    """The database made in the default branch (spec `database.databaseName`)."""
    role_name: str
    """The database's owner role (spec `database.roleName`); its password is in `connection_uri`."""
    api_url: str
    """The API base, e.g. https://console.neon.tech/api/v2 (the sandbox's URL when targeting it)."""
    api_key: pulumi.Input[str]
    """A Neon API key (secret): reaches the provider only as a secret input."""

    def __post_init__(self) -> None:
        # Checked here too so a hand-written program fails before any API call.
        problems = name_problems(self.project_name, self.region_id, self.database_name, self.role_name)
        if not self.api_url.startswith(("https://", "http://")):
            problems.append(("api_url", f"{self.api_url!r} is not an http(s) URL; set NEON_API_URL to one"))
        if problems:
            raise SpecError(problems)


class NeonProject(TypedResource, module="neon", name="Project"):
    """A Neon project; outputs its host, ids and a connection URI for the owner role (secret: it
    embeds the role's password)."""

    SECRET_OUTPUTS = ("api_key", "connection_uri")

    project_id: pulumi.Output[str]
    branch_id: pulumi.Output[str]
    host: pulumi.Output[str]
    database_name: pulumi.Output[str]
    role_name: pulumi.Output[str]
    connection_uri: pulumi.Output[str]

    def __init__(self, name: str, args: NeonProjectArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        inputs = {
            "project_name": args.project_name,
            "region_id": args.region_id,
            "database_name": args.database_name,
            "role_name": args.role_name,
            "api_url": args.api_url,
            "api_key": pulumi.Output.secret(args.api_key),
        }
        super().__init__(NeonProjectProvider(), name, inputs, opts)
