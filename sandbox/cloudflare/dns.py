"""Zones and DNS records of the sandbox Cloudflare account (`/zones`, `/zones/{id}/dns_records`).

Zones are made through the admin API (`POST /_admin/cloudflare/zones`) or exist from the start
(`cloudflare_state.DEFAULT_ZONES`). Records of type A, AAAA, CNAME and TXT are kept and validated
the way Cloudflare does: names inside the zone (`@` and relative names are expanded), content by
type, TTL 1 (automatic) or 30-86400, only A/AAAA/CNAME proxied, and a CNAME shares its name with
no other record. The list's query filters are in dns_filters.py.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from fastapi import APIRouter, Request

from sandbox.cloudflare.dns_filters import record_filter, record_order
from sandbox.cloudflare.envelope import CloudflareRoute, envelope, json_body, paginate
from sandbox.cloudflare.state import CloudflareApiError, CloudflareSandbox, new_id, now
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID

TYPES = ("A", "AAAA", "CNAME", "TXT")
PROXIABLE = ("A", "AAAA", "CNAME")
HOST = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)
ZONE_NAME = re.compile(r"^([a-z0-9][-a-z0-9]*\.)+[-a-z0-9]{2,20}$")
TAG = re.compile(r"^[A-Za-z0-9_-]+:[^\r\n]*$")  # `name:value`, as the contract's tags are


def dns_error(message: str, code: int = 1004) -> CloudflareApiError:
    return CloudflareApiError(400, code, message)


def full_name(given: Any, zone: dict[str, Any]) -> str:
    if not isinstance(given, str) or not given.strip():
        raise dns_error("DNS Validation Error: name is required")
    apex = str(zone["name"])
    name = given.strip().lower().rstrip(".")
    if name == "@":
        return apex
    if name != apex and not name.endswith("." + apex):
        name = f"{name}.{apex}"  # relative names are inside the zone, as in the dashboard
    if len(name) > 255 or not HOST.match(name):
        raise dns_error(f"DNS Validation Error: {name!r} is not a valid record name", 9007)
    return name


def filter_name(given: str, zone: dict[str, Any]) -> str:
    """A name filter as records keep names; a value no record could have is compared as given."""
    try:
        return full_name(given, zone)
    except CloudflareApiError:
        return given.strip().lower().rstrip(".")


def check_content(kind: str, content: Any, name: str) -> str:
    if not isinstance(content, str) or not content:
        raise dns_error("DNS Validation Error: content is required", 9005)
    if kind in ("A", "AAAA"):
        version = 4 if kind == "A" else 6
        try:
            address = ipaddress.ip_address(content)
        except ValueError:
            address = None
        if address is None or address.version != version:
            raise dns_error(
                f"Content for {kind} record is invalid. Must be a valid IPv{version} address.", 9005
            )
        return str(address)
    if kind == "CNAME":
        target = content.strip().lower().rstrip(".")
        if not HOST.match(target):
            raise dns_error("Content for CNAME record is invalid. Must be a valid hostname.", 9005)
        if target == name:
            raise dns_error("A CNAME record cannot point to itself.", 9005)
        return target
    if len(content) > 2048:
        raise dns_error("Content for TXT record is too long (at most 2048 characters).", 9005)
    return content


def check_ttl(ttl: Any) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or int(ttl) != ttl:
        raise dns_error("DNS Validation Error: ttl must be a whole number", 9021)
    if ttl != 1 and not 30 <= ttl <= 86400:
        raise dns_error("Invalid TTL. Must be between 30 and 86400 seconds, or 1 for Automatic.", 9021)
    return int(ttl)


def validated(zone: dict[str, Any], body: dict[str, Any], record_id: str | None) -> dict[str, Any]:
    """The record `body` describes, checked against the zone's other records."""
    kind = body.get("type")
    if kind not in TYPES:
        raise dns_error(
            f"DNS Validation Error: the sandbox keeps records of type {', '.join(TYPES)}, not {kind!r}"
        )
    name = full_name(body.get("name"), zone)
    content = check_content(str(kind), body.get("content"), name)
    proxied = body.get("proxied", False)
    if not isinstance(proxied, bool):
        raise dns_error("DNS Validation Error: proxied must be true or false")
    if proxied and kind not in PROXIABLE:
        raise dns_error(f"This record type cannot be proxied: {kind}", 9004)
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or "\n" in comment or "\r" in comment):
        raise dns_error("DNS Validation Error: comment must be a string without line breaks")
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and TAG.match(t) for t in tags):
        raise dns_error(
            "DNS Validation Error: tags must be a list of 'name:value' strings whose names hold only "
            "letters, digits, '-' and '_'"
        )
    for other in zone["records"].values():
        if other["id"] == record_id or other["name"] != name:
            continue
        if kind == "CNAME" or other["type"] == "CNAME":
            if {kind, other["type"]} <= {"A", "AAAA", "CNAME"}:
                raise dns_error("An A, AAAA, or CNAME record with that host already exists.", 81053)
            raise dns_error("A CNAME record with that host already exists.", 81054)
        if other["type"] == kind and other["content"] == content:
            raise dns_error("Record already exists.", 81057)
    return {
        "type": kind,
        "name": name,
        "content": content,
        "proxied": proxied,
        "ttl": check_ttl(body.get("ttl", 1)),
        "comment": comment,
        "tags": tags,
    }


def build_router(cf: CloudflareSandbox) -> APIRouter:
    store = cf.store
    router = APIRouter(prefix="/zones", route_class=CloudflareRoute)

    def record_of(zone: dict[str, Any], record_id: str) -> dict[str, Any]:
        record: dict[str, Any] | None = zone["records"].get(record_id)
        if record is None:
            raise CloudflareApiError(404, 81044, "Record does not exist.")
        return record

    async def object_body(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise dns_error("DNS Validation Error: the body must be a JSON object")
        return body

    @router.get("")
    def list_zones(request: Request, page: int = 1, per_page: int = 20) -> Any:
        name, account = request.query_params.get("name"), request.query_params.get("account.id")
        with store.lock:
            zones = sorted(cf.state["zones"].values(), key=lambda z: z["name"])
            if name:
                zones = [z for z in zones if z["name"] == name.lower()]
            if account and account != CLOUDFLARE_ACCOUNT_ID:
                zones = []
            chunk, info = paginate([cf.public_zone(z) for z in zones], page, per_page)
            return envelope(chunk, info)

    @router.get("/{zone_id}")
    def get_zone(zone_id: str) -> Any:
        with store.lock:
            return envelope(cf.public_zone(cf.zone(zone_id)))

    @router.get("/{zone_id}/dns_records")
    def list_records(request: Request, zone_id: str, page: int = 1, per_page: int = 100) -> Any:
        query = request.query_params
        with store.lock:
            zone = cf.zone(zone_id)
            wanted = record_filter(query, lambda name: filter_name(name, zone))
            records = [r for r in zone["records"].values() if wanted(r)]
            order = record_order(query)
            if order is None:
                records.sort(key=lambda r: (r["name"], r["type"], r["created_on"]))
            else:
                records.sort(key=order[0], reverse=order[1])
            chunk, info = paginate([cf.public_record(zone, r) for r in records], page, per_page)
            return envelope(chunk, info)

    @router.post("/{zone_id}/dns_records")
    async def create_record(zone_id: str, request: Request) -> Any:
        body = await object_body(request)
        with store.lock:
            zone = cf.zone(zone_id)
            stamp = now()
            record = {
                "id": new_id(),
                **validated(zone, body, None),
                "created_on": stamp,
                "modified_on": stamp,
            }
            zone["records"][record["id"]] = record
            cf.save()
            return envelope(cf.public_record(zone, record))

    @router.get("/{zone_id}/dns_records/{record_id}")
    def get_record(zone_id: str, record_id: str) -> Any:
        with store.lock:
            zone = cf.zone(zone_id)
            return envelope(cf.public_record(zone, record_of(zone, record_id)))

    async def change_record(zone_id: str, record_id: str, request: Request, merge: bool) -> Any:
        body = await object_body(request)
        with store.lock:
            zone = cf.zone(zone_id)
            record = record_of(zone, record_id)
            base = {k: record[k] for k in ("type", "name", "content", "proxied", "ttl", "comment", "tags")}
            record.update(validated(zone, {**base, **body} if merge else body, record_id), modified_on=now())
            cf.save()
            return envelope(cf.public_record(zone, record))

    @router.patch("/{zone_id}/dns_records/{record_id}")
    async def patch_record(zone_id: str, record_id: str, request: Request) -> Any:
        return await change_record(zone_id, record_id, request, merge=True)

    @router.put("/{zone_id}/dns_records/{record_id}")
    async def put_record(zone_id: str, record_id: str, request: Request) -> Any:
        return await change_record(zone_id, record_id, request, merge=False)

    @router.delete("/{zone_id}/dns_records/{record_id}")
    def delete_record(zone_id: str, record_id: str) -> Any:
        with store.lock:
            zone = cf.zone(zone_id)
            record_of(zone, record_id)
            del zone["records"][record_id]
            cf.save()
            return envelope({"id": record_id})

    return router


def zone_name(name: str) -> str:
    """A zone name from the admin API, checked like Cloudflare's zone `name` pattern."""
    name = name.strip().lower().rstrip(".")
    if len(name) > 253 or not ZONE_NAME.match(name):
        raise dns_error(f"{name!r} is not a valid zone name; use a registrable domain like example.org", 1097)
    return name
