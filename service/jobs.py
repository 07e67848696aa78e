"""Deploys as durable jobs on procrastinate, a PostgreSQL-backed queue shared by every worker.

- **One app never deploys twice at once.** Each job carries the lock `app:<id>`; the queue never
  starts a job while another with the same lock runs, and starts waiting ones in submission order.
  A second deploy of an app *waits* for the first (it is not coalesced: each request is its own
  deployment with its own spec, status and history).
- **Retries.** A deployment that hit something passing (the stack locked by a live update, a
  vendor that could not be asked about leftovers) is retried with exponential back-off.
- **A worker that dies mid-deploy** stops sending heartbeats. Every worker runs a janitor that
  hands the jobs of workers silent for longer than `stalled_after` seconds back to the queue; the
  retried attempt removes the dead update's Pulumi lock and settles its pending operations against
  the real resources (service/recovery.py over automation/recover.py) before deploying, so it
  converges with nothing orphaned.
- **Nothing lost between request and job.** The API records the deployment, then defers its job;
  should it stop in between, the janitor defers the job of any deployment left queued without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import procrastinate
import psycopg
from procrastinate import JobContext, RetryStrategy

from service import deployments, fleet_jobs
from service.runner import RetryLater, WorkerRuntime, run_deployment

log = logging.getLogger("oneclick.service.jobs")

DEPLOY_TASK = "oneclick.deploy"
MAX_ATTEMPTS = 6  # retries after transient failures and after crashed workers, together
UNQUEUED_AFTER_SECONDS = 30.0


def app_lock(app_id: str) -> str:
    return f"app:{app_id}"


def build_queue(conninfo: str) -> procrastinate.App:
    """The queue with the deploy task registered (the API defers to it, workers run it)."""
    queue = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @queue.task(
        name=DEPLOY_TASK,
        pass_context=True,
        retry=RetryStrategy(max_attempts=MAX_ATTEMPTS, exponential_wait=2, retry_exceptions={RetryLater}),
    )
    def deploy(context: JobContext, deployment_id: str) -> None:
        runtime = (context.additional_context or {})["runtime"]
        assert isinstance(runtime, WorkerRuntime)
        attempts = context.job.attempts or 0
        run_deployment(
            runtime,
            deployment_id,
            final_attempt=attempts + 1 >= MAX_ATTEMPTS,
            queue_worker=context.job.worker_id,
        )

    # Fleet operations (drift, preview, up, refresh) of one stack each, on the same workers.
    fleet_jobs.register(queue, lambda context: _runtime(context).connection())
    return queue


def _runtime(context: JobContext) -> WorkerRuntime:
    runtime = (context.additional_context or {})["runtime"]
    assert isinstance(runtime, WorkerRuntime)
    return runtime


def defer_deployment(queue: procrastinate.App, app_id: str, deployment_id: str) -> int:
    """Queue a recorded deployment; returns the job id."""
    job = queue.configure_task(DEPLOY_TASK, lock=app_lock(app_id))
    return job.defer(deployment_id=deployment_id)


def install_queue_schema(conninfo: str) -> bool:
    """Install procrastinate's tables and functions when they are absent; whether it did.

    Under an advisory lock, so API servers and workers starting together install it once.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('oneclick-queue-schema'))")
        try:
            if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() != (None,):
                return False
            queue = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
            with queue.open():
                queue.schema_manager.apply_schema()
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('oneclick-queue-schema'))")


async def _retry_stalled(queue: procrastinate.App, stalled_after: float) -> None:
    for job in await queue.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        log.warning("job %s (%s) was running on a worker that stopped; retrying it", job.id, job.task_name)
        with contextlib.suppress(Exception):  # another worker's janitor may have been first
            await queue.job_manager.retry_job(job)


def _unqueued(runtime: WorkerRuntime, after: float) -> list[deployments.Deployment]:
    with runtime.connection() as conn:
        return deployments.unqueued(conn, after)


def _set_job(runtime: WorkerRuntime, deployment_id: str, job_id: int) -> None:
    with runtime.connection() as conn:
        deployments.set_job(conn, deployment_id, job_id)


async def _requeue_unqueued(queue: procrastinate.App, runtime: WorkerRuntime, after: float) -> None:
    for deployment in await asyncio.to_thread(_unqueued, runtime, after):
        job = queue.configure_task(DEPLOY_TASK, lock=app_lock(deployment.app_id))
        job_id = await job.defer_async(deployment_id=deployment.id)
        await asyncio.to_thread(_set_job, runtime, deployment.id, job_id)
        log.warning("deployment %s had no job; deferred job %s", deployment.id, job_id)


async def janitor(
    queue: procrastinate.App,
    runtime: WorkerRuntime,
    stalled_after: float,
    requeue_after: float = UNQUEUED_AFTER_SECONDS,
) -> None:
    """Every few seconds: retry the jobs of dead workers, queue deployments that lost their job."""
    interval = max(0.5, min(stalled_after / 2, 15.0))
    while True:
        try:
            await _retry_stalled(queue, stalled_after)
            await _requeue_unqueued(queue, runtime, requeue_after)
        except (psycopg.Error, OSError) as exc:
            log.warning("janitor: %s", exc)
        await asyncio.sleep(interval)


async def run_worker(
    conninfo: str,
    runtime: WorkerRuntime,
    *,
    concurrency: int = 1,
    heartbeat: float = 5.0,
    stalled_after: float = 30.0,
    requeue_after: float = UNQUEUED_AFTER_SECONDS,
    name: str | None = None,
) -> None:
    """Run deploy jobs until SIGINT/SIGTERM (then finish the running ones)."""
    queue = build_queue(conninfo)
    options: dict[str, Any] = {
        "concurrency": concurrency,
        "name": name or f"oneclick-{socket.gethostname()}",
        "additional_context": {"runtime": runtime},
        "update_heartbeat_interval": heartbeat,
        "stalled_worker_timeout": stalled_after,
        "install_signal_handlers": True,
    }
    async with queue.open_async():
        sweeper = asyncio.create_task(
            janitor(queue, runtime, stalled_after, requeue_after), name="oneclick-janitor"
        )
        try:
            await queue.run_worker_async(**options)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
