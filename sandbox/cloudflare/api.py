"""Cloudflare API v4 (https://developers.cloudflare.com/api/), the part oneclick uses, under `/client/v4`.

Shapes follow ../shared/contracts/cloudflare-pages-dns.json and the direct-upload supplement. Every
answer is the v4 envelope; failures are `{"success": false, "errors": [{"code", "message"}],
"messages": [], "result": null}`. Requests need `Authorization: Bearer <sandbox api token>`, except
the /pages/assets/* calls, which need the upload JWT from `.../upload-token` instead.

Error codes: 8000007 (project not found), 7003 (unknown zone), the DNS codes 81044/81053/81057,
10021 (a worker that does not validate: no main module, an exception at start-up) and 8000057 (a
`_routes.json` breaking Pages' rules) follow what Cloudflare answers; the other 8000xxx codes are
the sandbox's own choice.

A deployment with a `_worker.bundle` (bundle.py) has its worker started (workers.py) before it is
recorded: one that fails is not created, and the previous deployment keeps serving.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile

from sandbox.cloudflare import dns as cloudflare_dns
from sandbox.cloudflare.bundle import SCRIPT_ERROR, Bundle, parse_bundle
from sandbox.cloudflare.envelope import CloudflareRoute, bearer, envelope, json_body, paginate
from sandbox.cloudflare.routing import parse_routes
from sandbox.cloudflare.state import (
    CloudflareApiError,
    CloudflareSandbox,
    new_id,
    now,
    stored_env_var,
)
from sandbox.cloudflare.workers import WorkerStartError, plan_for, worker_pool
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID
from sandbox.store import SandboxStore

PREFIX = "/client/v4"
PROJECT_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,56}[a-z0-9])?$")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)
HASH = re.compile(r"^[0-9a-f]{32}$")
MAX_MANIFEST_ENTRIES = 20_000
MAX_DOMAINS = 100
UPLOAD_TOKEN_SECONDS = 30 * 60
CONFIG_PARTS = ("_headers", "_redirects", "_routes.json", "functions-filepath-routing-config.json")
MAX_CONFIG_BYTES = 1024 * 1024


class UploadTokens:
    """JWT-shaped upload tokens: HMAC-signed with a key derived from the sandbox API token, so they
    verify without being stored and stay valid across restarts until they expire."""

    def __init__(self, api_token: str) -> None:
        self._key = hashlib.sha256(b"pages-upload-token:" + api_token.encode()).digest()

    @staticmethod
    def _b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    def issue(self, project: str) -> str:
        header = self._b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "sub": project,
            "account": CLOUDFLARE_ACCOUNT_ID,
            "exp": int(time.time()) + UPLOAD_TOKEN_SECONDS,
        }
        payload = self._b64(json.dumps(claims).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{self._b64(signature)}"

    def verify(self, token: str) -> str:
        """The project the token was issued for; raises 401 when it is forged or expired."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, binascii.Error):
            raise CloudflareApiError(401, 8000013, "Invalid upload token: not a JWT") from None
        if not hmac.compare_digest(expected, given):
            raise CloudflareApiError(401, 8000013, "Invalid upload token: bad signature")
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
            raise CloudflareApiError(401, 8000013, "Invalid upload token: no project in it")
        if int(claims.get("exp", 0)) < time.time():
            raise CloudflareApiError(401, 8000013, "Upload token expired; request a new one")
        return str(claims["sub"])


def build_router(store: SandboxStore) -> APIRouter:
    cf = CloudflareSandbox(store)
    tokens = UploadTokens(store.api_token)
    pool = worker_pool(store)

    def authorize(request: Request) -> None:
        token = bearer(request).encode()
        if not secrets.compare_digest(token, store.api_token.encode()):
            raise CloudflareApiError(403, 10000, "Authentication error")

    def account(account_id: str) -> None:
        if account_id != CLOUDFLARE_ACCOUNT_ID:
            raise CloudflareApiError(
                403,
                9109,
                "Unauthorized to access requested resource: "
                f"the sandbox has one account, {CLOUDFLARE_ACCOUNT_ID}",
            )

    def upload_project(request: Request) -> str:
        return tokens.verify(bearer(request))

    api = APIRouter(prefix=PREFIX, route_class=CloudflareRoute, dependencies=[Depends(authorize)])
    pages = APIRouter(
        prefix="/accounts/{account_id}/pages/projects",
        route_class=CloudflareRoute,
        dependencies=[Depends(account)],
    )
    assets = APIRouter(prefix=PREFIX + "/pages/assets", route_class=CloudflareRoute)

    # -- projects ------------------------------------------------------------------------------

    @pages.get("")
    def list_projects(page: int = 1, per_page: int = 10) -> Any:
        with store.lock:
            projects = sorted(cf.state["projects"].values(), key=lambda p: p["created_on"], reverse=True)
            chunk, info = paginate([cf.public_project(p) for p in projects], page, per_page)
            return envelope(chunk, info)

    @pages.post("")
    async def create_project(request: Request) -> Any:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise CloudflareApiError(400, 8000000, "Request body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not PROJECT_NAME.match(name):
            raise CloudflareApiError(
                400,
                8000011,
                "Project name must be 1-58 lowercase letters, numbers and dashes, "
                "and may not start or end with a dash",
            )
        branch = body.get("production_branch") or "main"
        configs: dict[str, Any] = {"production": {"env_vars": {}}, "preview": {"env_vars": {}}}
        secret_values = merge_deployment_configs(configs, body.get("deployment_configs"))
        with store.lock:
            if name in cf.state["projects"]:
                raise CloudflareApiError(409, 8000002, "A project with this name already exists.")
            cf.secrets.forget(name)  # a project of the same name deleted earlier by the admin API
            cf.secrets.update_project(name, secret_values)
            project: dict[str, Any] = {
                "id": new_id(),
                "name": name,
                "production_branch": str(branch),
                "created_on": now(),
                "deployment_configs": configs,
                "deployment_ids": [],
                "canonical_deployment_id": None,
                "domains": {},
            }
            cf.state["projects"][name] = project
            cf.save()
            return envelope(cf.public_project(project))

    @pages.get("/{project_name}")
    def get_project(project_name: str) -> Any:
        with store.lock:
            return envelope(cf.public_project(cf.project(project_name)))

    @pages.patch("/{project_name}")
    async def update_project(project_name: str, request: Request) -> Any:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise CloudflareApiError(400, 8000000, "Request body must be a JSON object")
        with store.lock:
            project = cf.project(project_name)
            configs = json.loads(json.dumps(project["deployment_configs"]))  # all or nothing
            secret_values = merge_deployment_configs(configs, body.get("deployment_configs"))
            if body.get("production_branch"):
                project["production_branch"] = str(body["production_branch"])
            project["deployment_configs"] = configs
            cf.secrets.update_project(project_name, secret_values)
            cf.save()
            return envelope(cf.public_project(project))

    @pages.delete("/{project_name}")
    def delete_project(project_name: str) -> Any:
        with store.lock:
            cf.project(project_name)
            removed = cf.delete_project(project_name)
            cf.save()
        for deployment_id in removed:
            pool.forget(deployment_id)
        return envelope(None)

    # -- direct upload -------------------------------------------------------------------------

    @pages.get("/{project_name}/upload-token")
    def upload_token(project_name: str) -> Any:
        with store.lock:
            cf.project(project_name)
        return envelope({"jwt": tokens.issue(project_name)})

    @assets.post("/check-missing")
    async def check_missing(request: Request, _: str = Depends(upload_project)) -> Any:
        hashes = hash_list(await json_body(request))
        with store.lock:
            return envelope([h for h in dict.fromkeys(hashes) if not cf.has_blob(h)])

    @assets.post("/upload")
    async def upload(request: Request, _: str = Depends(upload_project)) -> Any:
        body = await json_body(request)
        if not isinstance(body, list):
            raise CloudflareApiError(
                400, 8000000, "Upload body must be a JSON array of {key, value, metadata}"
            )
        blobs = [decode_upload(item) for item in body]
        with store.lock:
            for key, content, content_type in blobs:
                cf.put_blob(key, content, content_type)
            cf.save()
        return envelope(None)

    @assets.post("/upsert-hashes")
    async def upsert_hashes(request: Request, _: str = Depends(upload_project)) -> Any:
        hashes = hash_list(await json_body(request))
        with store.lock:
            unknown = [h for h in hashes if not cf.has_blob(h)]
        if unknown:
            raise CloudflareApiError(400, 8000000, f"Unknown asset hashes: {', '.join(unknown[:5])}")
        return envelope(None)

    # -- deployments ---------------------------------------------------------------------------

    @pages.post("/{project_name}/deployments")
    async def create_deployment(project_name: str, request: Request) -> Any:
        async with request.form() as form:  # closes the spooled files of the parts
            manifest = parse_manifest(form.get("manifest"))
            fields = {key: form.get(key) for key in ("branch", "commit_hash", "commit_message")}
            config = {name: await part_text(form.get(name), name) for name in CONFIG_PARTS}
            raw_bundle = await part_bytes(form.get("_worker.bundle"))
        config_files = {name: text for name, text in config.items() if text is not None}
        # Checked before anything is stored: a bad deployment is not created and the last one keeps serving.
        routes = parse_routes(config_files["_routes.json"]) if "_routes.json" in config_files else None
        bundle = await parse_bundle(raw_bundle) if raw_bundle is not None else None
        with store.lock:
            project = cf.project(project_name)
            missing = [path for path, h in manifest.items() if not cf.has_blob(h)]
            if missing:
                raise CloudflareApiError(
                    400,
                    8000000,
                    f"{len(missing)} file(s) of the manifest were never uploaded (first: {missing[0]}); "
                    "upload them through /pages/assets/upload first",
                )
            branch = str(fields["branch"] or project["production_branch"])
            environment = "production" if branch == project["production_branch"] else "preview"
            deployment_id = uuid_like()
            settings = project["deployment_configs"].get(environment, {})
            deployment = {
                "id": deployment_id,
                "short_id": deployment_id[:8],
                "project_id": project["id"],
                "project_name": project_name,
                "environment": environment,
                "branch": branch,
                "commit_hash": str(fields["commit_hash"] or ""),
                "commit_message": str(fields["commit_message"] or ""),
                "created_on": now(),
                "manifest": manifest,
                "config_files": config_files,
                "env_vars": dict(settings.get("env_vars", {})),
                "routes": routes.as_json() if routes else None,
                "worker": stored_worker(cf, bundle, settings) if bundle else None,
            }
            secret_values = cf.secrets.project(project_name, environment)
            if bundle:
                secret_values.update({b.name: b.value for b in bundle.bindings if b.type == "secret_text"})
            cf.secrets.set_deployment(deployment_id, secret_values)
            plan = plan_for(cf, deployment)
        if plan is not None:
            try:  # started now, so a worker that throws at start-up fails its deployment
                await pool.ensure(deployment_id, lambda: plan)
            except WorkerStartError as exc:
                pool.forget(deployment_id)
                with store.lock:
                    cf.secrets.forget(deployment_ids=(deployment_id,))
                raise CloudflareApiError(
                    400, SCRIPT_ERROR, f"Failed to publish your Function. Got error: {exc}"
                ) from None
        with store.lock:
            try:
                project = cf.project(project_name)
            except CloudflareApiError:  # deleted while the worker started
                pool.forget(deployment_id)
                cf.secrets.forget(deployment_ids=(deployment_id,))
                raise
            superseded = None
            cf.state["deployments"][deployment_id] = deployment
            project["deployment_ids"].append(deployment_id)
            if environment == "production":
                superseded = project.get("canonical_deployment_id")
                project["canonical_deployment_id"] = deployment_id
            cf.save()
            answer = envelope(cf.public_deployment(deployment))
        if superseded:
            await asyncio.to_thread(pool.stop, superseded)  # a stuck process takes a second to kill
        return answer

    @pages.get("/{project_name}/deployments")
    def list_deployments(project_name: str, env: str | None = None, page: int = 1, per_page: int = 25) -> Any:
        with store.lock:
            project = cf.project(project_name)
            found = [cf.state["deployments"][d] for d in reversed(project["deployment_ids"])]
            if env:
                found = [d for d in found if d["environment"] == env]
            chunk, info = paginate([cf.public_deployment(d) for d in found], page, per_page)
            return envelope(chunk, info)

    @pages.get("/{project_name}/deployments/{deployment_id}")
    def get_deployment(project_name: str, deployment_id: str) -> Any:
        with store.lock:
            project = cf.project(project_name)
            return envelope(cf.public_deployment(cf.deployment(project, deployment_id)))

    @pages.delete("/{project_name}/deployments/{deployment_id}")
    def delete_deployment(project_name: str, deployment_id: str) -> Any:
        with store.lock:
            project = cf.project(project_name)
            cf.deployment(project, deployment_id)
            if project.get("canonical_deployment_id") == deployment_id:
                raise CloudflareApiError(
                    400, 8000034, "Cannot delete the active production deployment; roll back first."
                )
            project["deployment_ids"].remove(deployment_id)
            del cf.state["deployments"][deployment_id]
            cf.secrets.forget(deployment_ids=(deployment_id,))
            cf.save()
        pool.forget(deployment_id)
        return envelope(None)

    @pages.post("/{project_name}/deployments/{deployment_id}/rollback")
    async def rollback(project_name: str, deployment_id: str) -> Any:
        with store.lock:
            project = cf.project(project_name)
            deployment = cf.deployment(project, deployment_id)
            if deployment["environment"] != "production":
                raise CloudflareApiError(400, 8000035, "Only production deployments can be rolled back to.")
            superseded = project.get("canonical_deployment_id")
            project["canonical_deployment_id"] = deployment_id
            cf.save()
            answer = envelope(cf.public_deployment(deployment))
            plan = plan_for(cf, deployment)
        if superseded and superseded != deployment_id:
            await asyncio.to_thread(pool.stop, superseded)  # a stuck process takes a second to kill
        if plan is not None:
            # The rolled-back-to server half serves from now on: warm it up. It started when it was
            # deployed; should it fail now, its requests say why.
            with contextlib.suppress(WorkerStartError):
                await pool.ensure(deployment_id, lambda: plan)
        return answer

    # -- custom domains ------------------------------------------------------------------------

    @pages.get("/{project_name}/domains")
    def list_domains(project_name: str) -> Any:
        with store.lock:
            project = cf.project(project_name)
            domains = sorted(project["domains"].values(), key=lambda d: d["created_on"])
            if any([cf.check_domain(project, d) for d in domains]):
                cf.save()
            chunk, info = paginate([cf.public_domain(project, d) for d in domains], 1, MAX_DOMAINS)
            return envelope(chunk, info)

    @pages.post("/{project_name}/domains")
    async def add_domain(project_name: str, request: Request) -> Any:
        body = await json_body(request)
        name = str(body.get("name", "")).strip().lower().rstrip(".") if isinstance(body, dict) else ""
        if not HOSTNAME.match(name) or name.endswith(".localhost"):
            raise CloudflareApiError(400, 8000039, f"{name!r} is not a valid domain name")
        with store.lock:
            project = cf.project(project_name)
            for other in cf.state["projects"].values():
                if name in other["domains"]:
                    where = "this project" if other is project else "another project"
                    raise CloudflareApiError(409, 8000018, f"{name} is already a custom domain of {where}.")
            if len(project["domains"]) >= MAX_DOMAINS:
                raise CloudflareApiError(
                    400, 8000040, f"A project can have at most {MAX_DOMAINS} custom domains."
                )
            domain = {"id": new_id(), "name": name, "status": "pending", "checks": 0, "error": None,
                      "created_on": now()}  # fmt: skip
            project["domains"][name] = domain
            cf.save()
            return envelope(cf.public_domain(project, domain))

    @pages.get("/{project_name}/domains/{domain_name}")
    def get_domain(project_name: str, domain_name: str) -> Any:
        with store.lock:
            project = cf.project(project_name)
            domain = project["domains"].get(domain_name.lower())
            if domain is None:
                raise CloudflareApiError(404, 8000043, "Domain not found.")
            if cf.check_domain(project, domain):
                cf.save()
            return envelope(cf.public_domain(project, domain))

    @pages.delete("/{project_name}/domains/{domain_name}")
    def delete_domain(project_name: str, domain_name: str) -> Any:
        with store.lock:
            project = cf.project(project_name)
            if project["domains"].pop(domain_name.lower(), None) is None:
                raise CloudflareApiError(404, 8000043, "Domain not found.")
            cf.save()
            return envelope(None)

    api.include_router(pages)
    api.include_router(cloudflare_dns.build_router(cf))

    @api.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def no_route(rest: str) -> Any:
        raise CloudflareApiError(404, 7000, f"No route for that URI: /{rest}")

    # The asset calls authenticate with the upload JWT, not the API token: a router of their own.
    router = APIRouter()
    router.include_router(assets)
    router.include_router(api)
    return router


def uuid_like() -> str:
    """Deployment ids are UUIDs in Cloudflare's answers."""
    raw = new_id()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def merge_deployment_configs(configs: dict[str, Any], patch: Any) -> dict[str, dict[str, str | None]]:
    """Apply a `deployment_configs` body: env vars merge by name and null removes one.

    Returns the secret values it set or removed, `{environment: {name: value or None}}`: `configs`
    keeps only their digests, the caller keeps the values in the secrets file."""
    secret_values: dict[str, dict[str, str | None]] = {}
    if patch is None:
        return secret_values
    if not isinstance(patch, dict):
        raise CloudflareApiError(400, 8000000, "deployment_configs must be an object")
    for environment, values in patch.items():
        if environment not in ("production", "preview"):
            raise CloudflareApiError(
                400, 8000000, f"unknown environment {environment!r} in deployment_configs"
            )
        if not isinstance(values, dict):
            continue
        target = configs.setdefault(environment, {"env_vars": {}})
        for key, value in values.items():
            if key != "env_vars":
                target[key] = value  # other settings (compatibility_date, bindings) are kept as given
                continue
            env_vars = target.setdefault("env_vars", {})
            secrets_here = secret_values.setdefault(environment, {})
            for name, var in (value or {}).items():
                if var is None:
                    env_vars.pop(name, None)
                    secrets_here[name] = None
                    continue
                env_vars[name] = stored_env_var(var)
                secrets_here[name] = (
                    str(var.get("value", "")) if env_vars[name]["type"] == "secret_text" else None
                )
    return secret_values


async def part_bytes(part: Any) -> bytes | None:
    if isinstance(part, UploadFile):
        return await part.read()
    if isinstance(part, str):
        return part.encode()
    return None


async def part_text(part: Any, name: str) -> str | None:
    raw = await part_bytes(part)
    if raw is None:
        return None
    if len(raw) > MAX_CONFIG_BYTES:
        raise CloudflareApiError(
            400, 8000000, f"{name} is {len(raw)} bytes; at most {MAX_CONFIG_BYTES} are accepted"
        )
    return raw.decode("utf-8", "replace")


def stored_worker(cf: CloudflareSandbox, bundle: Bundle, settings: dict[str, Any]) -> dict[str, Any]:
    """The deployment's worker as kept: modules by content hash (the files go to the module store),
    and the compatibility settings and bindings it runs with."""
    flags = bundle.compatibility_flags
    return {
        "main_module": bundle.main_module,
        "modules": [
            {"name": m.name, "kind": m.kind, "sha256": cf.put_module(m.content), "size": len(m.content)}
            for m in bundle.modules
        ],
        "compatibility_date": bundle.compatibility_date or settings.get("compatibility_date"),
        "compatibility_flags": list(
            flags if flags is not None else settings.get("compatibility_flags") or []
        ),
        "bindings": [
            {"name": b.name, "type": b.type, "value": b.value}
            for b in bundle.bindings
            if b.type != "secret_text"
        ],
    }


def hash_list(body: Any) -> list[str]:
    hashes = body.get("hashes") if isinstance(body, dict) else None
    if not isinstance(hashes, list) or not all(isinstance(h, str) and HASH.match(h) for h in hashes):
        raise CloudflareApiError(400, 8000000, "hashes must be a list of 32-character hex content hashes")
    return list(hashes)


def decode_upload(item: Any) -> tuple[str, bytes, str]:
    if not isinstance(item, dict) or not HASH.match(str(item.get("key", ""))):
        raise CloudflareApiError(400, 8000000, "each upload needs a 32-character hex key")
    value = item.get("value")
    if not isinstance(value, str):
        raise CloudflareApiError(400, 8000000, f"upload {item['key']}: value must be a string")
    if item.get("base64"):
        try:
            content = base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):
            raise CloudflareApiError(400, 8000000, f"upload {item['key']}: value is not base64") from None
    else:
        content = value.encode()
    metadata = item.get("metadata") or {}
    content_type = metadata.get("contentType") if isinstance(metadata, dict) else None
    if not isinstance(content_type, str) or not content_type:
        raise CloudflareApiError(400, 8000000, f"upload {item['key']}: metadata.contentType is required")
    return str(item["key"]), content, content_type


def parse_manifest(raw: Any) -> dict[str, str]:
    if not isinstance(raw, str):
        raise CloudflareApiError(
            400, 8000000, "A direct upload needs a `manifest` form field (JSON: path -> content hash)"
        )
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise CloudflareApiError(400, 8000000, "manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or not all(
        isinstance(k, str) and k.startswith("/") and isinstance(v, str) and HASH.match(v)
        for k, v in manifest.items()
    ):
        raise CloudflareApiError(400, 8000000, "manifest must map paths starting with / to content hashes")
    if len(manifest) > MAX_MANIFEST_ENTRIES:
        raise CloudflareApiError(400, 8000000, f"a deployment holds at most {MAX_MANIFEST_ENTRIES} files")
    return {str(k): str(v) for k, v in manifest.items()}
