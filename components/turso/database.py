"""TursoDatabase: a Turso database with a full-access auth token (type
`pulumi-python:dynamic/turso:Database`)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.errors import SpecError
from components.turso.names import database_name_problem
from components.turso.provider import TursoDatabaseProvider
from components.typed_resource import TypedResource


@dataclass(frozen=True)
class TursoDatabaseArgs:
    name: str
    """The database's name in the organization (spec `database.name`); a change replaces it."""
    group: str
    """The Turso group (placement) it is created in; a change replaces it."""
    api_url: str
    """The Platform API base, e.g. https://api.turso.tech (the sandbox's URL when targeting it)."""
    org: str
    """The organization slug the database belongs to."""
    api_token: pulumi.Input[str]
    """A Platform API token (secret): reaches the provider only as a secret input."""

    def __post_init__(self) -> None:
        # Checked here too so a hand-written program fails before any API call.
        if problem := database_name_problem(self.name):
            raise SpecError.single("database.name", problem)


class TursoDatabase(TypedResource, module="turso", name="Database"):
    """A Turso database; outputs its libSQL URL and a full-access token (secret)."""

    SECRET_OUTPUTS = ("api_token", "auth_token")

    name: pulumi.Output[str]
    db_id: pulumi.Output[str]
    hostname: pulumi.Output[str]
    url: pulumi.Output[str]
    auth_token: pulumi.Output[str]
    primary_region: pulumi.Output[str]

    def __init__(
        self, name: str, args: TursoDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        inputs = {
            "name": args.name,
            "group": args.group,
            "api_url": args.api_url,
            "org": args.org,
            "api_token": pulumi.Output.secret(args.api_token),
        }
        super().__init__(TursoDatabaseProvider(), name, inputs, opts)
