"""The one Pulumi program: reads the stack config back into an AppSpec and builds the App.

Stack config (written by `oneclick deploy` / `oneclick stack init`):
  oneclick:app      the spec, secrets replaced by references          (plain JSON)
  oneclick:secrets  the spec's secret values by reference              (secret JSON)
  oneclick:targets  per vendor: API URL, account, sandbox or not       (plain JSON)
  oneclick:tokens   per vendor: API token                              (secret JSON)
A hand-made stack without targets deploys to the vendors named by the environment (or sandbox).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from components.app import App
from components.errors import SpecError
from components.spec import AppSpec
from components.targets import TargetError, Targets, passphrase_problem, resolve_targets, vendors_for
from core.errors import UserError
from core.settings import settings


def _spec(config: pulumi.Config) -> AppSpec:
    raw: Any = config.get_object("app")
    if raw is None:
        raise pulumi.RunError(
            f"stack `{pulumi.get_stack()}` has no `oneclick:app` config: create it with "
            f"`oneclick stack init stacks/example.yaml` (the spec's id must be `{pulumi.get_stack()}`)"
        )
    try:
        return AppSpec.from_public(raw, _plain_secrets(config, "secrets"))
    except SpecError as exc:
        raise pulumi.RunError(f"invalid app spec in stack config `oneclick:app`:\n{exc}") from None


def _plain_secrets(config: pulumi.Config, key: str) -> dict[str, str]:
    """A secret JSON object from config, decrypted for the program's own use."""
    # Config.get returns a secret key's plaintext: the program needs the values to build resources.
    # They stay secret in state because every input built from them is wrapped in Output.secret.
    text = config.get(key)
    return dict(json.loads(text)) if text else {}


def _targets(config: pulumi.Config, spec: AppSpec) -> Targets:
    try:
        recorded: Any = config.get_object("targets")
        if recorded is not None:
            return Targets.from_config(recorded, _plain_secrets(config, "tokens"))
        return resolve_targets(vendors_for(spec))
    except TargetError as exc:
        raise pulumi.RunError(str(exc)) from None


def main() -> None:
    config = pulumi.Config("oneclick")
    spec = _spec(config)
    if spec.id != pulumi.get_stack():
        raise pulumi.RunError(
            f"stack `{pulumi.get_stack()}` holds the spec of app `{spec.id}`: "
            "an app deploys to the stack named by its id"
        )
    targets = _targets(config, spec)
    pulumi_settings = settings().pulumi
    passphrase = pulumi_settings.passphrase.reveal() if pulumi_settings.passphrase else None
    problem = passphrase_problem(targets.sandbox, passphrase)
    if problem and not pulumi_settings.passphrase_file:
        raise pulumi.RunError(problem)

    try:
        app = App(spec, targets)
    except SpecError as exc:
        raise pulumi.RunError(f"invalid app spec: {exc}") from None
    except UserError as exc:  # e.g. a malformed store credential or icon: nothing was created
        raise pulumi.RunError(str(exc)) from None

    db = app.database
    pulumi.export("target", targets.label)
    pulumi.export("databaseProvider", db.provider)
    pulumi.export("databaseName", db.name)
    pulumi.export("databaseHost", db.host)
    pulumi.export("databaseUrl", db.url)
    if db.auth_token is not None:
        pulumi.export("databaseAuthToken", db.auth_token)
    if app.schema is not None:
        pulumi.export("schemaSummary", app.schema.summary)
        pulumi.export("prismaSchema", app.schema.transformed_schema)
    if app.preview_data is not None:
        pulumi.export("dataSummary", app.preview_data.summary)
    if app.pages is not None:
        pulumi.export("url", app.domain.url if app.domain is not None else app.pages.url)
        pulumi.export("pagesUrl", app.pages.url)
        pulumi.export("pagesProject", app.pages.project_name)
        pulumi.export("deploymentId", app.pages.deployment_id)
        pulumi.export("deploymentUrl", app.pages.deployment_url)
        pulumi.export("deploymentIds", app.pages.deployment_ids)
        pulumi.export("uploadedFiles", app.pages.uploaded_files)
        pulumi.export("workerModules", app.pages.worker_modules)
        if app.health_path is not None:
            pulumi.export("healthPath", app.health_path)
    if app.domain is not None:
        pulumi.export("customDomain", app.domain.domain)
        pulumi.export("domainStatus", app.domain.status)
        pulumi.export("domainSslStatus", app.domain.ssl_status)
        pulumi.export("domainVerificationStatus", app.domain.verification_status)
        pulumi.export("domainDnsInstructions", app.domain.instructions)
    for key, value in app.native.outputs().items():
        pulumi.export(key, value)
