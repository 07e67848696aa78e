"""Which Pulumi passphrase a deploy worker may encrypt its stacks' secrets with."""

from __future__ import annotations

from collections.abc import Mapping

from components.targets import SANDBOX_PASSPHRASE
from core.settings import load_settings, settings


def service_passphrase_problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why the worker may not encrypt its stacks' secrets with the passphrase it has, or None.

    Service stacks hold every tenant's secrets, so their key is the service's own, never the fixed
    sandbox passphrase that anyone can read in this repository, even when the vendors are the sandbox.
    `env` stands for this process's settings in tests.
    """
    pulumi = (settings() if env is None else load_settings(env)).pulumi
    if pulumi.passphrase_file:
        return None
    given = pulumi.passphrase.reveal() if pulumi.passphrase else ""
    if not given or given == SANDBOX_PASSPHRASE:
        return (
            "the deploy service encrypts its stacks' secrets with a passphrase of its own: set "
            "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) on every worker to the service's "
            "secret (e.g. `openssl rand -base64 32`); the fixed sandbox passphrase is refused"
        )
    if len(given) < 16:
        return "PULUMI_CONFIG_PASSPHRASE is shorter than 16 characters; use a long random secret"
    return None
