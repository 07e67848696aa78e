"""Where a deploy goes: each vendor's real API when its token is set, otherwise the local sandbox.

The same program deploys either way: only base URLs, account ids and tokens differ. Targets are
recorded in the stack's config (`oneclick:targets`, tokens as secrets in `oneclick:tokens`) so an
engineer's `pulumi up -s <app>` later reaches the same place the platform's deploy did.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from components.sandbox_target import CLOUDFLARE_ACCOUNT_ID, TURSO_ORG, SandboxEndpoint
from components.spec import AppSpec
from core.errors import UserError

# The only passphrase oneclick ever picks on its own, and only for stacks that target the sandbox.
# It protects nothing of value: sandbox tokens are local and throwaway. Real targets need your own.
SANDBOX_PASSPHRASE = "oneclick-sandbox-only"  # noqa: S105 (documented, sandbox-only)

Vendor = Literal["turso", "neon", "cloudflare"]


class TargetError(UserError, RuntimeError):
    """The deploy target is incompletely configured; the message names the variable to set."""


@dataclass(frozen=True)
class VendorSettings:
    """How a vendor is configured from the environment."""

    token_var: str
    account_var: str | None  # None: the vendor needs no account id
    url_var: str
    default_url: str
    sandbox_path: str
    sandbox_account: str


VENDORS: dict[Vendor, VendorSettings] = {
    "turso": VendorSettings(
        "TURSO_API_TOKEN", "TURSO_ORG_ID", "TURSO_API_URL", "https://api.turso.tech", "", TURSO_ORG
    ),
    "neon": VendorSettings(
        "NEON_API_KEY", None, "NEON_API_URL", "https://console.neon.tech/api/v2", "/api/v2", ""
    ),
    "cloudflare": VendorSettings(
        "CLOUDFLARE_API_TOKEN",
        "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_API_URL",
        "https://api.cloudflare.com/client/v4",
        "/client/v4",
        CLOUDFLARE_ACCOUNT_ID,
    ),
}


@dataclass(frozen=True)
class VendorTarget:
    vendor: Vendor
    api_url: str
    account: str  # Turso org slug, Cloudflare account id; "" for Neon
    api_token: str = field(repr=False)
    sandbox: bool

    def public(self) -> dict[str, Any]:
        return {"apiUrl": self.api_url, "account": self.account, "sandbox": self.sandbox}


@dataclass(frozen=True)
class Targets:
    """The vendors one app needs, each resolved to the real API or the sandbox."""

    vendors: dict[Vendor, VendorTarget]

    def get(self, vendor: Vendor) -> VendorTarget:
        target = self.vendors.get(vendor)
        if target is None:
            raise TargetError(f"this app's stack has no target recorded for {vendor}; redeploy it")
        return target

    @property
    def sandbox(self) -> bool:
        """True when nothing real is touched (the fixed passphrase is allowed only then)."""
        return all(target.sandbox for target in self.vendors.values())

    @property
    def label(self) -> str:
        return (
            "sandbox"
            if self.sandbox
            else ",".join(sorted(v for v, t in self.vendors.items() if not t.sandbox))
        )

    def public(self) -> dict[str, Any]:
        return {vendor: target.public() for vendor, target in self.vendors.items()}

    def tokens(self) -> dict[str, str]:
        return {vendor: target.api_token for vendor, target in self.vendors.items()}

    @staticmethod
    def from_config(public: Mapping[str, Any], tokens: Mapping[str, str]) -> Targets:
        vendors: dict[Vendor, VendorTarget] = {}
        for vendor in VENDORS:
            recorded = public.get(vendor)
            if recorded is None:
                continue
            if vendor not in tokens:
                raise TargetError(
                    f"stack config `oneclick:targets` names {vendor} but `oneclick:tokens` has no token "
                    "for it; run `oneclick stack init SPEC` again"
                )
            vendors[vendor] = VendorTarget(
                vendor,
                str(recorded["apiUrl"]),
                str(recorded.get("account", "")),
                str(tokens[vendor]),
                bool(recorded.get("sandbox", False)),
            )
        return Targets(vendors)


def vendors_for(spec: AppSpec) -> list[Vendor]:
    """The vendors a spec needs: its database provider (unless BYO), and Cloudflare for web."""
    needed: list[Vendor] = []
    if spec.database.provider in ("turso", "neon"):
        needed.append(spec.database.provider)
    if spec.web is not None:
        needed.append("cloudflare")
    return needed


def vendor_target(vendor: Vendor, environ: Mapping[str, str] | None = None) -> VendorTarget:
    """The vendor's real API when its token variable is set, else the running sandbox."""
    env = os.environ if environ is None else environ
    settings = VENDORS[vendor]
    token = env.get(settings.token_var, "").strip()
    if token:
        account = ""
        if settings.account_var is not None:
            account = env.get(settings.account_var, "").strip()
            if not account:
                raise TargetError(
                    f"{settings.token_var} is set but {settings.account_var} is not: set "
                    f"{settings.account_var}, or unset {settings.token_var} to deploy into the local sandbox"
                )
        api_url = env.get(settings.url_var, "").strip() or settings.default_url
        return VendorTarget(vendor, api_url.rstrip("/"), account, token, sandbox=False)
    endpoint = SandboxEndpoint.load()
    if endpoint is None:
        raise TargetError(
            f"no {settings.token_var} is set, so {vendor} is the local sandbox, which is not running: "
            f"start it with `oneclick sandbox start` (or set {settings.token_var})"
        )
    return VendorTarget(
        vendor,
        endpoint.url + settings.sandbox_path,
        settings.sandbox_account,
        endpoint.api_token,
        sandbox=True,
    )


def resolve_targets(vendors: Iterable[Vendor], environ: Mapping[str, str] | None = None) -> Targets:
    return Targets({vendor: vendor_target(vendor, environ) for vendor in vendors})


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
