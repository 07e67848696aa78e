"""Sandbox Neon state and how it looks on the wire (../shared/contracts/neon-api-v2.json).

State is plain JSON in the sandbox store: projects hold branches (with roles and databases),
endpoints and operations. An operation records when it will be done (`ready_at`, wall clock, so it
survives restarts) and reads as `running` until then, the way Neon's own operations take a moment.
"""

from __future__ import annotations

import secrets
import string
import time
import uuid
from datetime import UTC, datetime
from typing import Any

# region id -> (display name, latitude, longitude), as GET /regions reports them.
REGIONS = {
    "aws-us-east-1": ("AWS US East (N. Virginia)", "38.9", "-77.0"),
    "aws-us-east-2": ("AWS US East (Ohio)", "39.9", "-83.0"),
    "aws-us-west-2": ("AWS US West (Oregon)", "45.5", "-122.7"),
    "aws-eu-central-1": ("AWS Europe (Frankfurt)", "50.1", "8.7"),
    "aws-eu-west-2": ("AWS Europe (London)", "51.5", "-0.1"),
    "aws-ap-southeast-1": ("AWS Asia Pacific (Singapore)", "1.4", "103.8"),
    "aws-ap-southeast-2": ("AWS Asia Pacific (Sydney)", "-33.9", "151.2"),
    "aws-sa-east-1": ("AWS South America (Sao Paulo)", "-23.5", "-46.6"),
    "azure-eastus2": ("Azure East US 2 (Virginia)", "36.7", "-78.4"),
    "azure-westus3": ("Azure West US 3 (Arizona)", "33.4", "-112.1"),
    "azure-gwc": ("Azure Germany West Central (Frankfurt)", "50.1", "8.7"),
}
DEFAULT_REGION = "aws-us-east-2"
DEFAULT_PG_VERSION = 17
# How long operations run: starting a timeline or compute takes a moment, config changes less.
SLOW_SECONDS = 0.3
QUICK_SECONDS = 0.1
KEPT_OPERATIONS = 200

_ADJECTIVES = [
    "autumn",
    "bold",
    "broad",
    "calm",
    "cold",
    "cool",
    "crimson",
    "dawn",
    "divine",
    "dry",
    "falling",
    "floral",
    "frosty",
    "gentle",
    "green",
    "hidden",
    "icy",
    "jolly",
    "late",
    "little",
    "lively",
    "lucky",
    "misty",
    "morning",
    "mute",
    "noisy",
    "odd",
    "old",
    "patient",
    "plain",
    "polished",
    "proud",
    "purple",
    "quiet",
    "rapid",
    "red",
    "restless",
    "round",
    "royal",
    "shiny",
    "shy",
    "silent",
    "small",
    "snowy",
    "soft",
    "sparkling",
    "spring",
    "steep",
    "still",
    "summer",
    "sweet",
    "tiny",
    "twilight",
    "wandering",
    "white",
    "wild",
    "winter",
    "wispy",
    "young",
]
_NOUNS = [
    "art",
    "band",
    "base",
    "bird",
    "block",
    "boat",
    "bread",
    "breeze",
    "brook",
    "bush",
    "cake",
    "cell",
    "cherry",
    "cloud",
    "dawn",
    "dew",
    "disk",
    "dream",
    "dust",
    "feather",
    "field",
    "fire",
    "firefly",
    "flower",
    "fog",
    "forest",
    "frog",
    "frost",
    "glade",
    "grass",
    "hall",
    "haze",
    "heart",
    "hill",
    "lake",
    "leaf",
    "meadow",
    "moon",
    "mountain",
    "mouse",
    "night",
    "paper",
    "pine",
    "pond",
    "rain",
    "river",
    "sea",
    "shadow",
    "sky",
    "smoke",
    "snow",
    "sound",
    "star",
    "sun",
    "sunset",
    "surf",
    "thunder",
    "tree",
    "union",
    "violet",
    "voice",
    "water",
    "wave",
    "wind",
    "wood",
]


def neon_id(prefix: str = "") -> str:
    """Neon-style ids: `quiet-river-12345678`, `br-misty-lake-a1b2c3d4`, `ep-...`."""
    words = f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}"
    if prefix:
        alphabet = string.ascii_lowercase + string.digits
        return f"{prefix}-{words}-{''.join(secrets.choice(alphabet) for _ in range(8))}"
    return f"{words}-{secrets.randbelow(10**8):08d}"


def timestamp(at: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_branch(branch_id: str, name: str, parent_id: str | None, now: str) -> dict[str, Any]:
    """A branch as the store keeps it (roles and databases are added by the control plane)."""
    return {
        "id": branch_id,
        "name": name,
        "default": parent_id is None,
        "parent_id": parent_id,
        "created_at": now,
        "updated_at": now,
        "roles": {},
        "databases": {},
    }


def new_endpoint(endpoint_id: str, branch_id: str, kind: str, now: str) -> dict[str, Any]:
    """A compute endpoint as the store keeps it (its `port` is set when it first listens)."""
    return {"id": endpoint_id, "branch_id": branch_id, "type": kind, "created_at": now}


def new_operation(
    project: dict[str, Any],
    action: str,
    seconds: float,
    *,
    branch_id: str | None = None,
    endpoint_id: str | None = None,
) -> dict[str, Any]:
    """Record an operation on `project` that reads as running for `seconds`."""
    now = time.time()
    op = {
        "id": str(uuid.uuid4()),
        "project_id": project["id"],
        "branch_id": branch_id,
        "endpoint_id": endpoint_id,
        "action": action,
        "created": now,
        "ready_at": now + seconds,
    }
    operations: list[dict[str, Any]] = project.setdefault("operations", [])
    operations.append(op)
    del operations[:-KEPT_OPERATIONS]
    return op


def operation_view(op: dict[str, Any]) -> dict[str, Any]:
    done = time.time() >= op["ready_at"]
    view = {
        "id": op["id"],
        "project_id": op["project_id"],
        "action": op["action"],
        "status": "finished" if done else "running",
        "failures_count": 0,
        "created_at": timestamp(op["created"]),
        "updated_at": timestamp(op["ready_at"] if done else op["created"]),
        "total_duration_ms": round((op["ready_at"] - op["created"]) * 1000) if done else 0,
    }
    view.update({key: op[key] for key in ("branch_id", "endpoint_id") if op.get(key)})
    return view


def running_operations(project: dict[str, Any]) -> bool:
    now = time.time()
    return any(now < op["ready_at"] for op in project.get("operations", []))


def _branch_starting(project: dict[str, Any], branch_id: str) -> bool:
    now = time.time()
    return any(
        op["action"] == "create_timeline" and op.get("branch_id") == branch_id and now < op["ready_at"]
        for op in project.get("operations", [])
    )


def project_view(project: dict[str, Any], proxy_host: str) -> dict[str, Any]:
    zero_usage = dict.fromkeys(
        (
            "active_time_seconds",
            "compute_time_seconds",
            "written_data_bytes",
            "data_transfer_bytes",
            "data_storage_bytes_hour",
            "cpu_used_sec",
            "synthetic_storage_size",
        ),
        0,
    )
    return {
        "id": project["id"],
        "platform_id": project["region_id"].split("-", 1)[0],
        "region_id": project["region_id"],
        "name": project["name"],
        "provisioner": "k8s-neonvm",
        "default_endpoint_settings": {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 0.25},
        "settings": {"allowed_ips": {"ips": [], "protected_branches_only": False}},
        "pg_version": project["pg_version"],
        "proxy_host": proxy_host,
        "branch_logical_size_limit": 512,
        "branch_logical_size_limit_bytes": 512 * 1024 * 1024,
        "store_passwords": True,
        "creation_source": "console",
        "history_retention_seconds": 86400,
        "created_at": project["created_at"],
        "updated_at": project["updated_at"],
        "consumption_period_start": project["created_at"],
        "consumption_period_end": "9999-12-31T23:59:59Z",
        "owner_id": "sandbox",
        "owner": {
            "email": "sandbox@localhost",
            "name": "oneclick sandbox",
            "branches_limit": 10,
            "subscription_type": "launch",
        },
        **zero_usage,
    }


def project_list_item(project: dict[str, Any], proxy_host: str) -> dict[str, Any]:
    return {**project_view(project, proxy_host), "active_time": 0}


def branch_view(project: dict[str, Any], branch: dict[str, Any]) -> dict[str, Any]:
    state = "init" if _branch_starting(project, branch["id"]) else "ready"
    view = {
        "id": branch["id"],
        "project_id": project["id"],
        "name": branch["name"],
        "current_state": state,
        "state_changed_at": branch["created_at"],
        "logical_size": 0,
        "creation_source": "console",
        "default": branch["default"],
        "primary": branch["default"],
        "protected": False,
        "cpu_used_sec": 0,
        "compute_time_seconds": 0,
        "active_time_seconds": 0,
        "written_data_bytes": 0,
        "data_transfer_bytes": 0,
        "created_at": branch["created_at"],
        "updated_at": branch["updated_at"],
    }
    if branch.get("parent_id"):
        view["parent_id"] = branch["parent_id"]
    return view


def endpoint_view(project: dict[str, Any], endpoint: dict[str, Any], address: str) -> dict[str, Any]:
    proxy_host = address.rsplit(":", 1)[0]
    return {
        "host": address,
        "id": endpoint["id"],
        "project_id": project["id"],
        "branch_id": endpoint["branch_id"],
        "autoscaling_limit_min_cu": 0.25,
        "autoscaling_limit_max_cu": 0.25,
        "region_id": project["region_id"],
        "type": endpoint["type"],
        "current_state": "active",
        "settings": {},
        "pooler_enabled": False,
        "pooler_mode": "transaction",
        "disabled": False,
        "passwordless_access": False,
        "creation_source": "console",
        "created_at": endpoint["created_at"],
        "updated_at": endpoint["created_at"],
        "proxy_host": proxy_host,
        "suspend_timeout_seconds": 0,
        "provisioner": "k8s-neonvm",
    }


def role_view(branch_id: str, role: dict[str, Any], *, with_password: bool = False) -> dict[str, Any]:
    view = {
        "branch_id": branch_id,
        "name": role["name"],
        "protected": False,
        "created_at": role["created_at"],
        "updated_at": role["updated_at"],
    }
    if with_password:
        view["password"] = role["password"]
    return view


def database_view(branch_id: str, database: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": database["id"],
        "branch_id": branch_id,
        "name": database["name"],
        "owner_name": database["owner_name"],
        "created_at": database["created_at"],
        "updated_at": database["updated_at"],
    }
