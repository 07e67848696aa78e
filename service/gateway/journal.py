"""A local append-only journal of settled calls, written before the caller gets its answer.

Usage rows reach PostgreSQL in batches, a few dozen milliseconds after the call. A process that dies
in between would lose them; so each settled call is first appended (one write(2), no fsync) to the
current journal segment. The OS keeps the bytes even if the process is killed. The batch writer
seals the segment when it takes a batch and deletes sealed segments once the batch is committed;
at start-up the segments left by a crash are replayed (settling is idempotent, see metering.py).

If the machine itself is lost with its disk, the calls' reservation rows in PostgreSQL are the
backstop: they are settled at their reserved maximum after a time-out.

One journal directory belongs to one process at a time (an exclusive lock guards it).
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import OneclickError


class JournalBusy(OneclickError, RuntimeError):
    """Another gateway process holds this journal directory."""


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise JournalBusy(
                f"another gateway process uses the journal directory {directory}; "
                "give each process its own (ONECLICK_GATEWAY_JOURNAL_DIR or --journal-dir)"
            ) from None
        id_file = directory / "instance-id"
        if not id_file.exists():
            id_file.write_text(uuid.uuid4().hex)
        # Reservations are tagged with this id, so a restarted process recognises its own orphans.
        self.instance_id = id_file.read_text().strip()
        self._sequence = max((self._number(p) for p in self.segments()), default=0)
        self._fd = -1
        self._open_next()

    @staticmethod
    def _number(path: Path) -> int:
        return int(path.stem.split("-")[1])

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob("segment-*.jsonl"), key=self._number)

    def _open_next(self) -> None:
        self._sequence += 1
        self._current = self.directory / f"segment-{self._sequence:010d}.jsonl"
        self._fd = os.open(self._current, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, record: dict[str, Any]) -> bytes:
        """Append one record; returns its line (for `append_lines`)."""
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        os.write(self._fd, line)
        return line

    def append_lines(self, lines: list[bytes]) -> None:
        """Append lines `append` returned, in one write."""
        if lines:
            os.write(self._fd, b"".join(lines))

    def seal(self) -> Path:
        """Close the current segment and start a new one; returns the sealed segment."""
        sealed = self._current
        os.close(self._fd)
        self._open_next()
        return sealed

    @staticmethod
    def discard(segments: list[Path]) -> None:
        for path in segments:
            path.unlink(missing_ok=True)

    def leftovers(self) -> list[Path]:
        """Segments other than the one being written: what a previous process left."""
        return [p for p in self.segments() if p != self._current]

    @staticmethod
    def read(segment: Path) -> Iterator[dict[str, Any]]:
        for line in segment.read_bytes().splitlines():
            try:
                yield json.loads(line)
            except ValueError:
                continue  # a line cut short by the crash: its call was never answered

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        # Drop an empty current segment so a clean stop leaves nothing to replay.
        if self._current.exists() and self._current.stat().st_size == 0:
            self._current.unlink()
        os.close(self._lock_fd)
