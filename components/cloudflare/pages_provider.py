"""Dynamic provider for one Cloudflare Pages project, its env vars and its deployed build.

The build is described by its manifest (URL path -> content hash) and its server half's digest,
computed when the program runs: an unchanged build deploys nothing, a changed one uploads only the
files the asset store lacks and creates a deployment. A server half's compatibility date and flags
live in the project's `deployment_configs`, like env vars: both take effect only in new
deployments, so changing them patches the project and deploys again. Credentials reach the
provider only through the resource's (secret) inputs: Pulumi stores the pickled provider object
in the stack's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pulumi.dynamic import CreateResult, UpdateResult

from components.cloudflare.client import CloudflareClient, DeployResult
from components.cloudflare.models import Compatibility, EnvVar, Project
from components.cloudflare.upload import config_hashes
from components.vendor_provider import VendorProvider
from core.errors import UserError
from core.http import VendorConflict

# Inputs that identify the project: changing any of them means a different project.
IDENTITY = ("account_id", "project_name", "api_url")
# Inputs whose change means a new deployment.
DEPLOYED = (
    "manifest",
    "config_files",
    "worker",
    "compatibility",
    "env_vars",
    "secret_env_vars",
    "production_branch",
)
# Project settings every deployment takes: a change patches the project, then deploys again.
SETTINGS = ("env_vars", "secret_env_vars", "production_branch", "compatibility")
INPUTS = (*IDENTITY, "api_token", "build_dir", *DEPLOYED)
HISTORY = 10  # deployment ids kept in the outputs, newest first, for rollbacks


class BuildChangedError(UserError, RuntimeError):
    """The files changed between the program reading them and the provider uploading them."""


def client_for(props: Mapping[str, Any]) -> CloudflareClient:
    return CloudflareClient(str(props["api_token"]), str(props["account_id"]), base_url=str(props["api_url"]))


def wanted_env(props: Mapping[str, Any]) -> dict[str, EnvVar]:
    wanted = {str(k): EnvVar.plain(str(v)) for k, v in (props.get("env_vars") or {}).items()}
    wanted.update({str(k): EnvVar.secret(str(v)) for k, v in (props.get("secret_env_vars") or {}).items()})
    return wanted


def site_url(subdomain: str, api_url: str = "") -> str:
    """`https://<project>.pages.dev`; a sandbox's `<project>.pages.localhost` (a hostname, no port, as
    Pages answers) is served over plain HTTP on the port of the sandbox API."""
    host = subdomain.rsplit(":", 1)[0]
    if not host.endswith(".localhost"):
        return f"https://{subdomain}"
    port = urlsplit(api_url).port if host == subdomain else None
    return f"http://{subdomain}" + (f":{port}" if port else "")


def wanted_compatibility(props: Mapping[str, Any]) -> Compatibility | None:
    """The server half's runtime settings; None for a static-only build (nothing runs)."""
    wanted = props.get("compatibility")
    if not isinstance(wanted, Mapping):
        return None
    return Compatibility(str(wanted["date"]), tuple(str(f) for f in wanted.get("flags") or ()))


def compatibility_props(compatibility: Compatibility | None) -> dict[str, Any] | None:
    if compatibility is None:
        return None
    return {"date": compatibility.date, "flags": list(compatibility.flags)}


def env_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    return any(olds.get(k) != news.get(k) for k in SETTINGS)


def compatibility_drifted(props: Mapping[str, Any], project: Project) -> bool:
    wanted = wanted_compatibility(props)
    return wanted is not None and wanted != project.compatibility


def outputs(
    props: Mapping[str, Any],
    project: Project,
    deployment_id: str,
    deployment_url: str,
    history: list[str],
    uploaded: int,
) -> dict[str, Any]:
    canonical = project.canonical_deployment.id if project.canonical_deployment else deployment_id
    return {
        **{key: props.get(key) for key in INPUTS},
        "project_id": project.id,
        "subdomain": project.subdomain,
        "url": site_url(project.subdomain, str(props.get("api_url") or "")),
        "deployment_id": deployment_id,
        "deployment_url": deployment_url,
        "deployment_ids": history[:HISTORY],
        # What the production URL serves as last seen; differs from deployment_id after a rollback
        # or a deploy made elsewhere, and `pulumi up` then deploys this program's build again.
        "production_deployment_id": canonical,
        "uploaded_files": uploaded,
        # The names are not secret: they let a drift check see a secret var removed or added.
        "secret_env_var_names": sorted(props.get("secret_env_vars") or {}),
    }


def deploy(cf: CloudflareClient, props: Mapping[str, Any]) -> DeployResult:
    name, build_dir = str(props["project_name"]), str(props["build_dir"])
    result = cf.deploy_directory(name, build_dir, branch=str(props["production_branch"]))
    if (
        result.manifest != dict(props["manifest"])
        or config_hashes(build_dir) != dict(props.get("config_files") or {})
        or result.worker != props.get("worker")
    ):
        raise BuildChangedError(
            f"the files in {build_dir} changed while deploying (deployment {result.deployment.id} has the "
            "new files); run the deploy again so the recorded build matches what is online"
        )
    return result


def sync_env(cf: CloudflareClient, props: Mapping[str, Any], project: Project) -> Project:
    """Make the project's env vars exactly the wanted ones, and its compatibility settings (both
    environments)."""
    wanted = wanted_env(props)
    extra = (set(project.env_vars) | set(project.preview_env_vars)) - set(wanted)
    branch = str(props["production_branch"])
    return cf.update_project(
        project.name,
        production_branch=branch if branch != project.production_branch else None,
        env_vars=wanted,
        remove_env_vars=sorted(extra),
        compatibility=wanted_compatibility(props),
    )


class PagesProjectProvider(VendorProvider[CloudflareClient]):
    IDENTITY = IDENTITY
    IN_PLACE = (*DEPLOYED, "api_token")
    INPUTS = INPUTS
    STABLE = ("project_id", "subdomain", "url")

    def client(self, props: dict[str, Any]) -> CloudflareClient:
        return client_for(props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = str(props["project_name"])
        with self.client(props) as cf:
            try:
                project = cf.create_project(
                    name,
                    production_branch=str(props["production_branch"]),
                    env_vars=wanted_env(props),
                    compatibility=wanted_compatibility(props),
                )
            except VendorConflict:
                project = self._adopt_leftover(cf, props)
            result = deploy(cf, props)
            project = cf.get_project(name)
        deployment = result.deployment
        outs = outputs(props, project, deployment.id, deployment.url, [deployment.id], result.uploaded)
        return CreateResult(id_=name, outs=outs)

    @staticmethod
    def _adopt_leftover(cf: CloudflareClient, props: Mapping[str, Any]) -> Project:
        """A project of that name with no deployment is what an interrupted create leaves: take it
        over. One that was ever deployed belongs to someone else: refuse, naming the field."""
        name = str(props["project_name"])
        project = cf.get_project(name)
        if project.latest_deployment is not None:
            raise VendorConflict(
                "Cloudflare",
                409,
                f"web.project_name: a Pages project named {name!r} already exists in this account and has "
                "deployments; choose another project_name (or delete that project first)",
            )
        return sync_env(cf, props, project)

    def observe(self, client: CloudflareClient, id_: str, props: dict[str, Any]) -> dict[str, Any]:
        project = client.get_project(id_)
        old_secrets = dict(props.get("secret_env_vars") or {})
        cloud = project.env_vars
        # Plain values come back as they are; secret values never do, so keep the known ones.
        observed = {
            **props,
            "project_name": project.name,
            "production_branch": project.production_branch,
            "env_vars": {k: v.value or "" for k, v in sorted(cloud.items()) if v.type == "plain_text"},
            "secret_env_vars": {
                k: str(old_secrets.get(k, "")) for k, v in sorted(cloud.items()) if v.type == "secret_text"
            },
        }
        if props.get("compatibility") is not None:
            observed["compatibility"] = compatibility_props(project.compatibility)
        outs = outputs(
            observed,
            project,
            str(props.get("deployment_id", "")),
            str(props.get("deployment_url", "")),
            list(props.get("deployment_ids") or []),
            int(props.get("uploaded_files") or 0),
        )
        if project.canonical_deployment is None:
            outs["production_deployment_id"] = None
        # Inputs mirror the cloud, so a preview after refresh shows the drift as a change to undo.
        return outs

    def drifted(self, olds: dict[str, Any]) -> bool:
        # Production serves another deployment than the one recorded (a rollback behind our back).
        return bool(olds.get("production_deployment_id") != olds.get("deployment_id"))

    def delete_first(self, replaces: list[str]) -> bool:
        # Same name in the same account: the old project must go before the new one can exist.
        return "project_name" not in replaces

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        redeploy = (
            env_changed(olds, news)
            or any(olds.get(key) != news.get(key) for key in ("manifest", "config_files", "worker"))
            or olds.get("production_deployment_id") != olds.get("deployment_id")
        )
        with self.client(news) as cf:
            project = cf.get_project(id_)
            if (
                env_changed(olds, news)
                or set(project.env_vars) != set(wanted_env(news))
                or compatibility_drifted(news, project)
            ):
                project = sync_env(cf, news, project)
            if not redeploy:
                outs = outputs(
                    news,
                    project,
                    str(olds["deployment_id"]),
                    str(olds["deployment_url"]),
                    list(olds.get("deployment_ids") or []),
                    0,
                )
                return UpdateResult(outs=outs)
            result = deploy(cf, news)
            project = cf.get_project(id_)
        deployment = result.deployment
        history = [deployment.id, *(olds.get("deployment_ids") or [])]
        return UpdateResult(
            outs=outputs(news, project, deployment.id, deployment.url, history, result.uploaded)
        )

    def remove(self, client: CloudflareClient, id_: str, props: dict[str, Any]) -> None:
        client.delete_project(id_)
