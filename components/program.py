"""The one Pulumi program: reads the stack config back into an AppSpec and builds the App."""

from __future__ import annotations

import os
from typing import Any

import pulumi

from components.app import App
from components.errors import SpecError
from components.spec import AppSpec
from components.targets import TargetError, passphrase_problem, turso_target
from components.turso.database import TursoDatabaseArgs


def _turso_args(config: pulumi.Config, spec: AppSpec) -> tuple[TursoDatabaseArgs, bool]:
    """Target recorded in the stack config by `oneclick` or, for a hand-made stack, from the env."""
    recorded: dict[str, Any] | None = config.get_object("turso")
    if recorded is not None:
        token = config.get_secret("tursoApiToken")
        if token is None:
            raise pulumi.RunError(
                "stack config `oneclick:turso` is set but the secret `oneclick:tursoApiToken` is not: "
                "set it with `pulumi config set --secret oneclick:tursoApiToken <token>`"
            )
        is_sandbox = bool(recorded.get("sandbox", False))
        api_url, org = str(recorded["apiUrl"]), str(recorded["org"])
        api_token: pulumi.Input[str] = token
    else:
        try:
            target = turso_target()
        except TargetError as exc:
            raise pulumi.RunError(str(exc)) from None
        is_sandbox, api_url, org, api_token = target.sandbox, target.api_url, target.org, target.api_token
    try:
        args = TursoDatabaseArgs(
            name=spec.database_name, group=spec.database.group, api_url=api_url, org=org, api_token=api_token
        )
    except SpecError as exc:
        raise pulumi.RunError(f"invalid app spec: {exc}") from None
    return args, is_sandbox


def main() -> None:
    config = pulumi.Config("oneclick")
    raw = config.get_object("app")
    if raw is None:
        raise pulumi.RunError(
            f"stack `{pulumi.get_stack()}` has no `oneclick:app` config: create it with "
            f"`oneclick stack init {pulumi.get_stack()} --spec stacks/example.yaml`"
        )
    try:
        spec = AppSpec.parse(raw)
    except SpecError as exc:
        raise pulumi.RunError(f"invalid app spec in stack config `oneclick:app`:\n{exc}") from None

    turso, is_sandbox = _turso_args(config, spec)
    problem = passphrase_problem(is_sandbox, os.environ.get("PULUMI_CONFIG_PASSPHRASE"))
    if problem and not os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        raise pulumi.RunError(problem)

    app = App(spec, turso)
    db = app.database
    pulumi.export("target", "sandbox" if is_sandbox else "turso")
    pulumi.export("databaseName", db.name)
    pulumi.export("databaseId", db.db_id)
    pulumi.export("databaseHostname", db.hostname)
    pulumi.export("databaseUrl", db.url)
    pulumi.export("databaseAuthToken", db.auth_token)
