"""Fixtures for the deploy service: a migrated database, the API on a free port, worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from automation.environment import service_backend_url
from automation.localpg import LocalPostgres
from components.cloudflare.client import CloudflareClient
from components.turso.client import TursoClient
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, REPO_ROOT, TURSO_ORG, SandboxEndpoint
from service.api import create_app
from service.archives import pack_folder
from service.auth import create_token
from service.store import migrate
from service.vault import Vault, generate_key
from tests.databases import scratch_database
from tests.helpers import STATIC_SITE, free_port, shop_database, wait_for
from tests.helpers import new_app as new_app  # the service tests import it from here

KEY_V1 = generate_key("v1")
# The workers' own secrets passphrase: service stacks never use the fixed sandbox one.
SERVICE_PASSPHRASE = f"service-{uuid.uuid4().hex}"


class ApiServer:
    """uvicorn serving the deploy API in a thread, restartable on the same port."""

    def __init__(self, conninfo: str, vault: Vault, port: int | None = None, **options: Any) -> None:
        self.conninfo, self.vault, self.options = conninfo, vault, options
        self.port = port or free_port()
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ApiServer:
        app = create_app(self.conninfo, self.vault, **self.options)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the deploy API did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=30)
            self.server = self.thread = None


@dataclass
class Workers:
    """`oneclick service worker` processes, each in its own session so a test can kill it whole."""

    conninfo: str
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(
        self,
        log_dir: Path,
        *,
        heartbeat: float = 0.5,
        stalled_after: float = 3.0,
        requeue_after: float = 30.0,
        env: dict[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> subprocess.Popen[bytes]:
        """`wrapper`: a command the worker runs under (a jail of its own, tests/service/jail.py)."""
        log = log_dir / f"worker-{len(self.processes)}.log"
        process = subprocess.Popen(
            [
                *wrapper,
                sys.executable,
                "-c",
                "from cli.main import main; main()",
                "service",
                "worker",
                "--database-url",
                self.conninfo,
                "--heartbeat",
                str(heartbeat),
                "--stalled-after",
                str(stalled_after),
                "--requeue-after",
                str(requeue_after),
            ],
            cwd=REPO_ROOT,
            env={**self.env, **(env or {})},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        self.logs.append(log)
        return process

    def kill_hard(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and everything it started (engine, plugins): a machine lost mid-deploy."""
        for pid in session_pids(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_hard(process)
        self.processes.clear()

    def output(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-4000:] for log in self.logs if log.exists())


def session_pids(session: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == session:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def service_db(local_postgres: LocalPostgres) -> Iterator[str]:
    """A fresh, migrated database for the module's tests, dropped afterwards."""
    with scratch_database(local_postgres.url, "svc") as url:
        migrate(url)
        yield url


@pytest.fixture(scope="module")
def vault() -> Vault:
    return Vault.from_env({"CREDENTIALS_ENCRYPTION_KEY": KEY_V1})


@pytest.fixture(scope="module")
def api(service_db: str, vault: Vault) -> Iterator[ApiServer]:
    server = ApiServer(service_db, vault, poll_seconds=0.05).start()
    yield server
    server.stop()


@pytest.fixture
def workers(service_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workers]:
    # Workers keep Pulumi's state in the service database: the test process looks at it there too.
    monkeypatch.setenv("PULUMI_BACKEND_URL", service_backend_url(service_db))
    env = {
        **os.environ,
        "CREDENTIALS_ENCRYPTION_KEY": KEY_V1,
        "PULUMI_CONFIG_PASSPHRASE": SERVICE_PASSPHRASE,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CREDENTIALS_ENCRYPTION_KEYS", None)
    pool = Workers(service_db, env)
    yield pool
    pool.stop_all()


def make_user(url: str, tier: str = "starter", status: str = "active", **limits: int) -> tuple[str, str]:
    """A user with a subscription and an API token: (user_id, token)."""
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO user_subscriptions (user_id, tier, status, max_deployed_apps, max_custom_domains) "
            "VALUES (%s, %s, %s, %s, %s)",
            [user_id, tier, status, limits.get("max_apps", 0), limits.get("max_domains", 0)],
        )
        return user_id, create_token(conn, user_id, "tests")


FILE_FIELDS = {
    "database": ("prismaSchema", "migrations", "previewData"),
    "web": ("buildDir",),
    "mobile": ("icon",),
    "desktop": ("icon",),
}


class ServiceClient(httpx.Client):
    """An API client that sends specs as a platform does: the local files and folders a spec names
    are uploaded first (POST /api/uploads) and replaced by their `upload:` references. Paths that do
    not exist are sent as they are (so tests can see them refused)."""

    def upload(self, path: Path) -> str:
        content = pack_folder(path) if path.is_dir() else path.read_bytes()
        name = f"{path.name}.tar.gz" if path.is_dir() else path.name
        response = super().post("/api/uploads", params={"name": name}, content=content)
        assert response.status_code == 201, response.text
        reference: str = response.json()["upload"]
        return reference

    def with_uploads(self, spec: Any) -> Any:
        if not isinstance(spec, dict):
            return spec
        out = dict(spec)
        for section, keys in FILE_FIELDS.items():
            node = out.get(section)
            if isinstance(node, dict):
                node = dict(node)
                for key in keys:
                    value = node.get(key)
                    if isinstance(value, str) and value.startswith("/") and Path(value).exists():
                        node[key] = self.upload(Path(value))
                out[section] = node
        if isinstance(out.get("previewData"), str) and Path(out["previewData"]).exists():
            out["previewData"] = self.upload(Path(out["previewData"]))  # POST /api/deploy/migrate-data
        return out

    def post(self, url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if str(url).startswith("/api/deploy/") and "json" in kwargs:
            kwargs["json"] = self.with_uploads(kwargs["json"])
        return super().post(url, *args, **kwargs)


def client(api: ApiServer, token: str | None) -> ServiceClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return ServiceClient(base_url=api.url, headers=headers, timeout=30)


def web_spec(app: str, site: Path | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": app,
        "database": shop_database(),
        "web": {
            "buildDir": str(site or STATIC_SITE),
            "env": {"PUBLIC_MODE": "one"},
            "secretEnv": {"API_KEY": "key-s3cr3t-svc"},
        },
        **extra,
    }


def database_spec(app: str, **extra: Any) -> dict[str, Any]:
    return {"id": app, "database": {"provider": "turso"}, **extra}


def wait_finished(http: httpx.Client, deployment_id: str, timeout: float = 120.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/api/deploy/status/{deployment_id}").json()
        return body if body.get("status") in ("succeeded", "failed") else None

    result = wait_for(done, timeout=timeout, interval=0.2)
    assert result is not None, f"deployment {deployment_id} did not finish in {timeout}s"
    return result


@dataclass
class Deploys:
    """What a deploy test drives: the API, its workers (started when the test says), the service's
    database, and the app ids the test deploys (their stack files are removed afterwards)."""

    api: ApiServer
    workers: Workers
    db: str
    app_ids: list[str]
    logs: Path

    def user(self, tier: str = "starter", **limits: int) -> tuple[str, str]:
        """A user of `tier` (see make_user): (user_id, token)."""
        return make_user(self.db, tier, **limits)

    def client(self, token: str | None) -> ServiceClient:
        return client(self.api, token)

    def new_app(self, prefix: str = "t") -> str:
        return new_app(self.app_ids, prefix)

    def succeeded(self, http: httpx.Client, deployment_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """The finished deployment, which must have succeeded (else the workers' logs say why)."""
        done = wait_finished(http, deployment_id, timeout)
        assert done["status"] == "succeeded", (done, self.workers.output())
        return done

    def start_worker(self, **options: Any) -> subprocess.Popen[bytes]:
        """One more worker process (options as Workers.start), its log beside the test's files."""
        return self.workers.start(self.logs, **options)


@pytest.fixture
def deploys(api: ApiServer, workers: Workers, service_db: str, app_ids: list[str], tmp_path: Path) -> Deploys:
    return Deploys(api, workers, service_db, app_ids, tmp_path)


def sandbox_names(sandbox: SandboxEndpoint, prefix: str) -> tuple[list[str], list[str]]:
    """The sandbox's Turso databases and Pages projects whose names start with `prefix`."""
    with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
        databases = sorted(db.name for db in turso.list_databases() if db.name.startswith(prefix))
    with CloudflareClient(
        sandbox.api_token, CLOUDFLARE_ACCOUNT_ID, base_url=f"{sandbox.url}/client/v4"
    ) as cf:
        projects = sorted(p.name for p in cf.list_projects() if p.name.startswith(prefix))
    return databases, projects
