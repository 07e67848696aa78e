"""Dynamic provider for a custom domain of a Pages project, and the CNAME that points it there.

When the domain's zone is on the same Cloudflare account, the provider makes (or corrects) a
proxied CNAME `domain -> <project subdomain>`; otherwise it says which record to create by hand.
The records it makes carry the app's mark (components/cloudflare/ownership.py). A name that already
has a record without that mark is refused before anything is changed: such a record is never
patched, adopted or deleted, so a custom domain cannot take over another site's DNS name.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from pulumi.dynamic import CreateResult, UpdateResult

from components.cloudflare.client import CloudflareClient
from components.cloudflare.models import DnsRecord, PagesDomain, Zone
from components.cloudflare.ownership import foreign, kind_of, made_for, record_mark, whose
from components.vendor_provider import VendorProvider
from core.errors import UserError
from core.http import VendorConflict, VendorError, VendorNotFound

IDENTITY = ("account_id", "project_name", "domain", "api_url")
INPUTS = (*IDENTITY, "target", "api_token", "wait_seconds", "app_id")
POLL_SECONDS = 0.5


class DnsConflictError(UserError, RuntimeError):
    """The name already has a DNS record this app did not make: it is left exactly as it is."""


def client_for(props: Mapping[str, Any]) -> CloudflareClient:
    return CloudflareClient(str(props["api_token"]), str(props["account_id"]), base_url=str(props["api_url"]))


def cname_target(target: str) -> str:
    """The hostname a CNAME can hold: `shop.pages.localhost:8787` or `https://shop.pages.dev` -> host."""
    host = urlsplit(target).hostname if "://" in target else target.rsplit(":", 1)[0]
    return (host or target).lower().rstrip(".")


def instructions(domain: str, target: str) -> str:
    return (
        f"Create a CNAME record at your DNS provider: {domain} -> {target} "
        "(the domain turns active once Cloudflare sees it)"
    )


def app_of(props: Mapping[str, Any]) -> str:
    """The app whose mark the records carry ("" in a state written before marks: only records
    with the earlier mark naming the project's subdomain are then its own)."""
    return str(props.get("app_id") or "")


def refuse_foreign(zone: Zone, domain: str, records: list[DnsRecord], app_id: str, target: str) -> None:
    """Raise DnsConflictError when a record at `domain` is not this app's."""
    others = foreign(records, app_id, target)
    if others:
        record = others[0]
        raise DnsConflictError(
            f"customDomain: {domain} already has {kind_of(record)} in zone {zone.name} that "
            f"{whose(record)}; oneclick never changes or removes such a record. Choose another "
            "customDomain, or have the zone's owner delete that record first"
        )


def ensure_cname(cf: CloudflareClient, zone: Zone, domain: str, target: str, app_id: str) -> DnsRecord:
    """The app's CNAME for `domain` in `zone`, pointing at `target`, proxied and marked as the app's."""
    existing = cf.list_dns_records(zone.id, name=domain)
    refuse_foreign(zone, domain, existing, app_id, target)
    mark = record_mark(app_id)
    cnames = [r for r in existing if r.type == "CNAME"]
    if cnames:  # made by an earlier run for this app (an interrupted create, a recovered state)
        record = cnames[0]
        if record.content.rstrip(".").lower() != target or not record.proxied or record.comment != mark:
            record = cf.patch_dns_record(zone.id, record.id, content=target, proxied=True, comment=mark)
        return record
    return cf.create_dns_record(
        zone.id, type="CNAME", name=domain, content=target, proxied=True, comment=mark
    )


def own_record(cf: CloudflareClient, zone: Zone, domain: str, app_id: str, target: str) -> DnsRecord | None:
    """This app's record at `domain`, found by name (a state that lost its record id)."""
    records = cf.list_dns_records(zone.id, name=domain)
    return next((r for r in records if r.type == "CNAME" and made_for(r, app_id, target)), None)


def wait_until_active(
    cf: CloudflareClient,
    project: str,
    domain: str,
    seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> PagesDomain:
    """Poll the domain for up to `seconds`; its state then, active or not (activation can take hours)."""
    deadline = time.monotonic() + seconds
    current = cf.get_domain(project, domain)
    while current.status != "active" and time.monotonic() < deadline:
        sleep(POLL_SECONDS)
        current = cf.get_domain(project, domain)
    return current


def outputs(
    props: Mapping[str, Any],
    state: PagesDomain,
    zone: Zone | None,
    record: DnsRecord | None,
    managed: bool,
) -> dict[str, Any]:
    domain, target = str(props["domain"]), cname_target(str(props["target"]))
    return {
        **{key: props.get(key) for key in INPUTS},
        "url": f"https://{domain}",
        "status": state.status,
        "verification_status": state.verification_status,
        "ssl_status": state.validation_status,
        "error_message": state.error_message or None,
        "zone_id": zone.id if zone else None,
        "dns_record_id": record.id if record else None,
        "dns_record_managed": managed if record else False,
        # What the record holds, so a drift report can say what it was changed to.
        "dns_record_content": record.content.rstrip(".").lower() if record else None,
        "dns_record_proxied": record.proxied if record else None,
        "cname_target": target,
        # False when the zone is ours but its CNAME is gone or points elsewhere: `up` fixes it.
        "dns_in_sync": zone is None
        or (record is not None and record.content.rstrip(".").lower() == target and record.proxied),
        "instructions": None if zone else instructions(domain, target),
    }


class CustomDomainProvider(VendorProvider[CloudflareClient]):
    IDENTITY = IDENTITY
    IN_PLACE = ("target", "api_token", "wait_seconds", "app_id")
    INPUTS = INPUTS
    STABLE = ("url",)

    def client(self, props: dict[str, Any]) -> CloudflareClient:
        return client_for(props)

    def _apply(self, cf: CloudflareClient, props: Mapping[str, Any], zone: Zone | None) -> dict[str, Any]:
        domain, project = str(props["domain"]), str(props["project_name"])
        target = cname_target(str(props["target"]))
        record = ensure_cname(cf, zone, domain, target, app_of(props)) if zone else None
        state = wait_until_active(cf, project, domain, float(props.get("wait_seconds") or 0))
        return outputs(props, state, zone, record, record is not None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        domain, project = str(props["domain"]), str(props["project_name"])
        with self.client(props) as cf:
            zone = cf.find_zone(domain)
            if zone is not None:
                # Before the domain joins the project: a refused name is left without any trace.
                target = cname_target(str(props["target"]))
                existing = cf.list_dns_records(zone.id, name=domain)
                refuse_foreign(zone, domain, existing, app_of(props), target)
            try:
                cf.add_domain(project, domain)
            except VendorConflict:
                # Already on this project (an interrupted create) is fine; on another one is not.
                if domain not in {d.name for d in cf.list_domains(project)}:
                    raise VendorError(
                        "Cloudflare",
                        409,
                        f"custom_domain: {domain} is already a custom domain of another Pages project; "
                        "remove it there first",
                    ) from None
            outs = self._apply(cf, props, zone)
        return CreateResult(id_=domain, outs=outs)

    def observe(self, client: CloudflareClient, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        target = cname_target(str(props["target"])) if props.get("target") else None
        app_id = app_of(props)
        state = client.get_domain(str(props["project_name"]), id_)
        zone = client.find_zone(id_)
        record: DnsRecord | None = None
        if zone is not None and props.get("dns_record_id") and zone.id == props.get("zone_id"):
            with contextlib.suppress(VendorNotFound):
                record = client.get_dns_record(zone.id, str(props["dns_record_id"]))
        elif zone is not None and target is not None:
            record = own_record(client, zone, id_, app_id, target)  # e.g. a create adopted by recovery
        managed = record is not None and made_for(record, app_id, target)
        return outputs(props, state, zone, record, managed)

    def drifted(self, olds: dict[str, Any]) -> bool:
        return not olds.get("dns_in_sync", True)

    def delete_first(self, replaces: list[str]) -> bool:
        # A domain belongs to one project at a time: moving it means removing it first.
        return "domain" not in replaces

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with self.client(news) as cf:
            return UpdateResult(outs=self._apply(cf, news, cf.find_zone(str(news["domain"]))))

    def remove(self, client: CloudflareClient, id_: str, props: dict[str, Any]) -> None:
        target = cname_target(str(props["target"])) if props.get("target") else None
        zone_id, record_id = props.get("zone_id"), props.get("dns_record_id")
        if zone_id and record_id:
            with contextlib.suppress(VendorNotFound):
                # Read again: only a record that carries this app's mark now is removed.
                record = client.get_dns_record(str(zone_id), str(record_id))
                if made_for(record, app_of(props), target):
                    client.delete_dns_record(str(zone_id), str(record_id))
        client.delete_domain(str(props["project_name"]), id_)
