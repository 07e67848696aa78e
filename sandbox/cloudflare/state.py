"""The sandbox Cloudflare account: Pages projects, deployments, custom domains, zones, DNS records.

Kept in the store under `cloudflare` (one account, `CLOUDFLARE_ACCOUNT_ID`); uploaded file contents
live on disk under `<sandbox dir>/cloudflare/assets/<hash[:2]>/<hash>`, never in state.json, and a
deployment's worker modules under `cloudflare/modules/<sha256[:2]>/<sha256>` (its record lists them).
state.json keeps only the SHA-256 of a secret env var, so a test can tell a rotation happened; the
values themselves, which a deployment's worker runs with, are in `cloudflare/secrets.json` (mode 0600),
never in state.json, logs or API answers.

Custom domains (documented sandbox rule): a domain is added `pending` and turns `active` on the
ACTIVATION_READS-th read (GET of the domain or the domain list) at which its DNS checks out. DNS
checks out when the domain's zone is a sandbox zone holding a CNAME `<domain> -> <project>.pages.localhost`,
or when no sandbox zone holds the domain (its DNS lives elsewhere, which the sandbox cannot see, so
it trusts it). An active domain whose sandbox CNAME disappears or changes goes back to `pending`.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID
from sandbox.store import SandboxStore

ACTIVATION_READS = 2
PAGES_DOMAIN = "pages.localhost"
# `<deployment id>.pages-assets.localhost`: a deployment's static files only, never its worker. The
# worker's ASSETS binding fetches through it (going through the router again would loop).
ASSETS_DOMAIN = "pages-assets.localhost"
# Zones every sandbox account starts with, so a custom domain under them gets its CNAME made for it.
DEFAULT_ZONES = ("example.com",)
NAME_SERVERS = ["ns1.sandbox.localhost", "ns2.sandbox.localhost"]


class CloudflareApiError(Exception):
    """Answered as the v4 envelope `{"success": false, "errors": [{"code", "message"}], ...}`."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_id() -> str:
    return uuid.uuid4().hex  # 32 hex characters, the shape of Cloudflare's identifiers


def secret_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def public_env_vars(stored: dict[str, Any]) -> dict[str, Any]:
    """Env vars as the API shows them: plain values, secrets by type only."""
    return {
        name: {"type": "plain_text", "value": var["value"]}
        if var["type"] == "plain_text"
        else {"type": "secret_text"}
        for name, var in sorted(stored.items())
    }


def stored_env_var(value: Any) -> dict[str, Any]:
    """An env var from a request body, as kept: plain values, secret digests."""
    if not isinstance(value, dict) or not isinstance(value.get("value", ""), str):
        raise CloudflareApiError(400, 8000000, "an env var must be {type, value} with a string value")
    kind = value.get("type", "plain_text")
    if kind not in ("plain_text", "secret_text"):
        raise CloudflareApiError(
            400, 8000000, f"env var type must be plain_text or secret_text, not {kind!r}"
        )
    text = str(value.get("value", ""))
    if kind == "secret_text":
        return {"type": "secret_text", "sha256": secret_digest(text)}
    return {"type": "plain_text", "value": text}


class SecretValues:
    """Secret env var values: per project and environment as configured, and per deployment as
    deployed (a deployment keeps running with the values it was made with, as on Pages).

    One small JSON file read on each use, so every holder of the store sees the same values; written
    atomically with mode 0600. Call with `store.lock` held."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "cloudflare" / "secrets.json"

    def _read(self) -> dict[str, dict[str, Any]]:
        data: dict[str, dict[str, Any]] = {"projects": {}, "deployments": {}}
        if self.path.is_file():
            data.update(json.loads(self.path.read_text()))
        return data

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        tmp.replace(self.path)

    def update_project(self, project: str, changes: dict[str, dict[str, str | None]]) -> None:
        """Apply `{environment: {name: value, or None to remove}}` to a project's secrets."""
        if not any(changes.values()):
            return
        data = self._read()
        environments = data["projects"].setdefault(project, {})
        for environment, values in changes.items():
            current = environments.setdefault(environment, {})
            for name, value in values.items():
                if value is None:
                    current.pop(name, None)
                else:
                    current[name] = value
        self._write(data)

    def project(self, project: str, environment: str) -> dict[str, str]:
        return dict(self._read()["projects"].get(project, {}).get(environment, {}))

    def deployment(self, deployment_id: str) -> dict[str, str]:
        return dict(self._read()["deployments"].get(deployment_id, {}))

    def set_deployment(self, deployment_id: str, values: dict[str, str]) -> None:
        data = self._read()
        data["deployments"][deployment_id] = values
        self._write(data)

    def forget(self, project: str | None = None, deployment_ids: tuple[str, ...] = ()) -> None:
        data = self._read()
        changed = data["projects"].pop(project, None) is not None if project else False
        for deployment_id in deployment_ids:
            changed = data["deployments"].pop(deployment_id, None) is not None or changed
        if changed:
            self._write(data)


class CloudflareSandbox:
    """Reads and writes the account's state. Call every method with `store.lock` held."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    @property
    def state(self) -> dict[str, Any]:
        root = self.store.section("cloudflare")
        if not root.get("seeded"):
            root["seeded"] = True
            for name in DEFAULT_ZONES:
                self.create_zone(name, root)
        for key in ("projects", "deployments", "zones", "assets"):
            root.setdefault(key, {})
        return root

    def save(self) -> None:
        self.store.save()

    # -- hostnames -----------------------------------------------------------------------------

    def port_suffix(self) -> str:
        return f":{self.store.port}" if self.store.port else ""

    def project_host(self, project: str) -> str:
        return f"{project}.{PAGES_DOMAIN}"

    def subdomain(self, project: str) -> str:
        """A hostname, as Pages' `<project>.pages.dev`: no port (deployment URLs carry it)."""
        return self.project_host(project)

    def deployment_url(self, project: str, label: str) -> str:
        return f"http://{label}.{self.project_host(project)}{self.port_suffix()}"

    # -- assets --------------------------------------------------------------------------------

    @property
    def assets_dir(self) -> Path:
        return self.store.directory / "cloudflare" / "assets"

    def blob_path(self, key: str) -> Path:
        return self.assets_dir / key[:2] / key

    def has_blob(self, key: str) -> bool:
        return key in self.state["assets"] and self.blob_path(key).is_file()

    def put_blob(self, key: str, content: bytes, content_type: str) -> None:
        path = self.blob_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
        self.state["assets"][key] = {"contentType": content_type, "size": len(content)}

    def content_type(self, key: str) -> str:
        meta = self.state["assets"].get(key) or {}
        return str(meta.get("contentType") or "application/octet-stream")

    # -- worker modules and secrets ------------------------------------------------------------

    @property
    def cloudflare_dir(self) -> Path:
        return self.store.directory / "cloudflare"

    def module_path(self, digest: str) -> Path:
        return self.cloudflare_dir / "modules" / digest[:2] / digest

    def put_module(self, content: bytes) -> str:
        """Store a module's content by its SHA-256 (the same module in many deployments is kept once)."""
        digest = hashlib.sha256(content).hexdigest()
        path = self.module_path(digest)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{digest}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(content)
            tmp.replace(path)
        return digest

    @property
    def secrets(self) -> SecretValues:
        return SecretValues(self.store.directory)

    # -- projects and deployments --------------------------------------------------------------

    def project(self, name: str) -> dict[str, Any]:
        project: dict[str, Any] | None = self.state["projects"].get(name)
        if project is None:
            raise CloudflareApiError(
                404,
                8000007,
                "Project not found. The specified project name does not match any of your existing projects.",
            )
        return project

    def deployment(self, project: dict[str, Any], deployment_id: str) -> dict[str, Any]:
        deployment: dict[str, Any] | None = self.state["deployments"].get(deployment_id)
        if deployment is None or deployment["project_name"] != project["name"]:
            raise CloudflareApiError(404, 8000009, "Deployment not found.")
        return deployment

    def public_deployment(self, deployment: dict[str, Any]) -> dict[str, Any]:
        name, branch = deployment["project_name"], deployment["branch"]
        stages = [
            {"name": stage, "status": "success", "started_on": deployment["created_on"],
             "ended_on": deployment["created_on"]}
            for stage in ("queued", "initialize", "clone_repo", "build", "deploy")
        ]  # fmt: skip
        return {
            "id": deployment["id"],
            "short_id": deployment["short_id"],
            "project_id": deployment["project_id"],
            "project_name": name,
            "environment": deployment["environment"],
            "url": self.deployment_url(name, deployment["short_id"]),
            "aliases": [self.deployment_url(name, branch_label(branch))],
            "created_on": deployment["created_on"],
            "modified_on": deployment["created_on"],
            "latest_stage": stages[-1],
            "stages": stages,
            "deployment_trigger": {
                "type": "ad_hoc",
                "metadata": {
                    "branch": branch,
                    "commit_hash": deployment.get("commit_hash", ""),
                    "commit_message": deployment.get("commit_message", ""),
                },
            },
            "env_vars": public_env_vars(deployment["env_vars"]),
            "is_skipped": False,
            "source": {"type": "direct_upload"},
            "build_config": {"build_command": None, "destination_dir": None, "root_dir": None},
        }

    def public_project(self, project: dict[str, Any]) -> dict[str, Any]:
        configs = {
            env: {**values, "env_vars": public_env_vars(values.get("env_vars", {}))}
            for env, values in project["deployment_configs"].items()
        }
        out: dict[str, Any] = {
            "id": project["id"],
            "name": project["name"],
            "subdomain": self.subdomain(project["name"]),
            "domains": [self.subdomain(project["name"]), *sorted(project["domains"])],
            "production_branch": project["production_branch"],
            "created_on": project["created_on"],
            "deployment_configs": configs,
            "build_config": {"build_command": None, "destination_dir": None, "root_dir": None},
            "source": None,
        }
        # The contract types these as objects (not nullable): absent until a deployment exists.
        for key, deployment_id in (
            ("latest_deployment", project["deployment_ids"][-1] if project["deployment_ids"] else None),
            ("canonical_deployment", project.get("canonical_deployment_id")),
        ):
            if deployment_id and deployment_id in self.state["deployments"]:
                out[key] = self.public_deployment(self.state["deployments"][deployment_id])
        return out

    def delete_project(self, name: str) -> list[str]:
        """Remove a project, its deployments and its secrets; returns the removed deployment ids."""
        project = self.state["projects"].pop(name)
        for deployment_id in project["deployment_ids"]:
            self.state["deployments"].pop(deployment_id, None)
        self.secrets.forget(name, tuple(project["deployment_ids"]))
        return list(project["deployment_ids"])

    # -- zones and DNS -------------------------------------------------------------------------

    def create_zone(self, name: str, root: dict[str, Any] | None = None) -> dict[str, Any]:
        zones: dict[str, dict[str, Any]] = (root if root is not None else self.state).setdefault("zones", {})
        for existing in zones.values():
            if existing["name"] == name:
                return existing
        zone_id = new_id()
        zones[zone_id] = {"id": zone_id, "name": name, "created_on": now(), "records": {}}
        return zones[zone_id]

    def zone(self, zone_id: str) -> dict[str, Any]:
        zone: dict[str, Any] | None = self.state["zones"].get(zone_id)
        if zone is None:
            raise CloudflareApiError(
                404, 7003, f"Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?"
            )
        return zone

    def zone_for(self, hostname: str) -> dict[str, Any] | None:
        """The most specific sandbox zone holding `hostname`."""
        matches = [
            z
            for z in self.state["zones"].values()
            if hostname == z["name"] or hostname.endswith("." + z["name"])
        ]
        return max(matches, key=lambda z: len(z["name"]), default=None)

    def public_zone(self, zone: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": zone["id"],
            "name": zone["name"],
            "status": "active",
            "paused": False,
            "type": "full",
            "development_mode": 0,
            "name_servers": NAME_SERVERS,
            "original_name_servers": None,
            "original_registrar": None,
            "original_dnshost": None,
            "created_on": zone["created_on"],
            "modified_on": zone["created_on"],
            "activated_on": zone["created_on"],
            "owner": {"id": CLOUDFLARE_ACCOUNT_ID, "name": "sandbox", "type": "user"},
            "account": {"id": CLOUDFLARE_ACCOUNT_ID, "name": "Sandbox account"},
            "meta": {
                "step": 2,
                "custom_certificate_quota": 0,
                "page_rule_quota": 3,
                "phishing_detected": False,
            },
            "permissions": ["#zone:read", "#zone:edit", "#dns_records:read", "#dns_records:edit"],
            "plan": {"id": "free", "name": "Free Website", "price": 0, "currency": "USD"},
        }

    def public_record(self, zone: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        out = {
            key: record[key]
            for key in ("id", "type", "name", "content", "proxied", "ttl", "created_on", "modified_on")
        }
        out.update(
            zone_id=zone["id"],
            zone_name=zone["name"],
            proxiable=record["type"] in ("A", "AAAA", "CNAME"),
            locked=False,
            meta={"auto_added": False, "source": "primary"},
            tags=list(record.get("tags", [])),
        )
        if record.get("comment") is not None:
            out["comment"] = record["comment"]
        return out

    # -- custom domains ------------------------------------------------------------------------

    def dns_problem(self, domain: str, project: str) -> str | None:
        """Why `domain` does not (yet) reach `project`, or None when its DNS checks out."""
        zone = self.zone_for(domain)
        if zone is None:
            return None  # DNS hosted elsewhere: the sandbox trusts it
        target = self.project_host(project)
        cnames = [r for r in zone["records"].values() if r["name"] == domain and r["type"] == "CNAME"]
        if any(r["content"].rstrip(".").lower() == target for r in cnames):
            return None
        if cnames:
            return f"CNAME record for {domain} points to {cnames[0]['content']}, not {target}"
        return f"CNAME record for {domain} not found; add one pointing to {target}"

    def check_domain(self, project: dict[str, Any], domain: dict[str, Any]) -> bool:
        """One read of the domain: advance or reset its activation. True when something changed."""
        before = (domain["status"], domain["checks"], domain.get("error"))
        problem = self.dns_problem(domain["name"], project["name"])
        if problem is None:
            domain["checks"] += 1
            domain["error"] = None
            if domain["checks"] >= ACTIVATION_READS:
                domain["status"] = "active"
        else:
            domain.update(status="pending", checks=0, error=problem)
        return before != (domain["status"], domain["checks"], domain.get("error"))

    def public_domain(self, project: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
        status = domain["status"]
        zone = self.zone_for(domain["name"])
        check: dict[str, Any] = {"status": "active" if status == "active" else "pending"}
        if domain.get("error"):
            check["error_message"] = domain["error"]
        return {
            "id": domain["id"],
            "domain_id": domain["id"],
            "name": domain["name"],
            "status": status,
            "zone_tag": zone["id"] if zone else "",
            "certificate_authority": "google",
            "created_on": domain["created_on"],
            "verification_data": dict(check),
            "validation_data": {**check, "method": "http"},
            "project_name": project["name"],
        }

    # -- serving sites -------------------------------------------------------------------------

    def site_for(self, host: str) -> dict[str, Any] | None:
        """The deployment a Host serves: `<project>.pages.localhost` (production),
        `<short-id or branch>.<project>.pages.localhost`, or an active custom domain. None if unknown."""
        projects: dict[str, dict[str, Any]] = self.state["projects"]
        deployments: dict[str, dict[str, Any]] = self.state["deployments"]
        suffix = "." + PAGES_DOMAIN
        if host.endswith(suffix):
            labels = host[: -len(suffix)].split(".")
            project = projects.get(labels[-1])
            if project is None or len(labels) > 2:
                return None
            if len(labels) == 1:
                return deployments.get(project.get("canonical_deployment_id") or "")
            label = labels[0]
            for deployment_id in reversed(project["deployment_ids"]):
                deployment = deployments[deployment_id]
                if deployment["short_id"] == label:
                    return deployment
            for deployment_id in reversed(project["deployment_ids"]):  # branch alias: its newest
                deployment = deployments[deployment_id]
                if branch_label(deployment["branch"]) == label:
                    return deployment
            return None
        for project in projects.values():
            domain = project["domains"].get(host)
            if domain and domain["status"] == "active" and self.dns_problem(host, project["name"]) is None:
                return deployments.get(project.get("canonical_deployment_id") or "")
        return None

    def assets_host(self, deployment_id: str) -> str:
        return f"{deployment_id}.{ASSETS_DOMAIN}"

    def assets_site(self, host: str) -> dict[str, Any] | None:
        """The deployment whose static files `<deployment id>.pages-assets.localhost` serves."""
        deployment: dict[str, Any] | None = self.state["deployments"].get(host[: -len(ASSETS_DOMAIN) - 1])
        return deployment

    def is_pages_host(self, host: str) -> bool:
        if host.endswith("." + PAGES_DOMAIN) or host.endswith("." + ASSETS_DOMAIN):
            return True
        return any(host in project["domains"] for project in self.state["projects"].values())


def branch_label(branch: str) -> str:
    """A branch as a hostname label, the way Pages makes branch aliases (`feature/x` -> `feature-x`)."""
    label = "".join(c if c.isalnum() else "-" for c in branch.lower()).strip("-")
    return label[:28].strip("-") or "branch"
