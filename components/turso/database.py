"""TursoDatabase: a Turso database with a full-access auth token, as a ComponentResource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
from pulumi.dynamic import Resource

from components.errors import SpecError
from components.turso.names import database_name_problem
from components.turso.provider import TursoDatabaseProvider

SECRET_OUTPUTS = ["api_token", "auth_token"]


@dataclass(frozen=True)
class TursoDatabaseArgs:
    name: str
    group: str
    api_url: str
    org: str
    api_token: pulumi.Input[str]

    def __post_init__(self) -> None:
        # Checked here too so a hand-written program fails before any API call.
        if problem := database_name_problem(self.name):
            raise SpecError.single("database.name", problem)


class TursoDatabaseResource(Resource):
    """The provider-backed resource; use TursoDatabase."""

    db_id: pulumi.Output[str]
    hostname: pulumi.Output[str]
    url: pulumi.Output[str]
    auth_token: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        outs = {"db_id": None, "hostname": None, "url": None, "auth_token": None, "primary_region": None}
        super().__init__(TursoDatabaseProvider(), name, {**props, **outs}, opts)


class TursoDatabase(pulumi.ComponentResource):
    """A Turso database; outputs its libSQL URL and a full-access token (secret)."""

    def __init__(
        self, name: str, args: TursoDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("oneclick:turso:Database", name, None, opts)
        self.database = TursoDatabaseResource(
            name,
            {
                "name": args.name,
                "group": args.group,
                "api_url": args.api_url,
                "org": args.org,
                "api_token": pulumi.Output.secret(args.api_token),
            },
            pulumi.ResourceOptions(parent=self, additional_secret_outputs=SECRET_OUTPUTS),
        )
        self.name = pulumi.Output.from_input(args.name)
        self.db_id = self.database.db_id
        self.hostname = self.database.hostname
        self.url = self.database.url
        self.auth_token: pulumi.Output[str] = pulumi.Output.secret(cast(Any, self.database.auth_token))
        self.register_outputs(
            {
                "name": self.name,
                "db_id": self.db_id,
                "hostname": self.hostname,
                "url": self.url,
                "auth_token": self.auth_token,
            }
        )
