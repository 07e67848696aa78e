"""PagesProject: a Cloudflare Pages project with env vars and the uploaded build (static files and,
when the build has `_worker.js`, its server half); type `pulumi-python:dynamic/cloudflare:PagesProject`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

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
from components.typed_resource import TypedResource


@dataclass(frozen=True, kw_only=True)
class PagesProjectArgs:
    account_id: str
    """The Cloudflare account the project belongs to."""
    project_name: str
    """The Pages project's name (spec `web.projectName`, else the app id); a change replaces it."""
    build_dir: str
    """The build output to upload: static files, and `_worker.js` when the site has a server half."""
    api_url: str
    """The API v4 base, e.g. https://api.cloudflare.com/client/v4 (the sandbox's URL when targeting it)."""
    api_token: pulumi.Input[str]
    """An API token with Pages edit rights (secret): reaches the provider only as a secret input."""
    env_vars: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain environment variables of the production environment (spec `web.env`)."""
    secret_env_vars: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secret environment variables (spec `web.secretEnv`, the database credentials); never plaintext."""
    production_branch: str = "main"
    """The branch whose deployments are production."""
    compatibility_date: str = DEFAULT_COMPATIBILITY_DATE
    """The server half's Workers compatibility date; unused by a static-only build."""
    compatibility_flags: Sequence[str] = DEFAULT_COMPATIBILITY_FLAGS
    """The server half's Workers compatibility flags; unused by a static-only build."""

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


class PagesProject(TypedResource, module="cloudflare", name="PagesProject"):
    """A Pages project serving the build in `build_dir`; outputs its production and deployment URLs.

    The build's manifest is computed now, when the program runs: an unchanged build deploys nothing.
    """

    SECRET_OUTPUTS = ("api_token", "secret_env_vars")

    project_name: pulumi.Output[str]
    project_id: pulumi.Output[str]
    subdomain: pulumi.Output[str]
    url: pulumi.Output[str]
    deployment_id: pulumi.Output[str]
    deployment_url: pulumi.Output[str]
    deployment_ids: pulumi.Output[list[str]]
    production_deployment_id: pulumi.Output[str]
    uploaded_files: pulumi.Output[int]

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
        inputs = {
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
        }
        super().__init__(PagesProjectProvider(), name, inputs, opts)
        # Known when the program runs: what the build holds (reports, the health path).
        self.file_count = len(manifest)
        self.server_half = worker is not None
        self.worker_modules = len(worker.modules) if worker is not None else 0
