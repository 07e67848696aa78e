"""Rendering a deploy's steps on a terminal: a live block with a progress bar, or plain lines.

On a TTY the step block is redrawn in place; elsewhere (CI logs, pipes) each state change is one
line, so logs stay readable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from automation.steps import DeployStatus, Step

SYMBOLS = {"pending": "○", "running": "◐", "done": "✓", "failed": "✗", "skipped": "-"}
BAR_WIDTH = 30


def step_line(step: Step) -> str:
    elapsed = f"{step.elapsed():5.1f}s" if step.started is not None else "      "
    line = f"  {SYMBOLS[step.state]} {step.title:<32} {elapsed}"
    return line + (f"\n      └─ {step.detail}" if step.detail else "")


def progress_bar(status: DeployStatus) -> str:
    steps = list(status.steps.values())
    finished = sum(step.state in ("done", "skipped", "failed") for step in steps)
    filled = round(BAR_WIDTH * finished / max(len(steps), 1))
    return f"  {'█' * filled}{'░' * (BAR_WIDTH - filled)} {finished}/{len(steps)} steps"


class StepRenderer:
    """A `DeployStatus.on_change` callback writing to `write` (a stream's write method)."""

    def __init__(self, write: Callable[[str], object], tty: bool) -> None:
        self.write = write
        self.tty = tty
        self._drawn_lines = 0
        self._last: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, status: DeployStatus) -> None:
        with self._lock:
            if self.tty:
                self._redraw(status)
            else:
                self._lines(status)

    def _redraw(self, status: DeployStatus) -> None:
        block = "\n".join([*(step_line(s) for s in status.steps.values()), progress_bar(status)])
        if self._drawn_lines:
            self.write(f"\x1b[{self._drawn_lines}F\x1b[J")  # back to the block's first line, clear below
        self.write(block + "\n")
        self._drawn_lines = block.count("\n") + 1

    def _lines(self, status: DeployStatus) -> None:
        for key, step in status.steps.items():
            seen = (step.state, step.detail)
            if self._last.get(key) != seen and step.state != "pending":
                self._last[key] = seen
                self.write(step_line(step) + "\n")
