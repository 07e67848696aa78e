"""CustomDomain: a Pages project's custom domain, its CNAME when the zone is ours, and its status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.cloudflare.domain_provider import CustomDomainProvider
from components.errors import SpecError
from components.spec import APP_ID, HOSTNAME

SECRET_OUTPUTS = ["api_token"]
OUTPUTS = (
    "url",
    "status",
    "verification_status",
    "ssl_status",
    "error_message",
    "zone_id",
    "dns_record_id",
    "dns_record_managed",
    "cname_target",
    "dns_in_sync",
    "instructions",
)


@dataclass(frozen=True, kw_only=True)
class CustomDomainArgs:
    account_id: str
    project_name: str
    domain: str
    target: pulumi.Input[str]  # the project's subdomain (PagesProject.subdomain)
    api_url: str
    api_token: pulumi.Input[str]
    app_id: str  # the owner of the DNS record made for the domain: it carries this app's mark
    wait_seconds: float = 15.0  # how long create/update wait for `active` before reporting `pending`

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


class CustomDomainResource(Resource):
    """The provider-backed resource; use CustomDomain."""

    url: pulumi.Output[str]
    status: pulumi.Output[str]
    verification_status: pulumi.Output[str]
    ssl_status: pulumi.Output[str]
    zone_id: pulumi.Output[str | None]
    dns_record_id: pulumi.Output[str | None]
    instructions: pulumi.Output[str | None]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(CustomDomainProvider(), name, {**props, **dict.fromkeys(OUTPUTS)}, opts)


class CustomDomain(pulumi.ComponentResource):
    """A custom domain on a Pages project; outputs its status, SSL and verification state and, when
    its DNS is hosted elsewhere, the CNAME to create by hand."""

    def __init__(self, name: str, args: CustomDomainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("oneclick:cloudflare:CustomDomain", name, None, opts)
        self.resource = CustomDomainResource(
            name,
            {
                "account_id": args.account_id,
                "project_name": args.project_name,
                "domain": args.domain,
                "target": args.target,
                "api_url": args.api_url,
                "api_token": pulumi.Output.secret(args.api_token),
                "wait_seconds": args.wait_seconds,
                "app_id": args.app_id,
            },
            pulumi.ResourceOptions(parent=self, additional_secret_outputs=SECRET_OUTPUTS),
        )
        self.domain: pulumi.Output[str] = pulumi.Output.from_input(args.domain)
        self.url = self.resource.url
        self.status = self.resource.status
        self.verification_status = self.resource.verification_status
        self.ssl_status = self.resource.ssl_status
        self.zone_id = self.resource.zone_id
        self.dns_record_id = self.resource.dns_record_id
        self.instructions = self.resource.instructions
        self.register_outputs(
            {
                "domain": self.domain,
                "url": self.url,
                "status": self.status,
                "verification_status": self.verification_status,
                "ssl_status": self.ssl_status,
                "zone_id": self.zone_id,
                "dns_record_id": self.dns_record_id,
                "instructions": self.instructions,
            }
        )
