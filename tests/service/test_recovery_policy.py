"""When a retried deploy may take over a Pulumi lock: only the interrupted attempt's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.recovery import LockInfo, PreviousAttempt, recover_stack, taken_by

STARTED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
PREVIOUS = PreviousAttempt("worker-a", STARTED)


def test_a_lock_taken_by_the_interrupted_attempt_is_its_own() -> None:
    assert taken_by(LockInfo("worker-a", STARTED + timedelta(seconds=3)), PREVIOUS)
    # Clocks differ a little between hosts.
    assert taken_by(LockInfo("worker-a", STARTED - timedelta(seconds=20)), PREVIOUS)


def test_other_locks_are_not() -> None:
    assert not taken_by(LockInfo("worker-b", STARTED + timedelta(seconds=3)), PREVIOUS)  # another host
    assert not taken_by(LockInfo("worker-a", STARTED - timedelta(hours=1)), PREVIOUS)  # before it began
    assert not taken_by(LockInfo("worker-a", None), PREVIOUS)  # unreadable time
    assert not taken_by(LockInfo("worker-a", STARTED), PreviousAttempt(None, None))


def test_nothing_to_recover_on_a_first_attempt_without_locks() -> None:
    assert recover_stack("never-deployed-app", None) is None
    # A retry of an app that never got a stack has nothing to recover either.
    assert recover_stack("never-deployed-app", PREVIOUS) is None
