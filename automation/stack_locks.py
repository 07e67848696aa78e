"""A stack's update locks as the DIY backend keeps them, on the file backend or in PostgreSQL.

Pulumi writes one `.pulumi/locks/<org>/<project>/<stack>/<id>.json` per running update, naming the
process that took it (pid, hostname, timestamp). On the file backend these are files on one
machine; on the PostgreSQL backend they are rows every host sees, so whether a lock's update still
runs can be decided anywhere: here from the pid when it was taken on this host, and by the deploy
service from its job queue's worker heartbeats (service/recovery.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from automation.environment import backend_url
from automation.state_blobs import Blobs, blobs_for, lock_keys


@dataclass(frozen=True)
class StackLock:
    key: str
    hostname: str
    pid: int
    timestamp: datetime | None

    @property
    def who(self) -> str:
        when = self.timestamp.isoformat() if self.timestamp else "?"
        return f"pid {self.pid} on {self.hostname or 'an unknown host'} since {when}"


def _parse(key: str, data: bytes | None) -> StackLock:
    """An unreadable lock still counts as a lock (of nobody known)."""
    try:
        owner = json.loads(data or b"")
        stamp = str(owner.get("timestamp") or "")
        timestamp = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
        return StackLock(key, str(owner.get("hostname") or ""), int(owner.get("pid") or 0), timestamp)
    except (ValueError, TypeError, AttributeError):
        return StackLock(key, "", 0, None)


def locks_in(blobs: Blobs, app_id: str) -> list[StackLock]:
    return [_parse(key, blobs.read(key)) for key in lock_keys(blobs, app_id)]


def stack_locks(app_id: str) -> list[StackLock] | None:
    """The app's stack locks in the current backend; None where oneclick cannot read its locks."""
    blobs = blobs_for(backend_url())
    return None if blobs is None else locks_in(blobs, app_id)
