"""Running one recorded deployment on a worker: recover, deploy (or destroy), record the outcome.

Progress goes to the database as it happens (steps, events, the app's status), so any API server
can show it and a restart of either side loses nothing. Outcomes are sorted in three:

- success: the deployment `succeeded`, the app `active` with its URL and encrypted database URL;
- worth retrying (the stack is locked by an update that is, or may be, alive): the deployment
  goes back to `queued` and the job queue runs it again later;
- anything else (a failed update, an unhealthy app, a bad spec): `failed`, with the error.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from automation import operations
from automation.steps import DeployStatus
from automation.workspace import DeployError, StackLocked, StackNotFound
from components.commands import CommandError
from components.desktop.tauri_build import DesktopBuildError
from components.errors import SpecError
from components.targets import TargetError
from core.errors import OneclickError, UserError
from core.http import VendorError
from service import deployments, vendor_names
from service.deployments import Deployment
from service.isolation import DeployLimits, Outcome, run_isolated
from service.native_builds import run_native_build
from service.recovery import (
    PreviousAttempt,
    UpdateStillRunning,
    attempt_worker,
    queue_worker_of,
    recover_stack,
)
from service.uploads import materialize_spec
from service.vault import DecryptionError, Vault

log = logging.getLogger("oneclick.service.runner")

RETRYABLE: tuple[type[Exception], ...] = (StackLocked, UpdateStillRunning)
PERMANENT: tuple[type[Exception], ...] = (
    DeployError,
    SpecError,
    TargetError,
    VendorError,
    DecryptionError,
    # A native build: a credential or icon the user must fix, a failed compiler or vendor command.
    UserError,
    DesktopBuildError,
    CommandError,
)


class RetryLater(OneclickError):
    """Raised to the job queue so it runs the deployment again (with back-off)."""


class DeploymentFailed(OneclickError):
    """Raised to the job queue for a deployment that failed for good (recorded already)."""


@dataclass
class WorkerRuntime:
    """What a worker's jobs share: the database pool, the vault, and who this worker is."""

    pool: ConnectionPool
    vault: Vault
    # Where each deploy's child process finds the database, and the limits it runs under.
    conninfo: str = ""
    limits: DeployLimits = field(default_factory=DeployLimits.from_env)
    host: str = field(default_factory=socket.gethostname)
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # After this long without a heartbeat the job queue counts a worker as dead (service/recovery.py).
    stalled_after: float = 30.0

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            yield conn


class StepRecorder:
    """`DeployStatus.on_change` -> deployment_steps + one event per change, on one connection."""

    def __init__(self, conn: psycopg.Connection, deployment: Deployment) -> None:
        self.conn = conn
        self.deployment = deployment
        self.lock = threading.Lock()
        self.deploying = False

    def __call__(self, status: DeployStatus) -> None:
        steps = status.as_dict()["steps"]
        with self.lock:
            deployments.record_steps(self.conn, self.deployment.id, steps)
            site = next((s for s in steps if s["key"] == "site"), None)
            if not self.deploying and site is not None and site["state"] != "pending":
                self.deploying = True
                deployments.set_app_status(self.conn, self.deployment.app_id, "deploying")

    def single(self, key: str, title: str, state: str, detail: str = "") -> None:
        step = {"key": key, "title": title, "state": state, "elapsedSeconds": 0.0, "detail": detail}
        with self.lock:
            deployments.record_steps(self.conn, self.deployment.id, [step])


def _database_url(app_id: str, outputs: dict[str, Any]) -> str:
    url = outputs.get("databaseUrl")
    if url is None or url == operations.SECRET_MASK:
        url = operations.outputs(app_id, show_secrets=True).get("databaseUrl")
    return str(url or "")


def deploy_recorded(runtime: WorkerRuntime, conn: psycopg.Connection, deployment: Deployment) -> None:
    """The deploy (or destroy) itself; runs in the confined child process (service/deploy_process.py)."""
    recorder = StepRecorder(conn, deployment)
    if deployment.kind == "destroy":
        recorder.single("destroy", "Resources deleted", "running")
        try:
            result = operations.destroy(deployment.app_id)
        except StackNotFound:
            result = operations.OperationResult(deployment.app_id, "destroy")
        recorder.single("destroy", "Resources deleted", "done", f"{result.changed} resource(s) deleted")
        deployments.app_destroyed(conn, deployment.app_id)
        deployments.finish(conn, deployment, ok=True, changes=result.changes)
        return
    # The tenant's files arrive as uploads, unpacked here; nothing else on this host is read.
    spec = materialize_spec(conn, deployment.user_id, deployment.app_spec(runtime.vault, uploads=True))
    if (refused := vendor_names.spec_error(spec)) is not None:
        raise refused  # recorded before names had to follow the app id: never deploy it
    if deployment.kind in deployments.NATIVE_KINDS:
        run_native_build(conn, runtime.vault, deployment, spec)
        return
    # The service builds native apps only when asked (POST /api/deploy/desktop|ios|android): a web
    # deploy stays a web deploy, however long a Tauri or mobile build would take.
    spec = spec.model_copy(update={"mobile": None, "desktop": None})
    # Refreshed first, so a resource deleted or changed behind the stack's back is healed.
    try:
        result = operations.deploy(spec, on_status=recorder, refresh=True)
    except DeployError:
        if spec.web is not None:
            _withdraw_failed_site(conn, deployment)
        raise
    database_url = _database_url(spec.id, result.outputs)
    deployments.app_deployed(conn, runtime.vault, deployment, result.outputs, database_url)
    deployments.finish(conn, deployment, ok=True, outputs=result.outputs, changes=result.changes)


def _withdraw_failed_site(conn: psycopg.Connection, deployment: Deployment) -> None:
    """A failed deploy leaves nothing public: the last good deployment is served again, or the site
    is withdrawn when there is none (the next successful deploy puts it back)."""
    row = conn.execute(
        "SELECT outputs->>'deploymentId' FROM deployments WHERE app_id = %s AND status = 'succeeded' "
        "AND kind <> 'destroy' AND outputs ? 'deploymentId' ORDER BY finished_at DESC LIMIT 1",
        [deployment.app_id],
    ).fetchone()
    try:
        done = operations.withdraw_site(deployment.app_id, row[0] if row else None)
    except (DeployError, VendorError, TargetError) as exc:
        log.error("deployment %s: could not withdraw the failed site: %s", deployment.id, exc)
        done = "the failed site could not be withdrawn; the operator is told in the worker's log"
    deployments.add_event(conn, deployment.id, "withdrawn", {"site": done})


def _run_child(runtime: WorkerRuntime, deployment: Deployment) -> Outcome:
    env = {**os.environ, "ONECLICK_SERVICE_DATABASE_URL": runtime.conninfo}
    return run_isolated(deployment.id, runtime.limits, env)


def classify(exc: BaseException) -> Outcome:
    """How a deploy's exception is recorded: retried, failed with its message, or an internal error."""
    if isinstance(exc, RETRYABLE):
        return Outcome("retry", str(exc))
    if isinstance(exc, PERMANENT):
        return Outcome("failed", str(exc))
    if isinstance(exc, MemoryError):
        return Outcome("failed", "the deploy used more memory than its limit allows and was stopped")
    # Not the user's doing: recorded without details that could hold secrets.
    return Outcome("internal", f"internal error ({type(exc).__name__})")


def run_deployment(
    runtime: WorkerRuntime, deployment_id: str, *, final_attempt: bool, queue_worker: int | None = None
) -> None:
    """One attempt at a recorded deployment (see the module docstring for the outcomes)."""
    with runtime.connection() as conn:
        recorded = deployments.get(conn, deployment_id)
        if recorded is not None and recorded.status in deployments.TERMINAL:
            # Its worker died after recording the outcome but before the queue heard of it.
            log.info("deployment %s already %s; nothing to do", deployment_id, recorded.status)
            return
        worker = attempt_worker(runtime.worker, queue_worker)
        before = deployments.start_attempt(conn, deployment_id, worker, runtime.host)
        current = deployments.get(conn, deployment_id)
        assert current is not None
        # An attempt that is still `running` in the record never finished: its worker died, and
        # may have left the stack locked with operations pending.
        interrupted = before.status == "running" and before.attempts > 0
        previous = (
            PreviousAttempt(before.worker_host, before.attempt_started_at, queue_worker_of(before.worker))
            if interrupted
            else None
        )
        try:
            report = recover_stack(current.app_id, previous, conn, runtime.stalled_after)
            if report is not None and report.recovered:
                log.warning(
                    "deployment %s of %s recovered: %s", deployment_id, current.app_id, report.as_dict()
                )
                deployments.add_event(conn, deployment_id, "recovered", report.as_dict())
            outcome = _run_child(runtime, current)
            if outcome.kind == "retry":
                raise UpdateStillRunning(outcome.error or "the stack is busy")
        except RETRYABLE as exc:
            if final_attempt:
                deployments.finish(conn, current, ok=False, error=str(exc))
                raise DeploymentFailed(str(exc)) from None
            deployments.requeue(conn, deployment_id, str(exc))
            raise RetryLater(str(exc)) from None
        except PERMANENT as exc:
            deployments.finish(conn, current, ok=False, error=str(exc))
            raise DeploymentFailed(str(exc)) from None
        except Exception as exc:
            # Not the user's doing: recorded without details that could hold secrets.
            log.exception("deployment %s failed unexpectedly", deployment_id)
            deployments.finish(conn, current, ok=False, error=f"internal error ({type(exc).__name__})")
            raise
        if outcome.kind in ("failed", "internal"):
            error = outcome.error or "internal error"
            deployments.finish(conn, current, ok=False, error=error)
            raise DeploymentFailed(error)
