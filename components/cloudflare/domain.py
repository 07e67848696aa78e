"""CustomDomain: a Pages project's custom domain, its CNAME when the zone is ours, and its status
(type `pulumi-python:dynamic/cloudflare:CustomDomain`)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cloudflare.domain_provider import CustomDomainProvider
from components.errors import SpecError
from components.spec import APP_ID, HOSTNAME
from components.typed_resource import TypedResource


@dataclass(frozen=True, kw_only=True)
class CustomDomainArgs:
    account_id: str
    """The Cloudflare account of the Pages project."""
    project_name: str
    """The Pages project the domain is added to; a change replaces the domain."""
    domain: str
    """The hostname (spec `customDomain`), e.g. shop.example.com; a change replaces it."""
    target: pulumi.Input[str]
    """Where its CNAME points: the project's subdomain (PagesProject.subdomain)."""
    api_url: str
    """The API v4 base, e.g. https://api.cloudflare.com/client/v4 (the sandbox's URL when targeting it)."""
    api_token: pulumi.Input[str]
    """An API token with Pages and DNS edit rights (secret): reaches the provider only as a secret input."""
    app_id: str
    """The owner of the DNS record made for the domain: the record carries this app's mark."""
    wait_seconds: float = 15.0
    """How long create/update wait for `active` before reporting `pending` (0 to 600)."""

    def __post_init__(self) -> None:
        if not HOSTNAME.match(self.domain):
            raise SpecError.single(
                "custom_domain",
                f"{self.domain!r} is not a domain name; use lowercase labels like 'shop.example.com'",
            )
        if self.domain.endswith((".pages.dev", ".localhost")):
            raise SpecError.single(
                "custom_domain", f"{self.domain} is a Pages or local name already; use a domain you own"
            )
        if not APP_ID.match(self.app_id):
            raise SpecError.single("app_id", f"{self.app_id!r} is not an app id; use the spec's id")
        if not 0 <= self.wait_seconds <= 600:
            raise SpecError.single("wait_seconds", "must be between 0 and 600 seconds")


class CustomDomain(TypedResource, module="cloudflare", name="CustomDomain"):
    """A custom domain on a Pages project; outputs its status, SSL and verification state and, when
    its DNS is hosted elsewhere, the CNAME to create by hand."""

    SECRET_OUTPUTS = ("api_token",)

    domain: pulumi.Output[str]
    url: pulumi.Output[str]
    status: pulumi.Output[str]
    verification_status: pulumi.Output[str]
    ssl_status: pulumi.Output[str]
    error_message: pulumi.Output[str | None]
    zone_id: pulumi.Output[str | None]
    dns_record_id: pulumi.Output[str | None]
    dns_record_managed: pulumi.Output[bool]
    cname_target: pulumi.Output[str | None]
    dns_in_sync: pulumi.Output[bool]
    instructions: pulumi.Output[str | None]

    def __init__(self, name: str, args: CustomDomainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        inputs = {
            "account_id": args.account_id,
            "project_name": args.project_name,
            "domain": args.domain,
            "target": args.target,
            "api_url": args.api_url,
            "api_token": pulumi.Output.secret(args.api_token),
            "wait_seconds": args.wait_seconds,
            "app_id": args.app_id,
        }
        super().__init__(CustomDomainProvider(), name, inputs, opts)
