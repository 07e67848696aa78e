"""When a retried deploy may recover its app's stack: the service's policy over `automation.recover`.

A worker killed mid-deploy leaves the backend's lock on the stack and pending operations in its
state; `automation.recover.recover` removes a dead update's lock and settles the pending operations
against the real resources (adopting what a killed create made, dropping the rest, refreshing).
What it cannot know by itself is whether a lock taken on *another* host belongs to a dead update.
The service decides it from what PostgreSQL knows, never from a local PID:

- the lock was taken by this deployment's interrupted attempt: on that attempt's host, after it
  started (only the job holding the app's queue lock `app:<id>` runs updates of that app);
- and that attempt's queue worker is gone: its row in `procrastinate_workers` was pruned, or its
  heartbeat is older than the worker's `stalled_after`. A worker still beating is alive, whatever
  the queue did with its job, and its lock is never taken.

Any other lock (an engineer's `pulumi up`, an update still running) makes the deploy wait and retry.
Recovery runs only when there is something to recover: the previous attempt never finished, or the
stack holds locks. A first attempt on a clean stack costs one look at the locks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from automation.recover import RecoveryReport, UpdateStillRunning, recover
from automation.stack_locks import StackLock, stack_locks
from automation.workspace import StackNotFound

# Clock difference tolerated between the worker hosts and a lock's timestamp.
CLOCK_SKEW = timedelta(seconds=60)
# How an attempt's worker is recorded: "<host>:<pid>" and, when run by the queue, "/w<queue worker id>".
_QUEUE_WORKER = re.compile(r"/w(\d+)$")

__all__ = [
    "PreviousAttempt",
    "RecoveryReport",
    "UpdateStillRunning",
    "attempt_worker",
    "recover_stack",
    "stack_locks",
]


@dataclass(frozen=True)
class PreviousAttempt:
    """The interrupted attempt: the host it ran on, when it started, and its queue worker."""

    host: str | None
    started_at: datetime | None
    queue_worker: int | None = None


def attempt_worker(worker: str, queue_worker: int | None) -> str:
    """What a deployment records as its attempt's worker."""
    return worker if queue_worker is None else f"{worker}/w{queue_worker}"


def queue_worker_of(recorded: str | None) -> int | None:
    found = _QUEUE_WORKER.search(recorded or "")
    return int(found.group(1)) if found else None


def taken_by(lock: StackLock, previous: PreviousAttempt) -> bool:
    """Whether `lock` was taken by the interrupted attempt (its host, after it started)."""
    if previous.host is None or previous.started_at is None or lock.timestamp is None:
        return False
    return lock.hostname == previous.host and lock.timestamp >= previous.started_at - CLOCK_SKEW


def worker_alive(conn: psycopg.Connection, queue_worker: int, stalled_after: float) -> bool:
    """Whether the queue worker still sends heartbeats (its row is pruned once it stalled)."""
    row = conn.execute(
        "SELECT now() - last_heartbeat < make_interval(secs => %s) FROM procrastinate_workers WHERE id = %s",
        [stalled_after, queue_worker],
    ).fetchone()
    return bool(row and row[0])


def recover_stack(
    app_id: str,
    previous: PreviousAttempt | None,
    conn: psycopg.Connection | None = None,
    stalled_after: float = 30.0,
) -> RecoveryReport | None:
    """Recover the app's stack if an interrupted attempt may have left something; None if not needed.

    Raises UpdateStillRunning when a lock belongs to an update that is (or may be) alive.
    """
    locks = stack_locks(app_id)
    if previous is None and not locks:
        return None
    beating = (
        previous is not None
        and previous.queue_worker is not None
        and conn is not None
        and worker_alive(conn, previous.queue_worker, stalled_after)
    )
    if previous is not None and beating:
        raise UpdateStillRunning(
            f"app {app_id!r}: the worker of the previous attempt (queue worker {previous.queue_worker} "
            f"on {previous.host}) still sends heartbeats; its update may still run, so this one waits"
        )
    if locks is None:
        force = previous is not None  # the queue declared that attempt dead
    else:
        force = previous is not None and all(taken_by(lock, previous) for lock in locks)
    try:
        return recover(app_id, force=force)
    except StackNotFound:
        return None  # never deployed: the deploy creates the stack
