"""Fleet operations as jobs: one job per stack on the deploy queue, results gathered from PostgreSQL.

`oneclick drift --all --jobs` and `oneclick fleet up|refresh|preview --jobs` record a run with one
row per stack and defer one job per stack (with the app's queue lock `app:<id>`, so a fleet job
never runs beside a deploy of the same app). Workers on every host share the run; each writes its
stack's result into the stack's row, which exists once per run, so every stack is covered exactly
once even when a job is retried after its worker died (the retry overwrites the same row). The CLI
waits for the rows and renders the usual report (table, JSON, JUnit) from them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import procrastinate
import psycopg
from procrastinate import JobContext
from psycopg.types.json import Jsonb

from automation import drift, fleet
from automation.workspace import DeployError, StackLocked

FLEET_TASK = "oneclick.fleet"
FleetJobOperation = Literal["drift", "preview", "up", "refresh"]
JOB_OPERATIONS: tuple[FleetJobOperation, ...] = ("drift", "preview", "up", "refresh")


class FleetRunTimeout(DeployError):
    """Not every stack of a fleet run reported in time (are workers running?)."""


def run_stack(operation: FleetJobOperation, app_id: str, refresh: bool = False) -> dict[str, Any]:
    """One stack's part of a fleet run, as the report shows it; never raises (errors are results)."""
    if operation == "drift":
        return drift.check(app_id).as_dict()
    run = fleet.StackRun(app_id, operation, state="running", started=time.monotonic())
    try:
        result = fleet.run_operation(app_id, operation, refresh=refresh)
    except Exception as exc:  # one broken stack never stops the run: its failure is its result
        run.state, run.error, run.locked = "failed", fleet.describe_failure(exc), isinstance(exc, StackLocked)
    else:
        run.state, run.changes = "succeeded", result.changes
    run.finished = time.monotonic()
    return run.as_dict()


def register(queue: procrastinate.App, connection: Callable[[JobContext], Any]) -> None:
    """The fleet task on `queue`; `connection(context)` opens the worker's database connection."""

    @queue.task(name=FLEET_TASK, pass_context=True)
    def fleet_stack(context: JobContext, run_id: str, app_id: str, operation: str, refresh: bool) -> None:
        if operation not in JOB_OPERATIONS:
            raise ValueError(f"unknown fleet operation {operation!r}")
        result = run_stack(operation, app_id, refresh)
        with connection(context) as conn:
            record(conn, run_id, app_id, result, context.worker_name or "")


@dataclass(frozen=True)
class FleetRun:
    id: str
    operation: FleetJobOperation
    app_ids: list[str]


def start_run(
    conn: psycopg.Connection,
    queue: procrastinate.App,
    operation: FleetJobOperation,
    app_ids: Sequence[str],
    lock: Callable[[str], str],
    refresh: bool = False,
) -> FleetRun:
    """Record a run and defer one job per stack (`lock(app_id)` is the app's queue lock)."""
    run_id = str(uuid.uuid4())
    with conn.transaction():
        conn.execute(
            "INSERT INTO fleet_runs (id, operation, refresh) VALUES (%s, %s, %s)",
            [run_id, operation, refresh],
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO fleet_run_stacks (run_id, app_id, position) VALUES (%s, %s, %s)",
                [(run_id, app, i) for i, app in enumerate(app_ids)],
            )
    for app in app_ids:
        job = queue.configure_task(FLEET_TASK, lock=lock(app))
        job_id = job.defer(run_id=run_id, app_id=app, operation=operation, refresh=refresh)
        conn.execute(
            "UPDATE fleet_run_stacks SET job_id = %s WHERE run_id = %s AND app_id = %s", [job_id, run_id, app]
        )
    return FleetRun(run_id, operation, list(app_ids))


def record(conn: psycopg.Connection, run_id: str, app_id: str, result: dict[str, Any], worker: str) -> None:
    conn.execute(
        "UPDATE fleet_run_stacks SET status = 'done', result = %s, worker = %s, attempts = attempts + 1, "
        "finished_at = now() WHERE run_id = %s AND app_id = %s",
        [Jsonb(result), worker, run_id, app_id],
    )


def wait_run(
    conn: psycopg.Connection,
    run: FleetRun,
    timeout: float,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    poll: float = 0.5,
) -> list[dict[str, Any]]:
    """Every stack's result in the order of the run's apps, as they arrive (`on_done` per result)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        rows = conn.execute(
            "SELECT app_id, status, result FROM fleet_run_stacks WHERE run_id = %s ORDER BY position",
            [run.id],
        ).fetchall()
        for app_id, status, result in rows:
            if status == "done" and app_id not in seen:
                seen.add(app_id)
                if on_done is not None:
                    on_done(result if isinstance(result, dict) else json.loads(result))
        if len(seen) == len(run.app_ids):
            return [r[2] if isinstance(r[2], dict) else json.loads(r[2]) for r in rows]
        if time.monotonic() > deadline:
            missing = [r[0] for r in rows if r[0] not in seen]
            raise FleetRunTimeout(
                f"fleet run {run.id}: {len(missing)} stack(s) did not report within {timeout:.0f}s "
                f"({', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}); are workers running "
                "(`oneclick service worker`)? Their results still arrive in fleet_run_stacks"
            )
        time.sleep(poll)
