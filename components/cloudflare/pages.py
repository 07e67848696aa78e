"""PagesProject: a Cloudflare Pages project with env vars and the uploaded build (static files and,
when the build has `_worker.js`, its server half), as a ComponentResource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.cloudflare.pages_provider import PagesProjectProvider
from components.cloudflare.upload import UploadError, build_manifest, config_files, config_hashes
from components.cloudflare.worker_bundle import ROUTES_FILE, check_routes, read_worker
from components.errors import SpecError
from components.spec import (
    DEFAULT_COMPATIBILITY_DATE,
    DEFAULT_COMPATIBILITY_FLAGS,
    ENV_VAR_NAME,
    PAGES_PROJECT_NAME,
)

SECRET_OUTPUTS = ["api_token", "secret_env_vars"]


@dataclass(frozen=True, kw_only=True)
class PagesProjectArgs:
    account_id: str
    project_name: str
    build_dir: str
    api_url: str
    api_token: pulumi.Input[str]
    env_vars: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env_vars: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    production_branch: str = "main"
    # The server half's runtime; unused by a static-only build.
    compatibility_date: str = DEFAULT_COMPATIBILITY_DATE
    compatibility_flags: Sequence[str] = DEFAULT_COMPATIBILITY_FLAGS

    def __post_init__(self) -> None:
        # Checked here too so a hand-written program fails before any API call.
        problems: list[tuple[str, str]] = []
        if not PAGES_PROJECT_NAME.match(self.project_name):
            problems.append(
                (
                    "web.project_name",
                    f"{self.project_name!r} is not a valid Pages project name; use 1-58 lowercase "
                    "letters, digits and dashes, starting and ending with a letter or digit",
                )
            )
        if not self.account_id:
            problems.append(("account_id", "is empty; set CLOUDFLARE_ACCOUNT_ID to your account id"))
        if not self.production_branch.strip():
            problems.append(("production_branch", "is empty; use the branch that deploys to production"))
        for label, names in (("web.env", self.env_vars), ("web.secret_env", self.secret_env_vars)):
            bad = [n for n in names if not ENV_VAR_NAME.match(n)]
            if bad:
                problems.append(
                    (
                        label,
                        f"{', '.join(sorted(bad))}: use letters, digits and underscores, "
                        "not starting with a digit",
                    )
                )
        both = set(self.env_vars) & set(self.secret_env_vars)
        if both:
            problems.append(
                ("web.secret_env", f"{', '.join(sorted(both))} is both plain and secret; keep one")
            )
        if problems:
            raise SpecError(problems)


class PagesProjectResource(Resource):
    """The provider-backed resource; use PagesProject."""

    project_id: pulumi.Output[str]
    subdomain: pulumi.Output[str]
    url: pulumi.Output[str]
    deployment_id: pulumi.Output[str]
    deployment_url: pulumi.Output[str]
    deployment_ids: pulumi.Output[list[str]]
    uploaded_files: pulumi.Output[int]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        outs = {
            key: None
            for key in (
                "project_id",
                "subdomain",
                "url",
                "deployment_id",
                "deployment_url",
                "deployment_ids",
                "production_deployment_id",
                "uploaded_files",
            )
        }
        super().__init__(PagesProjectProvider(), name, {**props, **outs}, opts)


class PagesProject(pulumi.ComponentResource):
    """A Pages project serving the build in `build_dir`; outputs its production and deployment URLs.

    The build's manifest is computed now, when the program runs: an unchanged build deploys nothing.
    """

    def __init__(self, name: str, args: PagesProjectArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        try:
            manifest = build_manifest(args.build_dir)
        except (UploadError, OSError) as exc:
            raise SpecError.single("web.build_dir", str(exc)) from None
        if not manifest:
            raise SpecError.single("web.build_dir", f"{args.build_dir!r} holds no files; build the app first")
        try:
            worker = read_worker(args.build_dir)
            routes = config_files(args.build_dir).get(ROUTES_FILE)
            if routes is not None:
                check_routes(routes)
        except (UploadError, OSError) as exc:
            raise SpecError.single("web.build_dir", str(exc)) from None
        # Only a server half has runtime settings: a static site's inputs stay as they always were.
        server: dict[str, Any] = {}
        if worker is not None:
            server = {
                "worker": worker.digest,
                "compatibility": {
                    "date": args.compatibility_date,
                    "flags": sorted(set(args.compatibility_flags)),
                },
            }
        super().__init__("oneclick:cloudflare:PagesProject", name, None, opts)
        self.resource = PagesProjectResource(
            name,
            {
                "account_id": args.account_id,
                "project_name": args.project_name,
                "api_url": args.api_url,
                "api_token": pulumi.Output.secret(args.api_token),
                "build_dir": args.build_dir,
                "manifest": manifest,
                "config_files": config_hashes(args.build_dir),
                "env_vars": dict(args.env_vars),
                "secret_env_vars": pulumi.Output.secret(dict(args.secret_env_vars)),
                "production_branch": args.production_branch,
                **server,
            },
            pulumi.ResourceOptions(parent=self, additional_secret_outputs=SECRET_OUTPUTS),
        )
        self.project_name: pulumi.Output[str] = pulumi.Output.from_input(args.project_name)
        self.project_id = self.resource.project_id
        self.subdomain = self.resource.subdomain
        self.url = self.resource.url
        self.deployment_id = self.resource.deployment_id
        self.deployment_url = self.resource.deployment_url
        self.deployment_ids = self.resource.deployment_ids
        self.uploaded_files = self.resource.uploaded_files
        self.file_count = len(manifest)
        self.server_half = worker is not None
        self.worker_modules = len(worker.modules) if worker is not None else 0
        self.register_outputs(
            {
                "project_name": self.project_name,
                "subdomain": self.subdomain,
                "url": self.url,
                "deployment_id": self.deployment_id,
                "deployment_url": self.deployment_url,
                "deployment_ids": self.deployment_ids,
                "uploaded_files": self.uploaded_files,
            }
        )
