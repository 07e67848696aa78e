"""The environment every Pulumi CLI run gets: tools on PATH, backend, secrets passphrase."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from components.paths import REPO_ROOT, state_root
from components.targets import SANDBOX_PASSPHRASE, TargetError, passphrase_problem
from core.settings import export, settings

TOOLS_DIR = REPO_ROOT / ".tools"
TOOLS_BIN = TOOLS_DIR / "bin"


# The deploy service keeps Pulumi's state in this schema of its own database (beside its tables).
STATE_SCHEMA = "pulumi"


def backend_url() -> str:
    """PULUMI_BACKEND_URL if set (postgres://…, s3://…), else the DIY file backend under .state/."""
    url = settings().pulumi.backend_url
    if url:
        return url
    directory = state_root() / "pulumi"
    directory.mkdir(parents=True, exist_ok=True)
    return f"file://{directory}"


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def service_backend_url(database_url: str, schema: str = STATE_SCHEMA) -> str:
    """The postgres:// backend URL for the service: its own database, schema `schema`.

    Pulumi's PostgreSQL backend (Go's lib/pq) reads the same URL as libpq; the schema is chosen
    through `options=-csearch_path=…`, and sslmode defaults to libpq's `prefer` (lib/pq's own default
    would require TLS where psycopg does not).
    """
    if not is_postgres(database_url):
        raise TargetError(
            "the service database URL must be a postgresql:// URL to derive the Pulumi state backend "
            "from it; set PULUMI_BACKEND_URL=postgres://… on every worker instead"
        )
    parts = urlsplit(database_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given_options = " ".join(v for k, v in query if k == "options")
    # lib/pq does not know channel_binding (it would send it to the server as a setting and fail).
    query = [(k, v) for k, v in query if k not in ("options", "channel_binding")]
    if not any(k == "sslmode" for k, _ in query):
        query.append(("sslmode", "prefer"))
    query.append(("options", f"{given_options} -csearch_path={schema}".strip()))
    return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(query, quote_via=quote), ""))


def default_to_service_backend(database_url: str) -> str:
    """In a service process: PULUMI_BACKEND_URL unless set, the service database's own backend."""
    given = settings().pulumi.backend_url
    if given:
        return given
    url = service_backend_url(database_url)
    export({"PULUMI_BACKEND_URL": url})  # the engines this process starts inherit it
    return url


def work_dir() -> Path:
    """Where a worker unpacks uploads: ONECLICK_WORK_DIR, else .state/work."""
    return settings().paths.work_dir


def passphrase_env(target_is_sandbox: bool) -> dict[str, str]:
    """The passphrase variables for a stack; the fixed one only ever for sandbox stacks."""
    pulumi = settings().pulumi
    if pulumi.passphrase_file:
        return {}
    given = pulumi.passphrase.reveal() if pulumi.passphrase else None
    problem = passphrase_problem(target_is_sandbox, given)
    if problem:
        raise TargetError(problem)
    return {"PULUMI_CONFIG_PASSPHRASE": given if given else SANDBOX_PASSPHRASE}


def pulumi_env(target_is_sandbox: bool) -> dict[str, str]:
    url = backend_url()
    env = {
        "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_BACKEND_URL": url,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        # An update's metadata runs `git status` in the project's repository, which would take
        # .git/index.lock to refresh the index (and fail a concurrent `git commit` there).
        "GIT_OPTIONAL_LOCKS": "0",
        **passphrase_env(target_is_sandbox),
    }
    if is_postgres(url):
        # The PostgreSQL backend's listing holds one pooled connection while it asks for another
        # (pool: 2 per CPU); `pulumi stack ls` reading 10 stacks at once then deadlocks for good
        # beyond a few stacks. One at a time needs two connections at most.
        env["PULUMI_DIY_BACKEND_PARALLEL"] = "1"
    return env


def project_dir() -> Path:
    """The Pulumi project directory commands run in: a service worker's own (ONECLICK_PROJECT_DIR,
    automation/worker_project.py), so it writes nothing into the repository; else the repository."""
    return settings().paths.project_dir or REPO_ROOT


def stack_config_path(app_id: str) -> Path:
    return project_dir() / "stacks" / f"Pulumi.{app_id}.yaml"
