"""Where a deploy goes: the real vendors when their tokens are set, otherwise the local sandbox."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from components.turso.client import DEFAULT_API_URL
from sandbox.endpoint import TURSO_ORG, SandboxEndpoint

# The only passphrase oneclick ever picks on its own, and only for stacks that target the sandbox.
# It protects nothing of value: sandbox tokens are local and throwaway. Real targets need your own.
SANDBOX_PASSPHRASE = "oneclick-sandbox-only"  # noqa: S105 (documented, sandbox-only)


class TargetError(RuntimeError):
    """The deploy target is incompletely configured; the message names the variable to set."""


@dataclass(frozen=True)
class TursoTarget:
    api_url: str
    org: str
    api_token: str
    sandbox: bool

    @property
    def label(self) -> str:
        return "sandbox" if self.sandbox else "turso"


def turso_target(environ: Mapping[str, str] | None = None) -> TursoTarget:
    """TURSO_API_TOKEN + TURSO_ORG_ID select the real Turso; without a token, the running sandbox."""
    env = os.environ if environ is None else environ
    token = env.get("TURSO_API_TOKEN", "").strip()
    if token:
        org = env.get("TURSO_ORG_ID", "").strip()
        if not org:
            raise TargetError(
                "TURSO_API_TOKEN is set but TURSO_ORG_ID is not: set TURSO_ORG_ID to your Turso "
                "organization slug, or unset TURSO_API_TOKEN to deploy into the local sandbox"
            )
        return TursoTarget(env.get("TURSO_API_URL", DEFAULT_API_URL), org, token, sandbox=False)
    endpoint = SandboxEndpoint.load()
    if endpoint is None:
        raise TargetError(
            "no TURSO_API_TOKEN is set, so the deploy targets the local sandbox, which is not running: "
            "start it with `oneclick sandbox start` (or set TURSO_API_TOKEN and TURSO_ORG_ID)"
        )
    return TursoTarget(endpoint.url, TURSO_ORG, endpoint.api_token, sandbox=True)


def passphrase_problem(target_is_sandbox: bool, passphrase: str | None) -> str | None:
    """Why a passphrase may not be used for this target, or None when it is fine."""
    if passphrase is None or passphrase == "":
        if target_is_sandbox:
            return None
        return (
            "this stack targets real vendors, so its secrets need your own passphrase: "
            "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)"
        )
    if passphrase == SANDBOX_PASSPHRASE and not target_is_sandbox:
        return (
            "the fixed sandbox passphrase may only protect sandbox stacks; this stack targets real "
            "vendors: set PULUMI_CONFIG_PASSPHRASE to a passphrase of your own"
        )
    return None
