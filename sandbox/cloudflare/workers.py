"""Runs Pages deployments' server halves: one `workerd serve` process per live deployment.

A deployment's process starts when it is deployed (so a worker that throws at start-up fails the
deployment) or on its first request, and stops when the deployment is superseded, rolled back from
or deleted, when it is the least recently used beyond `ONECLICK_SANDBOX_MAX_WORKERS` (each process
takes 100-300 MB), and when the sandbox stops (at exit; `setpriv --pdeathsig` also ends it if the
sandbox is killed). A process that died is started again on the next request; one whose `ping` socket
stops answering after a request timed out (the worker is stuck in a loop: workerd runs every isolate
on one thread) is killed and started again.

Processes are started only from the event loop's thread: the death signal follows the thread that
started the process, and the loop's thread lives as long as the sandbox.

Each deployment's directory `<sandbox>/cloudflare/workers/<deployment id>/` holds the generated
`config.capnp` (modules are embedded from the content store, secrets come from the environment) and
`workerd.log` (the process's output, started afresh on each start).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.settings import settings
from sandbox.cloudflare.state import CloudflareSandbox
from sandbox.cloudflare.workerd_config import (
    DEFAULT_COMPATIBILITY_DATE,
    ModuleFile,
    WorkerPlan,
    render_config,
)
from sandbox.endpoint import REPO_ROOT
from sandbox.store import SandboxStore

START_TIMEOUT = 30.0  # a large bundle (OpenNext + Prisma's wasm) compiles in well under a second
STOP_GRACE = 1.0  # a worker stuck in a loop ignores SIGTERM
PING_TIMEOUT = 1.0
ERROR_LINES = 12


class WorkerStartError(Exception):
    """The worker did not start; the message is workerd's own error lines (script error and line)."""


@dataclass
class RunningWorker:
    plan: WorkerPlan
    process: subprocess.Popen[bytes]
    port: int
    ping_port: int
    started_at: float
    start_seconds: float
    last_used: float = field(default_factory=time.monotonic)
    in_flight: int = 0

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def workerd_binary() -> str:
    """workerd from PATH (scripts/env.sh puts .tools/node's there), else the repository's own copy."""
    found = shutil.which("workerd")
    if found:
        return found
    local = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "workerd"
    if local.exists():
        return str(local)
    raise WorkerStartError("workerd is not installed; run scripts/setup (it installs it under .tools/node)")


def error_lines(log: str) -> str:
    """workerd's report of a failed start, without its own source locations' noise."""
    lines = [line.rstrip() for line in log.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "Uncaught" in line or line.startswith("service ")), 0)
    picked = [line.removeprefix("service main: ") for line in lines[start : start + ERROR_LINES]]
    return "\n".join(picked) or "workerd exited without saying why"


class WorkerPool:
    """The running workerd processes of one sandbox, by deployment id. Thread-safe for stopping;
    `ensure` runs on the event loop."""

    def __init__(self, root: Path, max_running: int = 8, request_timeout: float = 30.0) -> None:
        self.root = root
        self.max_running = max_running
        self.request_timeout = request_timeout
        self._running: dict[str, RunningWorker] = {}
        self._lock = threading.Lock()
        self._starting: dict[str, asyncio.Lock] = {}
        self._client: httpx.AsyncClient | None = None
        atexit.register(self.stop_all)

    @property
    def client(self) -> httpx.AsyncClient:
        """The connection pool to the workers (made on the loop that uses it)."""
        if self._client is None:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
            self._client = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(self.request_timeout))
        return self._client

    # -- starting ------------------------------------------------------------------------------

    async def ensure(self, deployment_id: str, make_plan: Callable[[], WorkerPlan | None]) -> RunningWorker:
        """The running worker of a deployment, started (or restarted after a crash) when needed.
        `make_plan` is called only to start one: a deployment's plan never changes."""
        worker = self.get(deployment_id)
        if worker is not None and worker.alive:
            worker.last_used = time.monotonic()
            return worker
        lock = self._starting.setdefault(deployment_id, asyncio.Lock())
        async with lock:
            worker = self.get(deployment_id)
            if worker is not None and worker.alive:
                return worker
            self.stop(deployment_id)
            plan = make_plan()
            if plan is None:
                raise WorkerStartError("this deployment has no worker, or its project is gone")
            worker = await self._start(plan)
            with self._lock:
                self._running[deployment_id] = worker
            self._evict(keep=deployment_id)
            return worker

    async def _start(self, plan: WorkerPlan) -> RunningWorker:
        directory = self.root / plan.deployment_id
        directory.mkdir(parents=True, exist_ok=True)
        text, secret_env = render_config(plan)
        config = directory / "config.capnp"
        config.write_text(text)
        log_path = directory / "workerd.log"
        binary = workerd_binary()
        read_end, write_end = os.pipe()
        command = [binary, "serve", str(config), "--control-fd", str(write_end)]
        setpriv = shutil.which("setpriv")
        if setpriv:
            command = [setpriv, "--pdeathsig", "KILL", *command]
        # Only what workerd needs from the sandbox's environment (which may hold the sandbox's own
        # secrets, e.g. its PostgreSQL URL), plus the deployment's secret bindings.
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TZ") if key in os.environ}
        env.update(secret_env)
        started = time.monotonic()
        with log_path.open("wb") as log:
            try:
                process = subprocess.Popen(
                    command,
                    cwd=directory,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write_end,),
                )
            finally:
                os.close(write_end)
        try:
            ports = await asyncio.wait_for(self._listening(read_end, sockets=2), START_TIMEOUT)
        except (TimeoutError, EOFError):
            self._kill(process)
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            if not text:
                text = f"workerd did not start within {START_TIMEOUT:.0f}s"
            raise WorkerStartError(error_lines(text)) from None
        finally:
            os.close(read_end)
        return RunningWorker(
            plan=plan,
            process=process,
            port=ports["http"],
            ping_port=ports["ping"],
            started_at=time.time(),
            start_seconds=time.monotonic() - started,
        )

    async def _listening(self, fd: int, sockets: int) -> dict[str, int]:
        """Read workerd's control messages until every socket reports its port; EOF means it exited."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(fd), "rb", buffering=0)
        )
        try:
            ports: dict[str, int] = {}
            while len(ports) < sockets:
                line = await reader.readline()
                if not line:
                    raise EOFError
                try:
                    message: dict[str, Any] = json.loads(line)
                except ValueError:
                    continue  # not one of the control messages this reads
                if isinstance(message, dict) and message.get("event") == "listen":
                    ports[str(message["socket"])] = int(message["port"])
            return ports
        finally:
            transport.close()

    # -- using ---------------------------------------------------------------------------------

    def get(self, deployment_id: str) -> RunningWorker | None:
        with self._lock:
            return self._running.get(deployment_id)

    async def responsive(self, worker: RunningWorker) -> bool:
        try:
            answer = await self.client.get(f"http://127.0.0.1:{worker.ping_port}/", timeout=PING_TIMEOUT)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    async def after_timeout(self, worker: RunningWorker) -> None:
        """A request timed out: if the process no longer answers at all, it is stuck; restart it later."""
        if worker.alive and not await self.responsive(worker):
            with self._lock:
                if self._running.get(worker.plan.deployment_id) is worker:
                    del self._running[worker.plan.deployment_id]
            self._kill(worker.process, grace=0)

    # -- stopping ------------------------------------------------------------------------------

    def stop(self, deployment_id: str) -> None:
        with self._lock:
            worker = self._running.pop(deployment_id, None)
        if worker is not None:
            self._kill(worker.process)

    def forget(self, deployment_id: str) -> None:
        """Stop the worker of a deployment that is gone, and remove its directory."""
        self.stop(deployment_id)
        self._starting.pop(deployment_id, None)
        shutil.rmtree(self.root / deployment_id, ignore_errors=True)

    def stop_except(self, keep: set[str]) -> None:
        """Stop every worker whose deployment is not in `keep` (deleted behind the API's back)."""
        with self._lock:
            gone = [d for d in self._running if d not in keep]
        for deployment_id in gone:
            self.forget(deployment_id)

    def stop_all(self) -> None:
        with self._lock:
            workers = list(self._running.values())
            self._running.clear()
        for worker in workers:
            self._kill(worker.process)

    def running(self) -> list[str]:
        with self._lock:
            return [d for d, w in self._running.items() if w.alive]

    def _evict(self, keep: str) -> None:
        with self._lock:
            idle = sorted(
                (w for d, w in self._running.items() if d != keep and w.in_flight == 0),
                key=lambda w: w.last_used,
            )
            excess = len(self._running) - self.max_running
        for worker in idle[: max(excess, 0)]:
            self.stop(worker.plan.deployment_id)

    @staticmethod
    def _kill(process: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> None:
        if process.poll() is not None:
            return
        if grace > 0:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                pass
        process.kill()
        process.wait()


_POOLS: dict[int, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def worker_pool(store: SandboxStore) -> WorkerPool:
    """The one pool of a store (the API routes and the site server share it)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(id(store))
        if pool is None:
            pool = WorkerPool(
                store.directory / "cloudflare" / "workers",
                max_running=settings().local.sandbox_max_workers,
                request_timeout=settings().local.sandbox_worker_timeout,
            )
            _POOLS[id(store)] = pool
        return pool


def plan_for(cf: CloudflareSandbox, deployment: dict[str, Any]) -> WorkerPlan | None:
    """What runs a deployment's server half (None for a static-only one). Call with `store.lock` held.

    The record holds what the deployment was made with: modules, compatibility settings (the bundle's
    when a wrangler config named them, else the project's `deployment_configs`), env vars; the secret
    values are in the secrets file."""
    worker: dict[str, Any] | None = deployment.get("worker")
    if not worker:
        return None
    config_dir = cf.cloudflare_dir / "workers" / deployment["id"]
    modules = tuple(
        ModuleFile(m["name"], m["kind"], os.path.relpath(cf.module_path(m["sha256"]), config_dir))
        for m in worker["modules"]
    )
    texts = {
        name: var["value"] for name, var in deployment["env_vars"].items() if var["type"] == "plain_text"
    }
    jsons: dict[str, str] = {}
    for binding in worker.get("bindings", []):
        (jsons if binding["type"] == "json" else texts)[binding["name"]] = binding["value"]
    url = cf.deployment_url(deployment["project_name"], deployment["short_id"])
    texts.update(
        CF_PAGES="1",
        CF_PAGES_BRANCH=deployment["branch"],
        CF_PAGES_COMMIT_SHA=deployment.get("commit_hash") or "",
        CF_PAGES_URL=url,
    )
    secrets = cf.secrets.deployment(deployment["id"])
    for name in secrets:
        texts.pop(name, None)
    return WorkerPlan(
        deployment_id=deployment["id"],
        modules=modules,
        compatibility_date=worker.get("compatibility_date") or DEFAULT_COMPATIBILITY_DATE,
        compatibility_flags=tuple(worker.get("compatibility_flags") or ()),
        text_bindings=tuple(sorted(texts.items())),
        json_bindings=tuple(sorted(jsons.items())),
        secret_bindings=tuple(sorted(secrets.items())),
        sandbox_port=cf.store.port,
        assets_host=cf.assets_host(deployment["id"]),
    )
