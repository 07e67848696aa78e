"""Typed client for the Cloudflare API v4: Pages projects, direct upload, deployments, domains, zones, DNS.

Contracts: ../shared/contracts/cloudflare-pages-dns.json and the direct-upload supplement. Every
answer is the v4 envelope `{success, errors, messages, result, result_info}`; the client returns
`result` and turns `errors[].message` into a VendorError. The API token is only ever sent as a
header; the short-lived upload JWT replaces it on the /pages/assets calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from components.cloudflare.models import (
    Compatibility,
    Deployment,
    DnsRecord,
    EnvVar,
    PagesDomain,
    Project,
    Zone,
)
from components.cloudflare.upload import Asset, buckets, collect_assets, config_files
from components.cloudflare.worker_bundle import ROUTES_FILE, WorkerBundle, check_routes, read_worker
from core.http import VendorAuthError, VendorClient, VendorError

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"
VENDOR = "Cloudflare"
ENVIRONMENTS = ("production", "preview")
UPLOAD_CONCURRENCY = 3  # as wrangler: a few buckets in flight at once
PAGE_LIMIT = 50  # pages followed at most when listing, so a wrong result_info cannot loop forever

T = TypeVar("T")


@dataclass(frozen=True)
class UploadResult:
    manifest: dict[str, str]
    uploaded: int  # files whose content was sent; the rest the asset store already had


@dataclass(frozen=True)
class DeployResult:
    deployment: Deployment
    manifest: dict[str, str]
    uploaded: int
    worker: str | None = None  # the server half's digest, None for a static-only build


def _envelope_errors(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        return "; ".join(
            f"{e.get('message', '')} (code {e.get('code')})" if isinstance(e, dict) else str(e)
            for e in errors
        )
    return "the API answered success=false without an error message"


class CloudflareClient(VendorClient):
    """API v4 calls for one account."""

    VENDOR = VENDOR

    def __init__(
        self,
        api_token: str,
        account_id: str,
        *,
        base_url: str = DEFAULT_API_URL,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            api_token,
            base_url=base_url,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            transport=transport,
            sleep=sleep,
        )
        self.account_id = account_id

    # -- plumbing ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The whole envelope of a successful call."""
        response = self._send(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise VendorError(
                VENDOR, response.status_code, "the API answered with something other than JSON"
            ) from None
        if not isinstance(body, dict) or body.get("success") is False:
            raise VendorError(VENDOR, response.status_code, _envelope_errors(body), method=method, path=path)
        return body

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).get("result")

    def _paged(self, path: str, params: Mapping[str, Any], per_page: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in range(1, PAGE_LIMIT + 1):
            body = self._request("GET", path, params={**params, "page": page, "per_page": per_page})
            result = body.get("result") or []
            items.extend(result)
            info = body.get("result_info") or {}
            total_pages = info.get("total_pages")
            if total_pages is None and info.get("total_count") is not None:
                total_pages = -(-int(info["total_count"]) // max(int(info.get("per_page") or per_page), 1))
            if not result or total_pages is None or page >= int(total_pages):
                break
        return items

    def _pages(self, project: str = "") -> str:
        base = f"/accounts/{self.account_id}/pages/projects"
        return f"{base}/{project}" if project else base

    # -- projects ------------------------------------------------------------------------------

    def list_projects(self) -> list[Project]:
        return [Project.from_api(p) for p in self._paged(self._pages(), {}, per_page=10)]

    def create_project(
        self,
        name: str,
        *,
        production_branch: str = "main",
        env_vars: Mapping[str, EnvVar] | None = None,
        compatibility: Compatibility | None = None,
    ) -> Project:
        body: dict[str, Any] = {"name": name, "production_branch": production_branch}
        config: dict[str, Any] = compatibility.to_api() if compatibility else {}
        if env_vars:
            config["env_vars"] = {key: var.to_api() for key, var in env_vars.items()}
        if config:
            body["deployment_configs"] = {env: config for env in ENVIRONMENTS}
        self._call("POST", self._pages(), json=body)
        # The create answer is documented only as an object; read the project back for its shape.
        return self.get_project(name)

    def get_project(self, name: str) -> Project:
        return Project.from_api(self._call("GET", self._pages(name)))

    def update_project(
        self,
        name: str,
        *,
        production_branch: str | None = None,
        env_vars: Mapping[str, EnvVar] | None = None,
        remove_env_vars: Iterable[str] = (),
        compatibility: Compatibility | None = None,
    ) -> Project:
        """PATCH merges: variables not named are kept; a removed variable is sent as null."""
        body: dict[str, Any] = {}
        if production_branch is not None:
            body["production_branch"] = production_branch
        values: dict[str, Any] = {key: var.to_api() for key, var in (env_vars or {}).items()}
        values.update({key: None for key in remove_env_vars if key not in values})
        config: dict[str, Any] = compatibility.to_api() if compatibility else {}
        if values:
            config["env_vars"] = values
        if config:
            body["deployment_configs"] = {env: config for env in ENVIRONMENTS}
        if body:
            self._call("PATCH", self._pages(name), json=body)
        return self.get_project(name)

    def delete_project(self, name: str) -> None:
        self._call("DELETE", self._pages(name))

    # -- direct upload -------------------------------------------------------------------------

    def get_upload_token(self, project: str) -> str:
        return str(self._call("GET", f"{self._pages(project)}/upload-token")["jwt"])

    def _asset_call(self, jwt: str, path: str, body: Any) -> Any:
        return self._call("POST", path, json=body, headers={"Authorization": f"Bearer {jwt}"})

    def check_missing(self, jwt: str, hashes: Iterable[str]) -> list[str]:
        return [
            str(h) for h in self._asset_call(jwt, "/pages/assets/check-missing", {"hashes": list(hashes)})
        ]

    def upload_assets(self, jwt: str, assets: Iterable[Asset]) -> None:
        self._asset_call(jwt, "/pages/assets/upload", [asset.payload() for asset in assets])

    def upsert_hashes(self, jwt: str, hashes: Iterable[str]) -> None:
        self._asset_call(jwt, "/pages/assets/upsert-hashes", {"hashes": list(hashes)})

    def _with_token(self, project: str, action: Callable[[str], T], jwt: str) -> tuple[T, str]:
        """Run an asset call; if the short-lived JWT expired meanwhile, fetch a new one once."""
        try:
            return action(jwt), jwt
        except VendorAuthError:
            fresh = self.get_upload_token(project)
            return action(fresh), fresh

    def upload_directory(self, project: str, directory: str | Path) -> UploadResult:
        """Upload the files of `directory` the asset store lacks, the way `wrangler pages deploy` does."""
        assets = collect_assets(directory)
        by_hash: dict[str, Asset] = {}
        for asset in assets.values():
            by_hash.setdefault(asset.hash, asset)  # equal content is stored once
        manifest = {path: asset.hash for path, asset in sorted(assets.items())}
        if not by_hash:
            return UploadResult(manifest, 0)
        jwt = self.get_upload_token(project)
        missing, jwt = self._with_token(project, lambda t: self.check_missing(t, sorted(by_hash)), jwt)
        groups = buckets(by_hash[h] for h in missing if h in by_hash)
        token = jwt

        def upload(group: list[Asset]) -> None:
            self._with_token(project, lambda t: self.upload_assets(t, group), token)

        with ThreadPoolExecutor(max_workers=UPLOAD_CONCURRENCY) as pool:
            list(pool.map(upload, groups))  # list() re-raises the first failure
        self._with_token(project, lambda t: self.upsert_hashes(t, sorted(by_hash)), jwt)
        return UploadResult(manifest, sum(len(g) for g in groups))

    def create_deployment(
        self,
        project: str,
        manifest: Mapping[str, str],
        *,
        branch: str | None = None,
        files: Mapping[str, bytes] | None = None,
        commit_message: str | None = None,
        worker: WorkerBundle | None = None,
    ) -> Deployment:
        """A direct-upload deployment of assets already in the store; `files` are `_headers` & co.,
        `worker` the server half, sent as wrangler sends it (the `_worker.bundle` part)."""
        fields = {"manifest": json.dumps(dict(manifest), sort_keys=True)}
        if branch:
            fields["branch"] = branch
        if commit_message:
            fields["commit_message"] = commit_message
        # Plain fields as filename-less parts, so the body is multipart even with no config files.
        parts: dict[str, tuple[str | None, bytes | str, str | None]] = {
            name: (None, value, None) for name, value in fields.items()
        }
        parts.update(
            {name: (name, content, "application/octet-stream") for name, content in (files or {}).items()}
        )
        if worker is not None:
            parts["_worker.bundle"] = ("_worker.bundle", worker.body(), "application/octet-stream")
        data = self._call("POST", f"{self._pages(project)}/deployments", files=parts)
        return Deployment.from_api(data)

    def deploy_directory(
        self, project: str, directory: str | Path, *, branch: str | None = None
    ) -> DeployResult:
        """Upload a built Pages output and deploy it: the server half and `_routes.json` are read and
        checked first, so a broken one stops the deploy before anything is uploaded."""
        worker = read_worker(directory)
        files = config_files(directory)
        if ROUTES_FILE in files:
            check_routes(files[ROUTES_FILE])
        uploaded = self.upload_directory(project, directory)
        deployment = self.create_deployment(
            project, uploaded.manifest, branch=branch, files=files, worker=worker
        )
        return DeployResult(
            deployment, uploaded.manifest, uploaded.uploaded, worker.digest if worker else None
        )

    # -- deployments ---------------------------------------------------------------------------

    def list_deployments(self, project: str, *, environment: str | None = None) -> list[Deployment]:
        """Newest first (the first page: the 25 most recent)."""
        params = {"env": environment} if environment else None
        data = self._call("GET", f"{self._pages(project)}/deployments", params=params)
        return [Deployment.from_api(d) for d in data or []]

    def get_deployment(self, project: str, deployment_id: str) -> Deployment:
        return Deployment.from_api(self._call("GET", f"{self._pages(project)}/deployments/{deployment_id}"))

    def rollback_deployment(self, project: str, deployment_id: str) -> Deployment:
        """Make an earlier production deployment the one the production URL serves again."""
        path = f"{self._pages(project)}/deployments/{deployment_id}/rollback"
        return Deployment.from_api(self._call("POST", path))

    # -- project domains -----------------------------------------------------------------------

    def list_domains(self, project: str) -> list[PagesDomain]:
        return [PagesDomain.from_api(d) for d in self._call("GET", f"{self._pages(project)}/domains") or []]

    def add_domain(self, project: str, domain: str) -> PagesDomain:
        return PagesDomain.from_api(
            self._call("POST", f"{self._pages(project)}/domains", json={"name": domain})
        )

    def get_domain(self, project: str, domain: str) -> PagesDomain:
        return PagesDomain.from_api(self._call("GET", f"{self._pages(project)}/domains/{domain}"))

    def delete_domain(self, project: str, domain: str) -> None:
        self._call("DELETE", f"{self._pages(project)}/domains/{domain}")

    # -- zones and DNS -------------------------------------------------------------------------

    def list_zones(self, name: str | None = None) -> list[Zone]:
        params: dict[str, Any] = {"account.id": self.account_id}
        if name:
            params["name"] = name
        return [Zone.from_api(z) for z in self._paged("/zones", params, per_page=50)]

    def get_zone(self, zone_id: str) -> Zone:
        return Zone.from_api(self._call("GET", f"/zones/{zone_id}"))

    def find_zone(self, hostname: str) -> Zone | None:
        """The account's zone that holds `hostname` (shop.example.com -> example.com), if any."""
        labels = hostname.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):  # never a bare top-level domain
            candidate = ".".join(labels[start:])
            zones = [z for z in self.list_zones(candidate) if z.name == candidate]
            if zones:
                return zones[0]
        return None

    def list_dns_records(
        self, zone_id: str, *, name: str | None = None, type: str | None = None
    ) -> list[DnsRecord]:
        params = {key: value for key, value in (("name", name), ("type", type)) if value}
        records = self._paged(f"/zones/{zone_id}/dns_records", params, per_page=100)
        return [DnsRecord.from_api(r, zone_id) for r in records]

    def create_dns_record(
        self,
        zone_id: str,
        *,
        type: str,
        name: str,
        content: str,
        proxied: bool = False,
        ttl: int = 1,
        comment: str | None = None,
    ) -> DnsRecord:
        body: dict[str, Any] = {"type": type, "name": name, "content": content, "ttl": ttl}
        if type in ("A", "AAAA", "CNAME"):
            body["proxied"] = proxied
        if comment:
            body["comment"] = comment
        return DnsRecord.from_api(self._call("POST", f"/zones/{zone_id}/dns_records", json=body), zone_id)

    def get_dns_record(self, zone_id: str, record_id: str) -> DnsRecord:
        return DnsRecord.from_api(self._call("GET", f"/zones/{zone_id}/dns_records/{record_id}"), zone_id)

    def patch_dns_record(self, zone_id: str, record_id: str, **fields: Any) -> DnsRecord:
        path = f"/zones/{zone_id}/dns_records/{record_id}"
        return DnsRecord.from_api(self._call("PATCH", path, json=fields), zone_id)

    def delete_dns_record(self, zone_id: str, record_id: str) -> None:
        self._call("DELETE", f"/zones/{zone_id}/dns_records/{record_id}")
