"""Typed views of the Cloudflare API v4 objects oneclick reads (contract: cloudflare-pages-dns.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EnvVarType = Literal["plain_text", "secret_text"]


@dataclass(frozen=True)
class EnvVar:
    """A Pages environment variable. Cloudflare never returns a secret's value: it reads back as None."""

    type: EnvVarType
    value: str | None = None

    @staticmethod
    def plain(value: str) -> EnvVar:
        return EnvVar("plain_text", value)

    @staticmethod
    def secret(value: str) -> EnvVar:
        return EnvVar("secret_text", value)

    def to_api(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value or ""}

    @staticmethod
    def from_api(data: Any) -> EnvVar:
        if not isinstance(data, dict):
            return EnvVar("plain_text", None)
        kind: EnvVarType = "secret_text" if data.get("type") == "secret_text" else "plain_text"
        value = data.get("value")
        # Secrets come back empty or without a value; either way the value is unknown.
        return EnvVar(kind, str(value) if kind == "plain_text" and value is not None else None)


def env_vars_from_api(data: Any) -> dict[str, EnvVar]:
    if not isinstance(data, dict):
        return {}
    return {str(name): EnvVar.from_api(value) for name, value in data.items() if value is not None}


@dataclass(frozen=True)
class Compatibility:
    """The Workers runtime settings a project's deployments run their server half with."""

    date: str
    flags: tuple[str, ...] = ()

    def to_api(self) -> dict[str, Any]:
        return {"compatibility_date": self.date, "compatibility_flags": list(self.flags)}

    @staticmethod
    def from_api(data: Any) -> Compatibility | None:
        if not isinstance(data, dict) or not data.get("compatibility_date"):
            return None
        flags = data.get("compatibility_flags") or ()
        return Compatibility(str(data["compatibility_date"]), tuple(str(f) for f in flags))


@dataclass(frozen=True)
class Deployment:
    id: str
    short_id: str
    project_name: str
    environment: str  # "production" or "preview"
    url: str
    branch: str
    created_on: str
    status: str  # status of the latest stage: "success", "active", "failure", ...
    env_vars: dict[str, EnvVar] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @staticmethod
    def from_api(data: dict[str, Any]) -> Deployment:
        trigger = data.get("deployment_trigger") or {}
        stage = data.get("latest_stage") or {}
        return Deployment(
            id=str(data["id"]),
            short_id=str(data.get("short_id") or str(data["id"])[:8]),
            project_name=str(data.get("project_name", "")),
            environment=str(data.get("environment", "")),
            url=str(data.get("url", "")),
            branch=str((trigger.get("metadata") or {}).get("branch", "")),
            created_on=str(data.get("created_on", "")),
            status=str(stage.get("status", "")),
            env_vars=env_vars_from_api(data.get("env_vars")),
            aliases=tuple(str(alias) for alias in data.get("aliases") or ()),
        )


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    subdomain: str
    production_branch: str
    created_on: str
    domains: tuple[str, ...]
    env_vars: dict[str, EnvVar]  # production
    preview_env_vars: dict[str, EnvVar]
    latest_deployment: Deployment | None
    canonical_deployment: Deployment | None  # the one the production URL serves
    compatibility: Compatibility | None = None  # production's; None when never set

    @staticmethod
    def from_api(data: dict[str, Any]) -> Project:
        configs = data.get("deployment_configs") or {}
        latest, canonical = data.get("latest_deployment"), data.get("canonical_deployment")
        return Project(
            id=str(data.get("id", "")),
            name=str(data["name"]),
            subdomain=str(data.get("subdomain", "")),
            production_branch=str(data.get("production_branch", "")),
            created_on=str(data.get("created_on", "")),
            domains=tuple(str(d) for d in data.get("domains") or ()),
            env_vars=env_vars_from_api((configs.get("production") or {}).get("env_vars")),
            preview_env_vars=env_vars_from_api((configs.get("preview") or {}).get("env_vars")),
            latest_deployment=Deployment.from_api(latest) if isinstance(latest, dict) else None,
            canonical_deployment=Deployment.from_api(canonical) if isinstance(canonical, dict) else None,
            compatibility=Compatibility.from_api(configs.get("production")),
        )


@dataclass(frozen=True)
class PagesDomain:
    """A custom domain of a Pages project and how far its verification and certificate got."""

    id: str
    name: str
    status: str  # "initializing", "pending", "active", "deactivated", "blocked", "error"
    verification_status: str  # ownership: does the hostname point at the project?
    validation_status: str  # certificate (SSL) validation
    validation_method: str
    zone_tag: str
    error_message: str
    txt_name: str = ""
    txt_value: str = ""

    @staticmethod
    def from_api(data: dict[str, Any]) -> PagesDomain:
        verification = data.get("verification_data") or {}
        validation = data.get("validation_data") or {}
        return PagesDomain(
            id=str(data.get("id", "")),
            name=str(data["name"]),
            status=str(data.get("status", "")),
            verification_status=str(verification.get("status", "")),
            validation_status=str(validation.get("status", "")),
            validation_method=str(validation.get("method", "")),
            zone_tag=str(data.get("zone_tag") or ""),
            error_message=str(verification.get("error_message") or validation.get("error_message") or ""),
            txt_name=str(validation.get("txt_name") or ""),
            txt_value=str(validation.get("txt_value") or ""),
        )


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    status: str
    account_id: str

    @staticmethod
    def from_api(data: dict[str, Any]) -> Zone:
        return Zone(
            id=str(data["id"]),
            name=str(data["name"]),
            status=str(data.get("status", "")),
            account_id=str((data.get("account") or {}).get("id", "")),
        )


@dataclass(frozen=True)
class DnsRecord:
    id: str
    zone_id: str
    type: str
    name: str
    content: str
    proxied: bool
    ttl: int
    comment: str | None = None

    @staticmethod
    def from_api(data: dict[str, Any], zone_id: str = "") -> DnsRecord:
        return DnsRecord(
            id=str(data["id"]),
            zone_id=str(data.get("zone_id") or zone_id),
            type=str(data["type"]),
            name=str(data["name"]),
            content=str(data.get("content", "")),
            proxied=bool(data.get("proxied", False)),
            ttl=int(data.get("ttl", 1)),
            comment=str(data["comment"]) if data.get("comment") is not None else None,
        )
