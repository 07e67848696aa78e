"""When a retried deploy may recover its app's stack: the service's policy over `automation.recover`.

A worker killed mid-deploy leaves the backend's lock on the stack and pending operations in its
state; `automation.recover.recover` removes a dead update's lock and settles the pending operations
against the real resources (adopting what a killed create made, dropping the rest, refreshing).
What it cannot know by itself is whether a lock taken on *another* host belongs to a dead update.
The service can: the job queue re-runs a deployment only after its worker stopped sending
heartbeats, and only the job holding the app's queue lock runs updates of that app. So a lock is
recovered by force when it was taken on the host of this deployment's interrupted attempt, after
that attempt started. Any other lock (an engineer's `pulumi up`, an update still running) makes the
deploy wait and retry.

Recovery runs only when there is something to recover: the previous attempt never finished, or
the stack's lock files exist. A first attempt on a clean stack costs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from automation.environment import backend_url
from automation.recover import RecoveryReport, UpdateStillRunning, recover
from automation.workspace import StackNotFound

# Clock difference tolerated between the worker hosts and a lock's timestamp.
CLOCK_SKEW = timedelta(seconds=60)

__all__ = ["PreviousAttempt", "RecoveryReport", "UpdateStillRunning", "lock_files", "recover_stack"]


@dataclass(frozen=True)
class PreviousAttempt:
    """The interrupted attempt: the host it ran on and when it started."""

    host: str | None
    started_at: datetime | None


@dataclass(frozen=True)
class LockInfo:
    hostname: str
    timestamp: datetime | None


def lock_files(app_id: str) -> list[Path] | None:
    """The stack's lock files on a file backend; None where the backend keeps locks elsewhere."""
    url = backend_url()
    if not url.startswith("file://"):
        return None
    root = Path(urlsplit(url).path) / ".pulumi" / "locks"
    return sorted(p for p in root.glob(f"**/{app_id}/*.json") if p.is_file())


def read_lock(path: Path) -> LockInfo | None:
    try:
        data = json.loads(path.read_text())
        stamp = datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return LockInfo(str(data.get("hostname", "")), stamp)


def taken_by(lock: LockInfo, previous: PreviousAttempt) -> bool:
    """Whether `lock` was taken by the interrupted attempt (its host, after it started)."""
    if previous.host is None or previous.started_at is None or lock.timestamp is None:
        return False
    return lock.hostname == previous.host and lock.timestamp >= previous.started_at - CLOCK_SKEW


def recover_stack(app_id: str, previous: PreviousAttempt | None) -> RecoveryReport | None:
    """Recover the app's stack if an interrupted attempt may have left something; None if not needed.

    Raises UpdateStillRunning when a lock belongs to an update that is (or may be) alive.
    """
    locks = lock_files(app_id)
    if previous is None and not locks:
        return None
    if locks is None:
        force = previous is not None  # the queue declared that attempt dead
    else:
        infos = [read_lock(path) for path in locks]
        force = previous is not None and all(info is not None and taken_by(info, previous) for info in infos)
    try:
        return recover(app_id, force=force)
    except StackNotFound:
        return None  # never deployed: the deploy creates the stack
