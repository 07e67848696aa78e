"""When a retried deploy may take over a Pulumi lock: only the interrupted attempt's own, and only
once the queue worker that ran it stopped beating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from automation.stack_locks import StackLock
from service.recovery import (
    PreviousAttempt,
    UpdateStillRunning,
    attempt_worker,
    queue_worker_of,
    recover_stack,
    taken_by,
    worker_alive,
)

STARTED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
PREVIOUS = PreviousAttempt("worker-a", STARTED)


def lock(host: str, when: datetime | None) -> StackLock:
    return StackLock(".pulumi/locks/organization/oneclick/app/1.json", host, 4242, when)


def test_a_lock_taken_by_the_interrupted_attempt_is_its_own() -> None:
    assert taken_by(lock("worker-a", STARTED + timedelta(seconds=3)), PREVIOUS)
    # Clocks differ a little between hosts.
    assert taken_by(lock("worker-a", STARTED - timedelta(seconds=20)), PREVIOUS)


def test_other_locks_are_not() -> None:
    assert not taken_by(lock("worker-b", STARTED + timedelta(seconds=3)), PREVIOUS)  # another host
    assert not taken_by(lock("worker-a", STARTED - timedelta(hours=1)), PREVIOUS)  # before it began
    assert not taken_by(lock("worker-a", None), PREVIOUS)  # unreadable time
    assert not taken_by(lock("worker-a", STARTED), PreviousAttempt(None, None))


def test_nothing_to_recover_on_a_first_attempt_without_locks() -> None:
    assert recover_stack("never-deployed-app", None) is None
    # A retry of an app that never got a stack has nothing to recover either.
    assert recover_stack("never-deployed-app", PREVIOUS) is None


def test_the_attempt_records_its_queue_worker() -> None:
    assert queue_worker_of(attempt_worker("host-a:77", 15)) == 15
    assert queue_worker_of(attempt_worker("host-a:77", None)) is None
    assert queue_worker_of(None) is None


def test_a_previous_attempt_whose_worker_still_beats_is_never_recovered(service_db: str) -> None:
    with psycopg.connect(service_db, autocommit=True) as conn:
        row = conn.execute("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id").fetchone()
        assert row is not None
        beating = int(row[0])
        row = conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) "
            "VALUES (now() - interval '5 minutes') RETURNING id"
        ).fetchone()
        assert row is not None
        stalled = int(row[0])
        assert worker_alive(conn, beating, stalled_after=30)
        assert not worker_alive(conn, stalled, stalled_after=30)
        assert not worker_alive(conn, 10**9, stalled_after=30)  # pruned: gone

        alive = PreviousAttempt("host-a", STARTED, queue_worker=beating)
        with pytest.raises(UpdateStillRunning, match="still sends heartbeats"):
            recover_stack("never-deployed-app", alive, conn, stalled_after=30)
        dead = PreviousAttempt("host-a", STARTED, queue_worker=stalled)
        assert recover_stack("never-deployed-app", dead, conn, stalled_after=30) is None
