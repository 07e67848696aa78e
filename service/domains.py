"""Custom domains and the DNS records already at their names.

A name that holds a DNS record oneclick did not make for the app is refused with a 409 before a
deploy is recorded: deploying would otherwise point someone else's name (a platform status page,
another tenant's site) at the app. The provider refuses the same records again when it runs
(components/cloudflare/domain_provider.py); this check gives the answer up front, with the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg

from components.cloudflare.client import CloudflareClient
from components.cloudflare.models import DnsRecord, Zone
from components.cloudflare.ownership import LEGACY_PREFIX, kind_of, made_for, whose
from components.spec import AppSpec
from components.targets import TargetError, vendor_target
from core.http import VendorError
from service.errors import ApiError

UNIQUE_DOMAIN = "deployed_apps_custom_domain"  # the unique index of live apps' custom domains
FIX = (
    "choose another customDomain (POST /api/domains/check says whether a name is free), or have the "
    "zone's owner delete that record first"
)


def records_at(domain: str) -> tuple[Zone | None, list[DnsRecord]]:
    """The account's zone holding `domain` and the records at that name (none without a zone).
    Raises TargetError when no Cloudflare is configured, and a 502 when it answers with an error."""
    target = vendor_target("cloudflare")
    try:
        with CloudflareClient(target.api_token, target.account, base_url=target.api_url) as cf:
            zone = cf.find_zone(domain)
            return zone, cf.list_dns_records(zone.id, name=domain) if zone else []
    except VendorError as exc:
        raise ApiError(
            502, "vendor_error", f"Cloudflare answered with an error: {exc}", fix="try again shortly"
        ) from None


def blocking(records: Iterable[DnsRecord], app_id: str | None) -> DnsRecord | None:
    """A record that is not `app_id`'s (with no app: any record). A record with the earlier mark
    passes here: it names a Pages subdomain, not an app, so the provider decides it exactly."""
    for record in records:
        if app_id is None:
            return record
        if not made_for(record, app_id) and not (record.comment or "").startswith(LEGACY_PREFIX):
            return record
    return None


def taken_reason(record: DnsRecord) -> str:
    """Why POST /api/domains/check calls the name unavailable (never the record's content)."""
    return f"the name already has {kind_of(record)} that {whose(record)}; oneclick leaves such records alone"


def refuse_foreign_dns(spec: AppSpec) -> None:
    """Raise a 409 when the spec's custom domain holds a DNS record that is not this app's."""
    if not spec.custom_domain:
        return
    try:
        zone, records = records_at(spec.custom_domain)
    except TargetError:
        # No Cloudflare configured here: the deploy cannot reach any DNS record, and where a worker
        # can, its provider refuses the same records.
        return
    record = blocking(records, spec.id)
    if zone is not None and record is not None:
        raise ApiError(
            409,
            "conflict",
            f"customDomain: {spec.custom_domain} already has {kind_of(record)} in zone {zone.name} "
            f"that {whose(record)}; oneclick never changes or removes such a record",
            field="customDomain",
            fix=FIX,
        )


@contextmanager
def domain_race(domain: str | None) -> Iterator[None]:
    """Around a submit's transaction: two users asking for one custom domain at the same moment
    both pass the "taken" query (neither sees the other's uncommitted row); the second insert then
    meets the unique index. That request is answered like the query's 409, not with a server error."""
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        if domain is None or exc.diag.constraint_name != UNIQUE_DOMAIN:
            raise
        raise ApiError(
            409,
            "conflict",
            f"{domain} is already the custom domain of another app",
            field="customDomain",
            fix="choose another domain, or remove it from the other app first",
        ) from None
