"""Every environment variable oneclick reads: its name, type, default and meaning, in one place.

`settings()` reads the process's environment once into typed, frozen sections (`paths`, `pulumi`,
`deploy`, `local`, `service`, `gateway`, `upstreams`); everything else receives values from it, or
better, from its caller. A section is parsed on first use, so a malformed gateway variable never
stops a deploy; a malformed value raises `SettingsError` naming the variable and the fix.

`load_settings(environ)` is the same loader over a given mapping (tests). Code that changes the
environment for its child processes goes through `export`, which also drops the cached settings;
test fixtures that change the environment call `reset_settings`.

Standard library only (besides core.errors): the Pulumi program imports it on every deploy.
"""

# ruff: noqa: RUF009  (`var` returns a dataclasses.field, which ruff cannot see)

from __future__ import annotations

import math
import os
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin, get_type_hints

from core.errors import UserError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

REPO_ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T", bound="DataclassInstance")


class SettingsError(UserError, ValueError):
    """An environment variable holds a value of the wrong kind; `field` is the variable."""


class Secret:
    """A credential that prints as `Secret('****')`; `.reveal()` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def var(
    name: str,
    doc: str,
    default: Any = None,
    *,
    fallback: str | None = None,
    under: str | None = None,
    on: str = "1",
    choices: tuple[str, ...] = (),
    port: bool = False,
) -> Any:
    """A setting read from `name` (else `fallback`, else `default`), documented by `doc`.

    `under`: a path whose default is that folder of the state directory. `on`: the one value that
    turns a flag on (anything else leaves it off: the flags guard risky features, so they fail
    closed). `choices`: the values a text setting may take. Numbers must be above 0, except a
    `port`: 0 to 65535 (0: any free port)."""
    meta = {"env": name, "doc": doc, "fallback": fallback, "under": under, "on": on}
    return field(default=default, metadata={**meta, "choices": choices, "port": port})


@dataclass(frozen=True)
class Paths:
    """Where oneclick keeps its files: by default, folders of the state directory."""

    state_dir: Path = var(
        "ONECLICK_STATE_DIR",
        "git-ignored local state: Pulumi's file backend, sandbox, PostgreSQL, caches",
        (REPO_ROOT / ".state").resolve(),
    )
    sandbox_dir: Path = var(
        "ONECLICK_SANDBOX_DIR", "the sandbox's state and discovery record", under="sandbox"
    )
    postgres_dir: Path = var("ONECLICK_PG_DIR", "the local PostgreSQL cluster's data", under="postgres")
    build_cache: Path = var(
        "ONECLICK_BUILD_CACHE", "built sites by content hash (a CI cache)", under="builds"
    )
    desktop_cache: Path = var(
        "ONECLICK_DESKTOP_CACHE", "Cargo home and target dir of desktop builds", under="desktop-cache"
    )
    ca_dir: Path = var("ONECLICK_CA_DIR", "the local certificate authority (ca.crt, ca.key)", under="ca")
    work_dir: Path = var("ONECLICK_WORK_DIR", "where a service worker unpacks uploads", under="work")
    gateway_journal_dir: Path = var(
        "ONECLICK_GATEWAY_JOURNAL_DIR",
        "the gateway's crash journal (one per process)",
        under="gateway/journal",
    )
    project_dir: Path | None = var(
        "ONECLICK_PROJECT_DIR",
        "the Pulumi project commands run in: a service worker's own, else the repository",
    )
    repo_root: Path = REPO_ROOT


@dataclass(frozen=True)
class Pulumi:
    """The Pulumi engine's own variables, as oneclick reads them."""

    backend_url: str | None = var(
        "PULUMI_BACKEND_URL", "state backend (postgres://, s3://); default: file backend"
    )
    passphrase: Secret | None = var(
        "PULUMI_CONFIG_PASSPHRASE", "encrypts stack secrets (own vendors need one)"
    )
    passphrase_file: Path | None = var("PULUMI_CONFIG_PASSPHRASE_FILE", "a file holding that passphrase")


@dataclass(frozen=True)
class Deploy:
    """What a deploy may do on this machine."""

    service_builds: bool = var("ONECLICK_SERVICE_BUILDS", "1: the service builds uploaded web.source", False)
    native_offline: bool = var("ONECLICK_NATIVE_OFFLINE", "1: native builds use no network (tests)", False)
    byo_enforce: bool = var(
        "ONECLICK_BYO_POLICY", "enforce: BYO database URLs may reach public hosts only", False, on="enforce"
    )
    byo_allowed_networks: str = var(
        "ONECLICK_BYO_ALLOWED_NETWORKS", "CIDRs a BYO URL may reach despite the policy (comma-separated)", ""
    )


@dataclass(frozen=True)
class Local:
    """The local cluster and sandbox that development, tests and ./scripts/run use."""

    postgres_port: int = var("ONECLICK_PG_PORT", "the local PostgreSQL cluster's port", 54329, port=True)
    sandbox_port: int = var("ONECLICK_SANDBOX_PORT", "the sandbox's HTTP port", 8787, port=True)
    sandbox_tls_port: int = var("ONECLICK_SANDBOX_TLS_PORT", "the sandbox's TLS port", 8443, port=True)
    sandbox_postgres_url: str | None = var(
        "ONECLICK_SANDBOX_PG_URL", "the PostgreSQL behind the sandbox's Neon (default: the local cluster)"
    )
    sandbox_max_workers: int = var(
        "ONECLICK_SANDBOX_MAX_WORKERS", "sandbox Workers processes kept running", 8
    )
    sandbox_worker_timeout: float = var(
        "ONECLICK_SANDBOX_WORKER_TIMEOUT", "seconds a sandbox Worker may take to answer (then 503)", 30.0
    )
    sandbox_stream_idle_seconds: float = var(
        "ONECLICK_SANDBOX_STREAM_IDLE_SECONDS", "an unused sandbox libSQL stream is closed after this", 10.0
    )
    hosts_file: Path = var(
        "ONECLICK_HOSTS_FILE", "the file `oneclick sandbox hosts --install` edits", Path("/etc/hosts")
    )


@dataclass(frozen=True)
class Service:
    """The deploy service: its API, workers and their limits."""

    port: int = var("ONECLICK_SERVICE_PORT", "the deploy API's port", 8789, port=True)
    database_url: str | None = var(
        "ONECLICK_SERVICE_DATABASE_URL",
        "the service's PostgreSQL (default: DATABASE_URL, else the local cluster)",
        fallback="DATABASE_URL",
    )
    upload_max_bytes: int = var("ONECLICK_UPLOAD_MAX_BYTES", "one upload's size cap", 64 << 20)
    upload_max_unpacked_bytes: int = var(
        "ONECLICK_UPLOAD_MAX_UNPACKED_BYTES", "one upload, unpacked", 256 << 20
    )
    upload_max_files: int = var("ONECLICK_UPLOAD_MAX_FILES", "files in one upload", 10_000)
    upload_quota_bytes: int = var(
        "ONECLICK_UPLOAD_QUOTA_BYTES", "all of one user's uploads together", 1 << 30
    )
    deploy_timeout_seconds: float = var("ONECLICK_DEPLOY_TIMEOUT_SECONDS", "one deploy's time limit", 1800.0)
    deploy_memory_bytes: int = var("ONECLICK_DEPLOY_MEMORY_BYTES", "one deploy's memory cap", 4 << 30)
    encryption_key: Secret | None = var(
        "CREDENTIALS_ENCRYPTION_KEY", "the vault's key (`oneclick service new-key`)"
    )
    encryption_keys: Secret | None = var(
        "CREDENTIALS_ENCRYPTION_KEYS", "the vault's keys while rotating, current first (comma-separated)"
    )


@dataclass(frozen=True)
class Gateway:
    """The API gateway's own settings (its vendors are `Upstreams`)."""

    port: int = var("ONECLICK_GATEWAY_PORT", "the gateway's port", 8788, port=True)
    database_url: str | None = var(
        "ONECLICK_GATEWAY_DATABASE_URL",
        "the gateway's PostgreSQL (default: DATABASE_URL, else the local cluster)",
        fallback="DATABASE_URL",
    )
    pricing_file: Path | None = var(
        "ONECLICK_GATEWAY_PRICING", "a JSON price table replacing the built-in one"
    )
    flush_seconds: float = var("ONECLICK_GATEWAY_FLUSH_SECONDS", "how often settled calls are written", 0.05)
    reservation_ttl_seconds: float = var(
        "ONECLICK_GATEWAY_RESERVATION_TTL_SECONDS", "a crashed call's reservation settles after this", 900.0
    )
    lease_calls: int = var("ONECLICK_GATEWAY_LEASE_CALLS", "calls one budget lease covers", 50)
    lease_seconds: float = var("ONECLICK_GATEWAY_LEASE_SECONDS", "a lease is admitted against this long", 5.0)
    lease_ttl_seconds: float = var(
        "ONECLICK_GATEWAY_LEASE_TTL_SECONDS", "a dead process's lease returns", 60.0
    )
    max_body_bytes: int = var("ONECLICK_GATEWAY_MAX_BODY_BYTES", "a JSON request's size cap", 1_000_000)
    max_upload_bytes: int = var(
        "ONECLICK_GATEWAY_MAX_UPLOAD_BYTES", "a storage upload's size cap", 25_000_000
    )
    admin_token: Secret | None = var("ONECLICK_GATEWAY_ADMIN_TOKEN", "the platform's token for the usage API")
    stripe_api_key: Secret | None = var("STRIPE_SECRET_KEY", "Stripe key for hourly meter reports and setup")
    stripe_api_base: str | None = var("ONECLICK_STRIPE_API_BASE", "Stripe's API base URL (stripe-mock)")
    stripe_webhook_secret: Secret | None = var("STRIPE_WEBHOOK_SECRET", "verifies POST /api/stripe/webhook")
    alert_webhook_url: str | None = var("ONECLICK_GATEWAY_ALERT_WEBHOOK", "where spend alerts are posted")


@dataclass(frozen=True)
class Upstreams:
    """Where each vendor the gateway fronts lives, and the platform's credentials for it."""

    openai_url: str = var("ONECLICK_OPENAI_URL", "OpenAI's API base", "https://api.openai.com")
    openai_key: Secret | None = var("PLATFORM_OPENAI_KEY", "the platform's OpenAI key")
    anthropic_url: str = var("ONECLICK_ANTHROPIC_URL", "Anthropic's API base", "https://api.anthropic.com")
    anthropic_key: Secret | None = var("PLATFORM_ANTHROPIC_KEY", "the platform's Anthropic key")
    email_provider: str = var(
        "ONECLICK_EMAIL_PROVIDER", "who sends email", "sendgrid", choices=("sendgrid", "resend")
    )
    sendgrid_url: str = var("ONECLICK_SENDGRID_URL", "SendGrid's API base", "https://api.sendgrid.com")
    sendgrid_key: Secret | None = var("PLATFORM_SENDGRID_KEY", "the platform's SendGrid key")
    resend_url: str = var("ONECLICK_RESEND_URL", "Resend's API base", "https://api.resend.com")
    resend_key: Secret | None = var("PLATFORM_RESEND_KEY", "the platform's Resend key")
    email_from: str | None = var("PLATFORM_EMAIL_FROM", "the sender when a request names none")
    twilio_url: str = var("ONECLICK_TWILIO_URL", "Twilio's API base", "https://api.twilio.com")
    twilio_account_sid: str | None = var("PLATFORM_TWILIO_SID", "the platform's Twilio account")
    twilio_auth_token: Secret | None = var("PLATFORM_TWILIO_TOKEN", "the platform's Twilio token")
    twilio_from: str | None = var("PLATFORM_TWILIO_NUMBER", "the platform's sending number")
    storage_url: str | None = var("ONECLICK_STORAGE_URL", "an S3-compatible endpoint (e.g. R2)")
    storage_bucket: str | None = var("ONECLICK_STORAGE_BUCKET", "the storage bucket")
    storage_region: str = var("ONECLICK_STORAGE_REGION", "the storage region", "auto")
    storage_access_key_id: str | None = var("PLATFORM_STORAGE_ACCESS_KEY_ID", "the platform's storage key id")
    storage_secret_access_key: Secret | None = var(
        "PLATFORM_STORAGE_SECRET_ACCESS_KEY", "the platform's storage secret"
    )

    def master_keys(self) -> list[str]:
        """Every platform credential, for scrubbing and for tests that prove none leaks."""
        secrets = (
            self.openai_key,
            self.anthropic_key,
            self.sendgrid_key,
            self.resend_key,
            self.twilio_auth_token,
            self.storage_secret_access_key,
        )
        return [s.reveal() for s in secrets if s]


SECTIONS: tuple[type, ...] = (Paths, Pulumi, Deploy, Local, Service, Gateway, Upstreams)


@dataclass(frozen=True)
class Variable:
    """One environment variable: for docs, for tests, and for the loader's snapshot."""

    name: str
    section: str
    setting: str
    kind: str
    default: str
    doc: str


def variables() -> Iterator[Variable]:
    """Every variable the sections read, in declaration order (fallbacks after their setting)."""
    for section in SECTIONS:
        for item in fields(section):
            meta = item.metadata
            if "env" not in meta:
                continue
            kind = _kinds(section)[item.name]
            default = f"<state>/{meta['under']}" if meta["under"] else _shown(item.default)
            yield Variable(meta["env"], section.__name__, item.name, _kind_name(kind), default, meta["doc"])
            if meta["fallback"]:
                doc = f"fallback for {meta['env']}"
                yield Variable(meta["fallback"], section.__name__, item.name, _kind_name(kind), "", doc)


class Settings:
    """The settings of one environment; each section is parsed on first use, then kept."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        # A snapshot of only the variables we know: later changes to os.environ are not seen.
        self._environ = {name: environ[name] for name in _names() if name in environ}

    def __repr__(self) -> str:
        return f"Settings(variables={sorted(self._environ)!r})"  # names only: values may be secrets

    @cached_property
    def paths(self) -> Paths:
        return _read(Paths, self._environ)

    @cached_property
    def pulumi(self) -> Pulumi:
        return _read(Pulumi, self._environ)

    @cached_property
    def deploy(self) -> Deploy:
        return _read(Deploy, self._environ)

    @cached_property
    def local(self) -> Local:
        return _read(Local, self._environ)

    @cached_property
    def service(self) -> Service:
        return _read(Service, self._environ)

    @cached_property
    def gateway(self) -> Gateway:
        return _read(Gateway, self._environ)

    @cached_property
    def upstreams(self) -> Upstreams:
        return _read(Upstreams, self._environ)


_current: Settings | None = None


def settings() -> Settings:
    """This process's settings, read from os.environ on first use."""
    global _current
    if _current is None:
        _current = Settings(os.environ)
    return _current


def load_settings(environ: Mapping[str, str]) -> Settings:
    """The settings `environ` describes (the process's own are `settings()`)."""
    return Settings(environ)


def reset_settings() -> None:
    """Forget the cached settings: the next `settings()` reads os.environ again (test fixtures)."""
    global _current
    _current = None


def export(values: Mapping[str, str]) -> None:
    """Set variables for this process's children, and read them in this process too from now on."""
    os.environ.update(values)
    reset_settings()


def _read(section: type[T], environ: Mapping[str, str]) -> T:
    kinds = _kinds(section)
    values: dict[str, Any] = {}
    for item in fields(section):
        meta = item.metadata
        if "env" not in meta:
            continue
        name, raw = meta["env"], environ.get(meta["env"], "")
        if not raw.strip() and meta["fallback"]:
            name, raw = meta["fallback"], environ.get(meta["fallback"], "")
        if raw.strip():
            values[item.name] = _parse(name, raw, kinds[item.name], item.default, meta)
        elif meta["under"]:  # a folder of the state directory, which comes first in Paths
            values[item.name] = values.get("state_dir", Paths.state_dir) / meta["under"]
    return section(**values)


def _parse(name: str, raw: str, kind: Any, default: Any, meta: Mapping[str, Any]) -> Any:
    """`raw` as `kind`; a secret is taken exactly as given (whitespace may be part of it)."""
    optional = get_origin(kind) in (Union, types.UnionType)
    base = next(a for a in get_args(kind) if a is not type(None)) if optional else kind
    if base is Secret:
        return Secret(raw)
    text = raw.strip()
    if base is bool:
        return text.lower() == meta["on"]
    if base is Path:
        return Path(text).resolve()
    if base in (int, float):
        return _number(name, text, base, default, meta["port"])
    if meta["choices"] and text not in meta["choices"]:
        allowed = " or ".join(repr(c) for c in meta["choices"])
        raise SettingsError(
            f"{name}={text!r} is not one of {allowed}",
            field=name,
            fix=f"set {name} to {allowed}, or unset it",
        )
    return text


def _number(name: str, text: str, kind: type, default: Any, port: bool) -> Any:
    noun = "a whole number" if kind is int else "a number"
    bounds = "from 0 to 65535" if port else "above 0"
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not (0 <= value <= 65535 if port else value > 0):
        raise SettingsError(
            f"{name}={text!r} is not {noun} {bounds}",
            field=name,
            fix=f"set {name} to {noun} {bounds} (default {default}), or unset it",
        )
    return value


@cache
def _names() -> frozenset[str]:
    return frozenset(v.name for v in variables())


@cache
def _kinds(section: type) -> dict[str, Any]:
    return get_type_hints(section)


def _kind_name(kind: Any) -> str:
    optional = get_origin(kind) in (Union, types.UnionType)
    base = next(a for a in get_args(kind) if a is not type(None)) if optional else kind
    return {bool: "flag", int: "integer", float: "number", Path: "path", Secret: "secret"}.get(base, "text")


def _shown(default: Any) -> str:
    if default is None:
        return ""
    if isinstance(default, Path):
        return str(default.relative_to(REPO_ROOT)) if default.is_relative_to(REPO_ROOT) else str(default)
    return str(default)
