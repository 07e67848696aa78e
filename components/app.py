"""App: everything one deployed app is made of, as one ComponentResource tree.

App (the one ComponentResource: it groups them; each below is a typed dynamic resource or a group)
├── TursoDatabase | NeonProject | ByoDatabase   the database, its URL and credentials
├── DatabaseSchema, PreviewData                 migrations, the preview rows (spec prismaSchema)
├── GeneratedSecret                             NEXTAUTH_SECRET, made once
├── PagesProject                                project, env vars, the uploaded build (and server half)
├── CustomDomain (optional)                     Pages domain + CNAME, SSL/verification status
├── MobileBuild (spec.mobile)                   Capacitor project wrapping the site; cloud build
└── DesktopBuild (spec.desktop)                 Tauri project; .deb/.rpm built on Linux
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pulumi

from components.byo.database import ByoDatabase, ByoDatabaseArgs
from components.cloudflare.domain import CustomDomain, CustomDomainArgs
from components.cloudflare.pages import PagesProject, PagesProjectArgs
from components.database.deploy import DatabaseContentArgs, DatabaseSchema, PreviewData, checked_schema
from components.generated_secret import GeneratedSecret
from components.native_builds import NativeBuilds, native_builds
from components.neon.project import NeonProject, NeonProjectArgs
from components.spec import AppSpec, ByoDatabaseSpec, NeonDatabaseSpec, TursoDatabaseSpec, has_server_half
from components.targets import Targets, VendorTarget
from components.turso.database import TursoDatabase, TursoDatabaseArgs


@dataclass
class DatabaseHandle:
    """What the rest of the app needs from whichever database was chosen."""

    provider: str
    resource: pulumi.Resource
    name: pulumi.Output[str]
    host: pulumi.Output[str]
    url: pulumi.Output[str]  # secret for PostgreSQL (it embeds the password)
    auth_token: pulumi.Output[str] | None  # Turso only, secret
    env: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # secret values, all of them


def site_url(spec: AppSpec, cloudflare: VendorTarget) -> str:
    """The production URL the site will have: known before the project exists (NEXTAUTH_URL needs it)."""
    if spec.custom_domain:
        return f"https://{spec.custom_domain}"
    if cloudflare.sandbox:
        port = urlsplit(cloudflare.api_url).port
        return f"http://{spec.pages_project_name}.pages.localhost" + (f":{port}" if port else "")
    return f"https://{spec.pages_project_name}.pages.dev"


def neon_sql_endpoint(spec: AppSpec, targets: Targets) -> str | None:
    """Where the app's Neon driver sends SQL over HTTP, when it cannot derive it from the host.

    Neon's driver posts to `https://api.<endpoint host>/sql`; the sandbox's endpoints are at
    127.0.0.1, so there the sandbox's own `/sql` is named (reached from the Workers runtime through
    a `localhost` name). None for real Neon and for other databases."""
    if not isinstance(spec.database, NeonDatabaseSpec):
        return None
    target = targets.get("neon")
    if not target.sandbox:
        return None
    port = urlsplit(target.api_url).port
    return "http://localhost" + (f":{port}" if port else "") + "/sql"


def _database(spec: AppSpec, targets: Targets, parent: pulumi.Resource) -> DatabaseHandle:
    opts = pulumi.ResourceOptions(parent=parent)
    db = spec.database
    if isinstance(db, TursoDatabaseSpec):
        target = targets.get("turso")
        turso = TursoDatabase(
            f"{spec.id}-db",
            TursoDatabaseArgs(
                name=spec.database_name,
                group=db.group,
                api_url=target.api_url,
                org=target.account,
                api_token=target.api_token,
            ),
            opts,
        )
        return DatabaseHandle(
            "turso",
            turso,
            turso.name,
            turso.hostname,
            turso.url,
            turso.auth_token,
            {"TURSO_DATABASE_URL": turso.url, "TURSO_AUTH_TOKEN": turso.auth_token},
        )
    if isinstance(db, NeonDatabaseSpec):
        target = targets.get("neon")
        neon = NeonProject(
            f"{spec.id}-db",
            NeonProjectArgs(
                project_name=spec.id,
                region_id=db.region,
                database_name=db.database_name,
                role_name=db.role_name,
                api_url=target.api_url,
                api_key=target.api_token,
            ),
            opts,
        )
        return DatabaseHandle(
            "neon",
            neon,
            neon.database_name,
            neon.host,
            neon.connection_uri,
            None,
            {"DATABASE_URL": neon.connection_uri},
        )
    assert isinstance(db, ByoDatabaseSpec)
    byo = ByoDatabase(
        f"{spec.id}-db",
        ByoDatabaseArgs(
            url=pulumi.Output.secret(db.url.get_secret_value()), allow_non_empty=db.allow_non_empty
        ),
        opts,
    )
    return DatabaseHandle("byo", byo, byo.database_name, byo.host, byo.url, None, {"DATABASE_URL": byo.url})


def site_dir(spec: AppSpec) -> Path:
    """The Pages output to upload: `web.buildDir`, or the cached build of `web.source` (the deploy
    built it before the engine started; `pulumi up` by hand builds it here)."""
    assert spec.web is not None
    if spec.web.build_dir is not None:
        return spec.web.build_dir
    # Imported only for a source build: a static deploy never loads the build tooling.
    from components.site_build import BuildFailed, build_web

    try:
        return build_web(spec).out_dir
    except BuildFailed as exc:
        raise pulumi.RunError(f"web.source: the build failed, nothing was deployed:\n{exc}") from None


class App(pulumi.ComponentResource):
    """One deployed app: its database and, when the spec has `web`, its site and domain."""

    def __init__(self, spec: AppSpec, targets: Targets, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("oneclick:app:App", spec.id, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if spec.database.prisma_schema is not None:
            # A file that is not a Prisma schema stops the program before any resource exists.
            checked_schema(spec.database.prisma_schema)
        self.database = _database(spec, targets, self)
        self.schema: DatabaseSchema | None = None
        self.preview_data: PreviewData | None = None
        ready: list[pulumi.Resource] = [self.database.resource]
        source = spec.database
        if source.prisma_schema is not None:
            content = DatabaseContentArgs(
                provider=self.database.provider,
                url=self.database.url,
                auth_token=self.database.auth_token,
                schema_path=source.prisma_schema,
                migrations_dir=source.migrations,
                preview_data=source.preview_data,
                allow_non_empty=getattr(source, "allow_non_empty", False),
            )
            self.schema = DatabaseSchema(
                f"{spec.id}-schema", content, pulumi.ResourceOptions(parent=self, depends_on=ready)
            )
            ready = [self.schema]
            if source.preview_data is not None and source.import_preview:
                self.preview_data = PreviewData(
                    f"{spec.id}-preview-data", content, pulumi.ResourceOptions(parent=self, depends_on=ready)
                )
                ready = [self.preview_data]
        self.pages: PagesProject | None = None
        self.domain: CustomDomain | None = None
        self.site_url: str | None = None
        self.health_path: str | None = None
        self.native = NativeBuilds()
        if spec.web is not None:
            cloudflare = targets.get("cloudflare")
            self.site_url = site_url(spec, cloudflare)
            auth_secret = GeneratedSecret(f"{spec.id}-nextauth-secret", opts=child)
            built = site_dir(spec)
            # Only a server half talks to the database; a static site's env stays as it was.
            endpoint = neon_sql_endpoint(spec, targets) if has_server_half(built) else None
            sql_endpoint = {"NEON_HTTP_ENDPOINT": endpoint} if endpoint else {}
            secret_env: dict[str, pulumi.Input[str]] = {
                **self.database.env,
                "NEXTAUTH_SECRET": auth_secret.value,
                **{
                    name: pulumi.Output.secret(v.get_secret_value())
                    for name, v in spec.web.secret_env.items()
                },
            }
            self.pages = PagesProject(
                f"{spec.id}-site",
                PagesProjectArgs(
                    account_id=cloudflare.account,
                    project_name=spec.pages_project_name,
                    build_dir=str(built),
                    env_vars={**spec.web.env, "NEXTAUTH_URL": self.site_url, **sql_endpoint},
                    secret_env_vars=secret_env,
                    api_url=cloudflare.api_url,
                    api_token=cloudflare.api_token,
                    compatibility_date=spec.web.compatibility_date,
                    compatibility_flags=spec.web.compatibility_flags,
                ),
                pulumi.ResourceOptions(parent=self, depends_on=ready),
            )
            self.health_path = spec.web.app_health_path(self.pages.server_half)
            if spec.custom_domain:
                self.domain = CustomDomain(
                    f"{spec.id}-domain",
                    CustomDomainArgs(
                        account_id=cloudflare.account,
                        project_name=spec.pages_project_name,
                        domain=spec.custom_domain,
                        target=self.pages.subdomain,
                        api_url=cloudflare.api_url,
                        api_token=cloudflare.api_token,
                        app_id=spec.id,
                    ),
                    pulumi.ResourceOptions(parent=self, depends_on=[self.pages]),
                )
            # The native wrappers open the deployed site, so they come once it exists.
            after_site = pulumi.ResourceOptions(parent=self, depends_on=[self.pages])
            self.native = native_builds(spec, self.site_url, after_site)
        self.register_outputs({"database_url": self.database.url})
