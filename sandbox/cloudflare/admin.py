"""Admin API for the sandbox Cloudflare account: change things behind Pulumi's back.

    PUT    /_admin/cloudflare/projects/{name}/env_vars/{var}   {"value", "type"?, "environments"?}
    DELETE /_admin/cloudflare/projects/{name}/env_vars/{var}
    DELETE /_admin/cloudflare/projects/{name}                  the project, its deployments and domains
    DELETE /_admin/cloudflare/projects/{name}/domains/{domain}
    POST   /_admin/cloudflare/zones                            {"name": "example.org"} (idempotent)
    PATCH  /_admin/cloudflare/zones/{zone}/dns_records/{id}    {"content"?, "name"?, "proxied"?, "ttl"?}
    DELETE /_admin/cloudflare/zones/{zone}/dns_records/{id}

`{zone}` is a zone id or name. Errors are `{"error": "..."}` with 404 or 400.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sandbox.cloudflare.dns import validated, zone_name
from sandbox.cloudflare.state import CloudflareApiError, CloudflareSandbox, now, stored_env_var
from sandbox.store import SandboxStore

Environment = Literal["production", "preview"]
ENVIRONMENTS: tuple[Environment, ...] = ("production", "preview")


class EnvVarBody(BaseModel):
    value: str
    type: Literal["plain_text", "secret_text"] = "plain_text"
    environments: list[Environment] = Field(default_factory=lambda: list(ENVIRONMENTS))


class ZoneBody(BaseModel):
    name: str


class RecordPatch(BaseModel):
    content: str | None = None
    name: str | None = None
    proxied: bool | None = None
    ttl: int | None = None


def missing(what: str) -> JSONResponse:
    return JSONResponse({"error": f"{what} not found"}, status_code=404)


def build_router(store: SandboxStore) -> APIRouter:
    cf = CloudflareSandbox(store)
    router = APIRouter(prefix="/_admin/cloudflare")

    def find_zone(zone: str) -> dict[str, Any] | None:
        zones = cf.state["zones"]
        return zones.get(zone) or next((z for z in zones.values() if z["name"] == zone.lower()), None)

    @router.put("/projects/{name}/env_vars/{var}")
    def set_env_var(name: str, var: str, body: EnvVarBody) -> Any:
        with store.lock:
            project = cf.state["projects"].get(name)
            if project is None:
                return missing("project")
            for environment in body.environments:
                configs = project["deployment_configs"].setdefault(environment, {"env_vars": {}})
                configs.setdefault("env_vars", {})[var] = stored_env_var(
                    {"type": body.type, "value": body.value}
                )
            # A secret's value lives beside the state (state.json keeps only its digest), where the
            # deployments' workers read it; a plain value replacing a secret drops the old value.
            value = body.value if body.type == "secret_text" else None
            cf.secrets.update_project(name, {environment: {var: value} for environment in body.environments})
            cf.save()
        return {"project": name, "env_var": var, "type": body.type}

    @router.delete("/projects/{name}/env_vars/{var}")
    def delete_env_var(name: str, var: str) -> Any:
        with store.lock:
            project = cf.state["projects"].get(name)
            if project is None:
                return missing("project")
            found = [c.get("env_vars", {}).pop(var, None) for c in project["deployment_configs"].values()]
            if not any(found):
                return missing("env var")
            cf.secrets.update_project(name, {env: {var: None} for env in project["deployment_configs"]})
            cf.save()
        return {"project": name, "deleted": var}

    @router.delete("/projects/{name}")
    def delete_project(name: str) -> Any:
        with store.lock:
            if name not in cf.state["projects"]:
                return missing("project")
            cf.delete_project(name)
            cf.save()
        return {"deleted": name}

    @router.delete("/projects/{name}/domains/{domain}")
    def delete_domain(name: str, domain: str) -> Any:
        with store.lock:
            project = cf.state["projects"].get(name)
            if project is None or project["domains"].pop(domain.lower(), None) is None:
                return missing("domain")
            cf.save()
        return {"project": name, "deleted": domain.lower()}

    @router.post("/zones")
    def create_zone(body: ZoneBody) -> Any:
        try:
            name = zone_name(body.name)
        except CloudflareApiError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        with store.lock:
            zone = cf.create_zone(name)
            cf.save()
            return cf.public_zone(zone)

    @router.patch("/zones/{zone}/dns_records/{record_id}")
    def patch_record(zone: str, record_id: str, body: RecordPatch) -> Any:
        with store.lock:
            found = find_zone(zone)
            record = found["records"].get(record_id) if found else None
            if found is None or record is None:
                return missing("DNS record")
            merged = {**record, **body.model_dump(exclude_none=True)}
            try:
                record.update(validated(found, merged, record_id), modified_on=now())
            except CloudflareApiError as exc:
                return JSONResponse({"error": exc.message}, status_code=400)
            cf.save()
            return cf.public_record(found, record)

    @router.delete("/zones/{zone}/dns_records/{record_id}")
    def delete_record(zone: str, record_id: str) -> Any:
        with store.lock:
            found = find_zone(zone)
            if found is None or found["records"].pop(record_id, None) is None:
                return missing("DNS record")
            cf.save()
        return {"deleted": record_id}

    return router
