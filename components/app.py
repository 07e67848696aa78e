"""App: everything one deployed app is made of, as one ComponentResource tree."""

from __future__ import annotations

import pulumi

from components.spec import AppSpec
from components.turso.database import TursoDatabase, TursoDatabaseArgs


class App(pulumi.ComponentResource):
    """Database now; hosting, domain, health check and native builds join here as they arrive."""

    def __init__(
        self,
        spec: AppSpec,
        turso: TursoDatabaseArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("oneclick:app:App", spec.id, None, opts)
        self.database = TursoDatabase(f"{spec.id}-db", turso, pulumi.ResourceOptions(parent=self))
        self.register_outputs({"database_url": self.database.url})
