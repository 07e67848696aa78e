"""NeonProject: a Neon Postgres project with its owner role and database, as a ComponentResource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
from pulumi.dynamic import Resource

from components.errors import SpecError
from components.neon.names import name_problems
from components.neon.provider import NeonProjectProvider

SECRET_OUTPUTS = ["api_key", "connection_uri"]


@dataclass(frozen=True)
class NeonProjectArgs:
    project_name: str
    region_id: str
    database_name: str
    role_name: str
    api_url: str  # the API base, e.g. https://console.neon.tech/api/v2
    api_key: pulumi.Input[str]

    def __post_init__(self) -> None:
        # Checked here too so a hand-written program fails before any API call.
        problems = name_problems(self.project_name, self.region_id, self.database_name, self.role_name)
        if not self.api_url.startswith(("https://", "http://")):
            problems.append(("api_url", f"{self.api_url!r} is not an http(s) URL; set NEON_API_URL to one"))
        if problems:
            raise SpecError(problems)


class NeonProjectResource(Resource):
    """The provider-backed resource; use NeonProject."""

    project_id: pulumi.Output[str]
    branch_id: pulumi.Output[str]
    host: pulumi.Output[str]
    database_name: pulumi.Output[str]
    role_name: pulumi.Output[str]
    connection_uri: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        outs = dict.fromkeys(("project_id", "branch_id", "host", "connection_uri"))
        super().__init__(NeonProjectProvider(), name, {**props, **outs}, opts)


class NeonProject(pulumi.ComponentResource):
    """A Neon project; outputs its host, ids and a connection URI for the owner role (secret)."""

    def __init__(self, name: str, args: NeonProjectArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("oneclick:neon:Project", name, None, opts)
        self.project = NeonProjectResource(
            name,
            {
                "project_name": args.project_name,
                "region_id": args.region_id,
                "database_name": args.database_name,
                "role_name": args.role_name,
                "api_url": args.api_url,
                "api_key": pulumi.Output.secret(args.api_key),
            },
            pulumi.ResourceOptions(parent=self, additional_secret_outputs=SECRET_OUTPUTS),
        )
        self.project_id = self.project.project_id
        self.branch_id = self.project.branch_id
        self.host = self.project.host
        self.database_name = self.project.database_name
        self.role_name = self.project.role_name
        # The URI embeds the role's password.
        self.connection_uri: pulumi.Output[str] = pulumi.Output.secret(cast(Any, self.project.connection_uri))
        self.register_outputs(
            {
                "project_id": self.project_id,
                "branch_id": self.branch_id,
                "host": self.host,
                "database_name": self.database_name,
                "role_name": self.role_name,
                "connection_uri": self.connection_uri,
            }
        )
