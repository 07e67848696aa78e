"""The live view of a fleet operation: one line per stack, redrawn on a TTY, plain lines elsewhere.

Like cli/render/steps.py: on a terminal the block is redrawn in place; in CI logs and pipes each
stack's start and end is one line, so logs stay readable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from automation.fleet import FleetResult, StackRun

SYMBOLS = {"pending": "○", "running": "◐", "succeeded": "✓", "failed": "✗"}
BAR_WIDTH = 30
MAX_ROWS = 40  # beyond this the TTY block shows the running and failed stacks only


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def detail(run: StackRun) -> str:
    if run.state == "failed":
        return "locked by another update" if run.locked else _first_line(run.error)
    if run.state == "succeeded":
        counts = ", ".join(f"{n} {op}" for op, n in run.changes.items() if op != "same" and n)
        return counts or "no changes"
    if run.state == "running":
        return f"{run.steps} steps" + (f" · {run.current}" if run.current else "")
    return ""


def run_line(run: StackRun, width: int, live: bool = True) -> str:
    elapsed = f"{run.elapsed():6.1f}s" if run.started is not None else "       "
    what = detail(run) if live or run.state != "running" else "started"
    return f"  {SYMBOLS[run.state]} {run.app_id:<{width}} {run.operation:<8} {elapsed}  {what}".rstrip()


def progress_bar(runs: Sequence[StackRun]) -> str:
    finished = sum(r.state in ("succeeded", "failed") for r in runs)
    filled = round(BAR_WIDTH * finished / max(len(runs), 1))
    return f"  {'█' * filled}{'░' * (BAR_WIDTH - filled)} {finished}/{len(runs)} stacks"


class FleetRenderer:
    """A `run_fleet(on_change=...)` callback writing to `write` (a stream's write method)."""

    def __init__(self, write: Callable[[str], object], tty: bool) -> None:
        self.write = write
        self.tty = tty
        self._drawn_lines = 0
        self._reported: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, runs: Sequence[StackRun]) -> None:
        with self._lock:
            if self.tty:
                self._redraw(runs)
            else:
                self._lines(runs)

    def _redraw(self, runs: Sequence[StackRun]) -> None:
        width = max((len(r.app_id) for r in runs), default=0)
        shown = runs if len(runs) <= MAX_ROWS else [r for r in runs if r.state in ("running", "failed")]
        block = "\n".join([*(run_line(r, width) for r in shown), progress_bar(runs)])
        if self._drawn_lines:
            self.write(f"\x1b[{self._drawn_lines}F\x1b[J")  # back to the block's first line, clear below
        self.write(block + "\n")
        self._drawn_lines = block.count("\n") + 1

    def _lines(self, runs: Sequence[StackRun]) -> None:
        width = max((len(r.app_id) for r in runs), default=0)
        for run in runs:
            if run.state != "pending" and self._reported.get(run.app_id) != run.state:
                self._reported[run.app_id] = run.state
                self.write(run_line(run, width, live=False) + "\n")


def summary(result: FleetResult) -> str:
    lines = [
        f"fleet {result.operation}: {len(result.runs)} stacks in {result.seconds:.1f}s: "
        f"{len(result.succeeded)} succeeded ({len(result.changed)} changed), {len(result.failed)} failed"
    ]
    if result.changed:
        lines.append("  changed: " + ", ".join(r.app_id for r in result.changed))
    for run in result.failed:
        reason = (run.error or "").strip().replace("\n", "\n      ")
        lines.append(f"  failed: {run.app_id}: {reason}")
    return "\n".join(lines) + "\n"
