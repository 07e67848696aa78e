"""The sandbox's Turso state: organizations, groups, databases and token hashes in the store.

The Platform API (sandbox/turso/api.py) changes this state; the libSQL data plane (sandbox/turso/libsql.py)
reads it to find a database by its hostname and to check the bearer token of every request.
Call every function here with `store.lock` held.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sandbox.store import SandboxStore

DEFAULT_GROUP = "default"
DEFAULT_LOCATION = "aws-us-east-1"
# The location codes and names the vendor lists; a group's location must be one of them.
LOCATIONS = {
    "aws-ap-northeast-1": "AWS AP NorthEast (Tokyo)",
    "aws-ap-south-1": "AWS AP South (Mumbai)",
    "aws-eu-west-1": "AWS EU West (Ireland)",
    "aws-us-east-1": "AWS US East (Virginia)",
    "aws-us-east-2": "AWS US East (Ohio)",
    "aws-us-west-2": "AWS US West (Oregon)",
}
HOST_SUFFIX = ".turso.localhost"
EXPIRATION = re.compile(r"^(?:\d+[wdhms])+$")
UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}

Access = Literal["full-access", "read-only"]


def org_state(store: SandboxStore, org: str) -> dict[str, Any]:
    """The organization's node; a new organization starts with the `default` group."""
    node = store.section("turso", "orgs", org)
    if "groups" not in node:
        node["groups"] = {DEFAULT_GROUP: new_group(DEFAULT_GROUP, DEFAULT_LOCATION)}
    for name, group in node["groups"].items():  # state written before groups had ids and tokens
        group.setdefault("name", name)
        group.setdefault("uuid", str(uuid.uuid4()))
        group.setdefault("locations", [group.get("primary", DEFAULT_LOCATION)])
        group.setdefault("token_hashes", [])
    node.setdefault("databases", {})
    return node


def new_group(name: str, location: str) -> dict[str, Any]:
    return {
        "name": name,
        "uuid": str(uuid.uuid4()),
        "primary": location,
        "locations": [location],
        "token_hashes": [],
    }


def database_file(store: SandboxStore, org: str, name: str) -> Path:
    return store.directory / "turso" / org / f"{name}.sqlite"


def delete_database_file(store: SandboxStore, org: str, name: str) -> None:
    path = database_file(store, org, name)
    for leftover in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
        leftover.unlink(missing_ok=True)


def hostname(store: SandboxStore, org: str, name: str) -> str:
    """`<name>-<org>.turso.localhost:<port>`: the vendor's `<name>-<org>.turso.io`, on this machine.

    The port is the TLS one: every official client reads `libsql://` as TLS (https or wss). The
    plain port serves the same host names too (what the Workers runtime's egress forwards to)."""
    host = f"{name}-{org}{HOST_SUFFIX}"
    port = store.tls_port or store.port
    return f"{host}:{port}" if port else host


def public_database(store: SandboxStore, org: str, db: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": db["name"],
        "DbId": db["id"],
        "Hostname": hostname(store, org, db["name"]),
        "group": db["group"],
        "primaryRegion": db["primaryRegion"],
        "regions": [db["primaryRegion"]],
        "block_reads": False,
        "block_writes": False,
        "delete_protection": False,
        "parent": None,
    }


def public_group(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": group["name"],
        "uuid": group["uuid"],
        "primary": group["primary"],
        "locations": list(group["locations"]),
        "delete_protection": False,
    }


def expiration_seconds(expiration: str) -> float | None:
    """Seconds until a token made with `expiration` ("never" or e.g. "2w1d30m") expires."""
    if expiration == "never":
        return None
    if not EXPIRATION.match(expiration):
        raise ValueError(expiration)
    return float(sum(int(n) * UNIT_SECONDS[unit] for n, unit in re.findall(r"(\d+)([wdhms])", expiration)))


def issue_token(holder: dict[str, Any], authorization: Access, expiration: str) -> str:
    """A new token for a database or group; only its SHA-256 is kept, as the vendor keeps no tokens."""
    lifetime = expiration_seconds(expiration)
    token = "sbxdb_" + secrets.token_urlsafe(32)
    holder["token_hashes"].append(
        {
            "sha256": token_hash(token),
            "authorization": authorization,
            "expires_at": None if lifetime is None else time.time() + lifetime,
        }
    )
    return token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class DatabaseRef:
    """A database the data plane serves, found by its hostname."""

    org: str
    name: str
    db_id: str
    path: Path


def find_by_host(store: SandboxStore, host: str) -> DatabaseRef | None:
    """The database behind `<name>-<org>.turso.localhost` (host without port), if it exists."""
    if not host.endswith(HOST_SUFFIX):
        return None
    label = host[: -len(HOST_SUFFIX)]
    # Names and org slugs may both contain dashes, so match against what exists.
    for org, node in store.section("turso", "orgs").items():
        if not label.endswith(f"-{org}"):
            continue
        db = node.get("databases", {}).get(label[: -len(org) - 1])
        if db is not None:
            return DatabaseRef(org, db["name"], db["id"], database_file(store, org, db["name"]))
    return None


def token_access(store: SandboxStore, ref: DatabaseRef, token: str) -> Access | None:
    """What `token` may do on the database: its own tokens and its group's count; None if nothing."""
    node = org_state(store, ref.org)
    db = node["databases"].get(ref.name)
    if db is None or db["id"] != ref.db_id:
        return None
    group = node["groups"].get(db["group"], {})
    digest = token_hash(token)
    now = time.time()
    for record in [*db["token_hashes"], *group.get("token_hashes", [])]:
        expires_at = record.get("expires_at")
        if secrets.compare_digest(record["sha256"], digest) and (expires_at is None or expires_at > now):
            access: Access = "read-only" if record["authorization"] == "read-only" else "full-access"
            return access
    return None
