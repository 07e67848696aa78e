"""AppSpec: what one deployed app is made of. Validated once, before anything is provisioned.

Accepted as YAML or JSON, with snake_case or camelCase keys (the platform speaks camelCase).
Secret values (a BYO database URL, secret env vars) are `SecretStr`: they never print, and
`public_dict()` / `secret_values()` split them out so stack config keeps them as Pulumi secrets.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.cloudflare import names as cloudflare_names
from components.errors import SpecError
from components.neon import names as neon_names
from components.turso import names as turso_names
from core.files import SPEC_CAP, FileRefused, read_text_capped
from core.settings import settings

# Stack names double as app ids: keep them DNS- and file-name-safe.
APP_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Turso: "only lowercase letters, numbers, dashes. No longer than 64 characters."
TURSO_DATABASE_NAME = turso_names.DATABASE_NAME
# Cloudflare Pages project names: lowercase letters, digits, dashes; at most 58 characters.
PAGES_PROJECT_NAME = cloudflare_names.PAGES_PROJECT_NAME
ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HOSTNAME = re.compile(
    r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)
# Bundle ids valid for iOS, Android and Tauri alike: dot-separated parts of letters and digits,
# each starting with a letter (Android's rule; iOS would also take dashes, Android would not).
BUNDLE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+$")
# Java keywords cannot be Android package segments (com.acme.new fails to compile).
JAVA_KEYWORDS = frozenset(
    [
        "abstract",
        "assert",
        "boolean",
        "break",
        "byte",
        "case",
        "catch",
        "char",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extends",
        "final",
        "finally",
        "float",
        "for",
        "goto",
        "if",
        "implements",
        "import",
        "instanceof",
        "int",
        "interface",
        "long",
        "native",
        "new",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "short",
        "static",
        "strictfp",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "transient",
        "try",
        "void",
        "volatile",
        "while",
        "true",
        "false",
        "null",
    ]
)
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Env vars the deploy sets itself from the database and the site; a spec may not override them.
RESERVED_ENV_VARS = frozenset(
    {"DATABASE_URL", "TURSO_DATABASE_URL", "TURSO_AUTH_TOKEN", "NEXTAUTH_URL", "NEXTAUTH_SECRET"}
)

# Cloudflare's limits on a Pages project's variables (Workers: 128 variables of at most 5 KB each).
MAX_ENV_VARS = 128
MAX_ENV_VALUE_BYTES = 5 * 1024

Tier = Literal["free", "starter", "pro", "business", "enterprise"]


class StrictModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        validate_by_name=True,
        validate_by_alias=True,
    )


# A spec sent to the deploy service names its files by upload (`upload:<sha256>`, made by
# POST /api/uploads), never by host path: the service must not read files a tenant points at.
UPLOAD_REF = re.compile(r"^upload:([0-9a-f]{64})$")
UPLOAD_ROUTE_FIX = "upload the file or folder with POST /api/uploads and give its reference (upload:<sha256>)"


def uploads_only(info: ValidationInfo) -> bool:
    """Whether this validation is for the deploy service (paths must be upload references)."""
    return bool(isinstance(info.context, dict) and info.context.get("uploads"))


def upload_ref(value: Path | str) -> str | None:
    """The sha256 an `upload:<sha256>` reference names, or None for anything else."""
    found = UPLOAD_REF.match(str(value))
    return found.group(1) if found else None


def _reference(value: Path) -> Path:
    if upload_ref(value) is None:
        raise ValueError(
            f"is a host path; the deploy service takes files only as uploads: {UPLOAD_ROUTE_FIX}"
        )
    return value


def _path(value: Path | None, field: str, info: ValidationInfo) -> Path | None:
    if value is None:
        return None
    if uploads_only(info):
        return _reference(value)
    if not value.exists():
        raise ValueError(f"{str(value)!r} does not exist; give the path to the app's {field}")
    return value


class DatabaseSource(StrictModel):
    """What the app brings: its Prisma schema, migrations and preview data (all optional)."""

    prisma_schema: Path | None = Field(default=None, description="Prisma schema written for SQLite.")
    migrations: Path | None = Field(default=None, description="A prisma/migrations folder.")
    preview_data: Path | None = Field(
        default=None, description="Preview data: a SQLite .sql dump or .sqlite."
    )
    import_preview: bool = Field(default=True, description="Import the preview data on first deploy.")

    @field_validator("prisma_schema", "migrations", "preview_data")
    @classmethod
    def _exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _path(value, str(info.field_name).replace("_", " "), info)


class TursoDatabaseSpec(DatabaseSource):
    provider: Literal["turso"] = "turso"
    name: str | None = Field(default=None, description="Database name; defaults to the app id.")
    group: str = Field(
        default="default",
        pattern=turso_names.GROUP_NAME,
        description="Turso group (its location) the database lives in.",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and (problem := turso_names.database_name_problem(value)):
            raise ValueError(problem)
        return value


class NeonDatabaseSpec(DatabaseSource):
    provider: Literal["neon"]
    region: str = Field(default="aws-us-east-2", description="Neon region id, e.g. aws-us-east-2.")
    database_name: str = Field(default="neondb", description="PostgreSQL database name.")
    role_name: str = Field(default="neondb_owner", description="PostgreSQL role that owns the database.")

    @field_validator("database_name", "role_name")
    @classmethod
    def _identifier(cls, value: str, info: ValidationInfo) -> str:
        kind = "role" if info.field_name == "role_name" else "database"
        if problem := neon_names.identifier_problem(kind, value):
            raise ValueError(problem)
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if problem := neon_names.region_problem(value):
            raise ValueError(problem)
        return value


class ByoDatabaseSpec(DatabaseSource):
    provider: Literal["byo"]
    url: SecretStr = Field(description="postgresql://user:password@host:port/database (kept secret).")
    allow_non_empty: bool = Field(
        default=False, description="Consent to migrate a database that already holds tables."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        # The message never repeats the URL: it holds a password.
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
            raise ValueError("is not a PostgreSQL URL; use postgresql://user:password@host:5432/database")
        if not parts.path.strip("/"):
            raise ValueError("names no database; end the URL with /<database>")
        return value


DatabaseSpec = Annotated[
    TursoDatabaseSpec | NeonDatabaseSpec | ByoDatabaseSpec, Field(discriminator="provider")
]


# A Pages build: these names at its top are configuration or the server half, not served files.
WORKER_ENTRY = "_worker.js"
FUNCTIONS_DIR = "functions"
# The compatibility date a server half runs with unless the spec names one: a date the pinned
# workerd (tools/node) supports and that OpenNext/Prisma 7 need (nodejs_compat v2: 2024-09-23+).
DEFAULT_COMPATIBILITY_DATE = "2025-09-01"
DEFAULT_COMPATIBILITY_FLAGS = ("nodejs_compat",)
DEFAULT_HEALTH_PATH = "/api/health"
COMPATIBILITY_FLAG = re.compile(r"^[a-z0-9_]{1,64}$")
HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,199}$")
# Operators may let the deploy service build `web.source` (it runs the tenant's code on the host).
SERVICE_BUILDS_ENV = "ONECLICK_SERVICE_BUILDS"


def service_builds_allowed() -> bool:
    """Whether the deploy service's operator lets tenants send `web.source` to be built there."""
    return settings().deploy.service_builds


def has_server_half(build_dir: Path) -> bool:
    """Whether a built Pages output carries a server half (`_worker.js`, a file or a folder)."""
    return os.path.lexists(build_dir / WORKER_ENTRY)


class WebSpec(StrictModel):
    build_dir: Path | None = Field(
        default=None,
        description="An already built Pages output: static files, optional `_worker.js` (file or "
        "folder), `_routes.json`, `_headers`, `_redirects`. Give this or `source`.",
    )
    source: Path | None = Field(
        default=None,
        description="The app's project folder; oneclick builds it (needs `framework`). Give this or "
        "`buildDir`.",
    )
    framework: Literal["nextjs"] | None = Field(
        default=None, description="How `source` is built: nextjs (OpenNext for Cloudflare)."
    )
    health_path: str | None = Field(
        default=None,
        description="Path the deploy's health check calls on the app; default /api/health when the app "
        "has a server half (the site's front page otherwise).",
    )
    compatibility_date: str = Field(
        default=DEFAULT_COMPATIBILITY_DATE, description="Workers compatibility date of the server half."
    )
    compatibility_flags: list[str] = Field(
        default_factory=lambda: list(DEFAULT_COMPATIBILITY_FLAGS),
        description="Workers compatibility flags of the server half.",
    )
    hosting: Literal["cloudflare-pages"] = "cloudflare-pages"
    project_name: str | None = Field(default=None, description="Pages project name; defaults to the app id.")
    env: dict[str, str] = Field(default_factory=dict, description="Plain environment variables.")
    secret_env: dict[str, SecretStr] = Field(
        default_factory=dict, description="Secret environment variables (stored encrypted, never shown)."
    )

    @field_validator("build_dir")
    @classmethod
    def _build_dir(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if uploads_only(info):
            return _reference(value)
        if not value.is_dir():
            raise ValueError(f"{str(value)!r} is not a directory; build the app and point at its output")
        if not any(p.is_file() for p in value.rglob("*")):
            raise ValueError(f"{str(value)!r} holds no files; build the app first")
        if (value / FUNCTIONS_DIR).is_dir() and not has_server_half(value):
            raise ValueError(
                f"{str(value)!r} has a functions/ folder, which oneclick does not compile; compile it "
                f"into {WORKER_ENTRY} (`wrangler pages functions build --outdir <buildDir>/{WORKER_ENTRY}`), "
                "or give the app's project folder as web.source"
            )
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if uploads_only(info):
            if not service_builds_allowed():
                # Building runs the tenant's code (next.config.js, npm scripts) on the worker host.
                raise ValueError(
                    "is not built by the deploy service: building runs the app's own code on our hosts; "
                    "build the app yourself (e.g. `npx opennextjs-cloudflare build`), upload the Pages "
                    "output with POST /api/uploads and give it as web.buildDir"
                )
            return _reference(value)
        if not value.is_dir():
            raise ValueError(f"{str(value)!r} is not a directory; give the app's project folder")
        if not (value / "package.json").is_file():
            raise ValueError(f"{str(value)!r} has no package.json; give the folder of the app's package.json")
        return value

    @field_validator("health_path")
    @classmethod
    def _health_path(cls, value: str | None) -> str | None:
        if value is not None and not HEALTH_PATH.match(value):
            raise ValueError(f"{value[:80]!r} is not a URL path; use one like '/api/health'")
        return value

    @field_validator("compatibility_date")
    @classmethod
    def _compatibility_date(cls, value: str) -> str:
        try:
            day = date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
        except ValueError:
            day = None
        if day is None:
            example = DEFAULT_COMPATIBILITY_DATE
            raise ValueError(f"{value[:40]!r} is not a date; use YYYY-MM-DD such as '{example}'")
        if day > date.today():
            raise ValueError(f"{value} is in the future; Cloudflare takes today's date or an earlier one")
        return value

    @field_validator("compatibility_flags")
    @classmethod
    def _compatibility_flags(cls, value: list[str]) -> list[str]:
        for flag in value:
            if not COMPATIBILITY_FLAG.match(flag):
                raise ValueError(f"{flag[:80]!r} is not a compatibility flag; use names like 'nodejs_compat'")
        return sorted(set(value))

    @model_validator(mode="after")
    def _one_source(self) -> WebSpec:
        if (self.build_dir is None) == (self.source is None):
            raise ValueError(
                "give exactly one of buildDir (an already built Pages output) and source (the app's "
                "project folder, with framework: nextjs)"
            )
        if self.source is not None and self.framework is None:
            raise ValueError("source needs framework: nextjs (how the app is built)")
        if self.build_dir is not None and self.framework is not None:
            raise ValueError("framework applies to source only; remove it or give source instead of buildDir")
        return self

    @field_validator("project_name")
    @classmethod
    def _project_name(cls, value: str | None) -> str | None:
        if value is not None and (problem := cloudflare_names.project_name_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("env", "secret_env")
    @classmethod
    def _env_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_ENV_VARS:
            raise ValueError(
                f"has {len(value)} variables; Cloudflare allows at most {MAX_ENV_VARS} per project"
            )
        for name, item in value.items():
            if len(name) > 256 or not ENV_VAR_NAME.match(name):
                raise ValueError(
                    f"env var name {name[:80]!r} is invalid; use at most 256 letters, digits and underscores"
                )
            text = item.get_secret_value() if isinstance(item, SecretStr) else str(item)
            if len(text.encode()) > MAX_ENV_VALUE_BYTES:
                # Never quote the value: it may be a secret.
                raise ValueError(
                    f"{name} is longer than {MAX_ENV_VALUE_BYTES} bytes, Cloudflare's limit per variable"
                )
            if name in RESERVED_ENV_VARS:
                raise ValueError(f"env var {name} is set by the deploy itself; remove it from the spec")
        return value

    def app_health_path(self, server_half: bool) -> str | None:
        """The path the health check calls on the app, or None to check the front page only."""
        return self.health_path or (DEFAULT_HEALTH_PATH if server_half else None)

    @model_validator(mode="after")
    def _plain_or_secret(self) -> WebSpec:
        if len(self.env) + len(self.secret_env) > MAX_ENV_VARS:
            raise ValueError(
                f"env and secretEnv hold more than {MAX_ENV_VARS} variables together; keep fewer"
            )
        both = set(self.env) & set(self.secret_env)
        if both:
            raise ValueError(f"{', '.join(sorted(both))} is both plain and secret; keep one")
        return self


def bundle_segment(text: str, fallback: str) -> str:
    """One bundle-id part from free text: letters and digits, starting with a letter, no keyword."""
    part = re.sub(r"[^a-z0-9]", "", text.lower())
    if not part or not part[0].isalpha():
        part = fallback + part
    return part + "app" if part in JAVA_KEYWORDS else part


def default_bundle_id(owner: str, app_id: str) -> str:
    """com.<owner>.<app>, sanitised so that iOS, Android and Tauri all accept it."""
    return f"com.{bundle_segment(owner, 'u')}.{bundle_segment(app_id, 'app')}"


def owned_vendor_name(app_id: str) -> str:
    """The Turso database and Pages project name that app `app_id` owns: the app id itself.

    The deploy service gives an app id to one user forever (even after a destroy), so a name
    derived from it is that user's alone; recovery adopts a resource only under such a name.
    """
    return app_id


def _bundle_id(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > 155 or not BUNDLE_ID.match(value):
        raise ValueError(
            f"{value!r} is not a valid bundle id; use reverse-DNS like 'com.example.myapp': two or more "
            "dot-separated parts of letters and digits, each starting with a letter"
        )
    keywords = [part for part in value.split(".") if part in JAVA_KEYWORDS]
    if keywords:
        raise ValueError(f"{value!r} has {keywords[0]!r}, a Java keyword Android rejects; rename that part")
    return value


def _icon(value: Path | None, info: ValidationInfo) -> Path | None:
    if value is not None and uploads_only(info):
        return _reference(value)
    if value is not None and not value.is_file():
        raise ValueError(f"{str(value)!r} is not a file; give a square PNG of at least 1024x1024 pixels")
    return value


class NativeSpec(StrictModel):
    """What mobile and desktop sections share: platforms, an icon and a version."""

    @field_validator("icon", check_fields=False)
    @classmethod
    def _icon(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _icon(value, info)

    @field_validator("platforms", check_fields=False)
    @classmethod
    def _platforms(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("version", check_fields=False)
    @classmethod
    def _version(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise ValueError(f"{value!r} is not a version; use MAJOR.MINOR.PATCH such as '1.0.0'")
        return value


class MobileSpec(NativeSpec):
    """iOS and Android apps: a Capacitor wrapper around the deployed site."""

    platforms: list[Literal["ios", "android"]] = Field(min_length=1, description="ios and/or android.")
    app_id: str | None = Field(default=None, description="Bundle id; defaults to com.<owner>.<app>.")
    app_name: str | None = Field(default=None, description="Name under the icon; defaults to the app's name.")
    icon: Path | None = Field(
        default=None, description="Square PNG, 1024x1024 or larger; icons are made from it."
    )
    splash_background: str = Field(default="#ffffff", description="Splash screen colour, #rrggbb.")
    version: str = Field(default="1.0.0", description="Marketing version, MAJOR.MINOR.PATCH.")
    build_number: int = Field(default=1, ge=1, description="Build number; raise it for every store upload.")
    builder: Literal["eas", "fastlane"] = Field(
        default="fastlane", description="eas (Expo's cloud) or fastlane (run by the CI workflow template)."
    )
    build: bool = Field(
        default=False,
        description="Run cap add/sync and the cloud build during deploy (needs network and tokens).",
    )

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: str | None) -> str | None:
        return _bundle_id(value)

    @field_validator("splash_background")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not HEX_COLOUR.match(value):
            raise ValueError(f"{value!r} is not a colour; use #rrggbb such as '#ffffff'")
        return value


class DesktopSpec(NativeSpec):
    """Linux, Windows and macOS apps: a Tauri 2 wrapper around the site."""

    platforms: list[Literal["linux", "windows", "macos"]] = Field(
        min_length=1, description="linux, windows and/or macos."
    )
    identifier: str | None = Field(default=None, description="Bundle id; defaults to com.<owner>.<app>.")
    product_name: str | None = Field(default=None, description="Window title and installer name.")
    icon: Path | None = Field(
        default=None, description="Square PNG, 1024x1024 or larger; icons are made from it."
    )
    version: str = Field(default="0.1.0", description="App version, MAJOR.MINOR.PATCH.")
    frontend: Literal["url", "static"] = Field(
        default="url", description="url: load the deployed site; static: embed the web build."
    )
    width: int = Field(default=1200, ge=320, le=7680, description="Window width in pixels.")
    height: int = Field(default=800, ge=240, le=4320, description="Window height in pixels.")
    updater_endpoint: str | None = Field(
        default=None, description="https URL of the updater manifest (latest.json); enables updates."
    )
    updater_pubkey: str | None = Field(default=None, description="Public key the updates are signed with.")

    @field_validator("identifier")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and value.lower().endswith(".app"):
            raise ValueError(f"{value!r} ends in '.app', which clashes with macOS bundles; drop it")
        return _bundle_id(value)

    @field_validator("updater_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme != "https":
            raise ValueError("must be an https URL (Tauri refuses plain-http update endpoints)")
        return value

    @model_validator(mode="after")
    def _updater(self) -> DesktopSpec:
        if (self.updater_endpoint is None) != (self.updater_pubkey is None):
            raise ValueError("updaterEndpoint and updaterPubkey go together; give both or neither")
        return self


class AppSpec(StrictModel):
    id: str = Field(description="App id; also the Pulumi stack name.")
    owner: str = Field(default="local", description="The platform user who owns the app.")
    name: str | None = Field(default=None, max_length=200, description="Display name; defaults to the id.")
    tier: Tier = Field(default="free", description="The owner's subscription tier.")
    database: DatabaseSpec = Field(default_factory=TursoDatabaseSpec)
    web: WebSpec | None = Field(default=None, description="The site to host; omit for a database only.")
    custom_domain: str | None = Field(default=None, description="e.g. shop.example.com (needs web).")
    mobile: MobileSpec | None = Field(
        default=None, description="iOS/Android apps wrapping the site (needs web)."
    )
    desktop: DesktopSpec | None = Field(
        default=None, description="Desktop apps wrapping the site (needs web)."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_provider(cls, data: Any) -> Any:
        # Turso is the default database: `database: {group: x}` needs no provider.
        database = data.get("database") if isinstance(data, dict) else None
        if isinstance(database, dict) and "provider" not in database:
            data = {**data, "database": {**database, "provider": "turso"}}
        return data

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not APP_ID.match(value):
            raise ValueError(
                f"{value!r} is not a valid app id; use 1-63 lowercase letters, digits and dashes, "
                "starting and ending with a letter or digit (e.g. 'app-123')"
            )
        return value

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,128}", value):
            raise ValueError("use 1-128 letters, digits, '_', '.', '@' or '-'")
        return value

    @field_validator("custom_domain")
    @classmethod
    def _domain(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = value.strip().lower().rstrip(".")
        if not HOSTNAME.match(value):
            raise ValueError(f"{value!r} is not a domain name; use one like 'shop.example.com'")
        # A `web` that failed validation is absent from info.data; only a missing one is None.
        if "web" in info.data and info.data["web"] is None:
            raise ValueError("needs a `web` section: a custom domain points at the hosted site")
        return value

    @field_validator("mobile", "desktop")
    @classmethod
    def _needs_web(cls, value: MobileSpec | DesktopSpec | None, info: ValidationInfo) -> Any:
        if value is not None and "web" in info.data and info.data["web"] is None:
            raise ValueError("needs a `web` section: the app wraps the hosted site")
        return value

    def upload_refs(self) -> dict[str, str]:
        """Dotted field name -> sha256 of every file field given as an upload reference."""
        found: dict[str, str] = {}
        for dotted, value in self.file_fields().items():
            sha = upload_ref(value)
            if sha is not None:
                found[dotted] = sha
        return found

    def file_fields(self) -> dict[str, Path]:
        """Dotted camelCase field name -> value of every file or folder field that is set."""
        fields: dict[str, Path | None] = {
            "database.prismaSchema": self.database.prisma_schema,
            "database.migrations": self.database.migrations,
            "database.previewData": self.database.preview_data,
            "web.buildDir": self.web.build_dir if self.web else None,
            "web.source": self.web.source if self.web else None,
            "mobile.icon": self.mobile.icon if self.mobile else None,
            "desktop.icon": self.desktop.icon if self.desktop else None,
        }
        return {name: value for name, value in fields.items() if value is not None}

    # -- derived names -------------------------------------------------------------------------

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def mobile_app_id(self) -> str:
        return (self.mobile.app_id if self.mobile else None) or default_bundle_id(self.owner, self.id)

    @property
    def desktop_identifier(self) -> str:
        return (self.desktop.identifier if self.desktop else None) or default_bundle_id(self.owner, self.id)

    @property
    def database_name(self) -> str:
        """The Turso database name (Turso only)."""
        owned = owned_vendor_name(self.id)
        return self.database.name or owned if isinstance(self.database, TursoDatabaseSpec) else owned

    @property
    def pages_project_name(self) -> str:
        return (self.web.project_name if self.web else None) or owned_vendor_name(self.id)

    # -- parsing and (de)serialisation ---------------------------------------------------------

    @staticmethod
    def parse(data: Any, *, uploads: bool = False) -> AppSpec:
        """Validate a mapping; raises SpecError naming each bad field. Relative paths: the cwd.

        With `uploads`, every file field must be an upload reference and nothing on disk is read.
        """
        if not isinstance(data, dict):
            raise SpecError.single("(spec)", "must be a mapping of fields, e.g. {id: app-123}")
        try:
            return AppSpec.model_validate(data, context={"uploads": uploads})
        except ValidationError as exc:
            raise SpecError.from_validation(exc) from None

    @staticmethod
    def load(path: Path) -> AppSpec:
        """Read a YAML or JSON spec file; paths in it are relative to the file.

        Whatever the file holds, every problem is a SpecError naming the file or field: the file is
        read safely (a regular UTF-8 file of at most SPEC_CAP bytes), and its shape (depth, size,
        NUL characters) is checked before anything else walks it."""
        try:
            text = read_text_capped(path, str(path), SPEC_CAP)
        except FileRefused as exc:
            raise SpecError.single(str(path), f"{exc.problem}; {exc.fix}") from None
        data = _decode_spec(text, path)
        problem = _shape_problem(data)
        if problem is not None:
            raise SpecError.single(*problem)
        if isinstance(data, dict):
            data = _resolve_paths(data, path.parent.resolve())
        return AppSpec.parse(data)

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready spec with every secret replaced by a reference into `secret_values()`."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if isinstance(self.database, ByoDatabaseSpec):
            data["database"]["url"] = {"secretRef": "database.url"}
        if self.web is not None:
            data["web"]["secretEnv"] = {
                name: {"secretRef": f"web.secretEnv.{name}"} for name in self.web.secret_env
            }
        return data

    def secret_values(self) -> dict[str, str]:
        values: dict[str, str] = {}
        if isinstance(self.database, ByoDatabaseSpec):
            values["database.url"] = self.database.url.get_secret_value()
        if self.web is not None:
            for name, secret in self.web.secret_env.items():
                values[f"web.secretEnv.{name}"] = secret.get_secret_value()
        return values

    @staticmethod
    def from_public(data: Any, secrets: dict[str, str], *, uploads: bool = False) -> AppSpec:
        """Rebuild a spec written by `public_dict()`, filling secrets back in from `secrets`."""

        def fill(node: Any) -> Any:
            if isinstance(node, dict):
                if set(node) == {"secretRef"}:
                    ref = str(node["secretRef"])
                    if ref not in secrets:
                        raise SpecError.single(ref, "is a secret missing from the stack's `oneclick:secrets`")
                    return secrets[ref]
                return {key: fill(value) for key, value in node.items()}
            return node

        return AppSpec.parse(fill(data), uploads=uploads)

    @staticmethod
    def json_schema() -> dict[str, Any]:
        """The JSON Schema the platform validates against (camelCase keys)."""
        schema = AppSpec.model_json_schema(by_alias=True)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = "oneclick AppSpec"
        return schema


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the spec's relative paths absolute against `base` (the folder of the spec file)."""
    out = dict(data)
    for section, keys in (
        ("database", ("prisma_schema", "prismaSchema", "migrations", "preview_data", "previewData")),
        ("web", ("build_dir", "buildDir", "source")),
        ("mobile", ("icon",)),
        ("desktop", ("icon",)),
    ):
        node = out.get(section)
        if isinstance(node, dict):
            node = dict(node)
            for key in keys:
                value = node.get(key)
                if isinstance(value, str) and value and not Path(value).is_absolute():
                    node[key] = str((base / value).resolve())
            out[section] = node
    return out


# A spec is a few levels deep and a few hundred values; far more is a mistake or an attack.
MAX_SPEC_DEPTH = 32
MAX_SPEC_VALUES = 100_000


def _decode_spec(text: str, path: Path) -> Any:
    """The spec file's data; a SpecError naming the line and the problem (not the text) otherwise."""
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except RecursionError:
        problem = f"nests deeper than Python can read; a spec is at most {MAX_SPEC_DEPTH} levels deep"
        raise SpecError.single(str(path), problem) from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        problem = f"is not valid YAML/JSON ({where}: {exc.msg}); fix the file"
        raise SpecError.single(str(path), problem) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or "cannot be parsed"
        raise SpecError.single(str(path), f"is not valid YAML/JSON ({where}{what}); fix the file") from None
    except ValueError as exc:  # e.g. a number too long to convert
        raise SpecError.single(str(path), f"is not valid YAML/JSON ({exc}); fix the file") from None


def _shape_problem(data: Any) -> tuple[str, str] | None:
    """(field, problem) if `data` nests too deep, holds too many values (YAML aliases can repeat
    a node exponentially) or a string with a NUL character (no path or env value can hold one);
    walked without recursion, stopping at the first problem."""
    pending: list[tuple[Any, int, str]] = [(data, 0, "")]
    seen = 0
    while pending:
        node, depth, where = pending.pop()
        seen += 1
        if seen > MAX_SPEC_VALUES:
            return "(spec)", f"holds more than {MAX_SPEC_VALUES} values; a spec is a few hundred"
        if depth > MAX_SPEC_DEPTH:
            return where or "(spec)", f"nests deeper than {MAX_SPEC_DEPTH} levels; check the spec's layout"
        if isinstance(node, dict):
            for key, value in node.items():
                name = f"{where}.{key}" if where else str(key)
                if "\0" in name:
                    return where or "(spec)", "has a field name with a NUL character; remove it"
                pending.append((value, depth + 1, name))
        elif isinstance(node, list):
            pending.extend((value, depth + 1, f"{where}[{i}]") for i, value in enumerate(node))
        elif isinstance(node, str) and "\0" in node:
            return where or "(spec)", "contains a NUL character; remove it"
    return None
