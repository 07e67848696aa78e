"""One build step as a child process: its output streamed line by line, a deadline, and on failure
the lines that say why.

Lines are read on a helper thread but handed to `on_line` on the caller's thread, so a progress
callback need not be thread-safe. At the deadline the step's whole process group is killed (npm and
Next start grandchildren).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from webbuild.errors import BuildFailed

# Escape sequences (colours, cursor moves) that tools print even when not on a terminal.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
_ERROR_LINE = re.compile(r"error|failed|✗|\u2a2f|cannot|unexpected|not found", re.IGNORECASE)
# A JavaScript stack frame, and one inside a tool rather than the app's code.
_FRAME = re.compile(r"^\s+at \S")
_TOOL_FRAME = re.compile(r"node_modules/|\(node:|node:internal")
TAIL_LINES = 200  # kept per step, to find the error lines in
SHOWN_LINES = 30  # at most this many of them in BuildFailed


def clean(line: str) -> str:
    return _ANSI.sub("", line).rstrip()


def error_lines(tail: Sequence[str]) -> list[str]:
    """The part of a failed step's output that explains it: from its first error-looking line among
    the last ones, else simply the last lines. A tool's own crash report after the app's error (a
    Node stack through node_modules, as OpenNext prints when `next build` fails) is left out."""
    lines = [line for line in tail if line.strip()]
    crash = next((i for i, line in enumerate(lines) if line.startswith("node:internal/")), None)
    if crash is not None and any(_ERROR_LINE.search(line) for line in lines[:crash]):
        lines = lines[:crash]
    lines = [line for line in lines if not (_FRAME.match(line) and _TOOL_FRAME.search(line))]
    window = lines[-SHOWN_LINES * 2 :]
    for index, line in enumerate(window):
        if _ERROR_LINE.search(line):
            return window[index : index + SHOWN_LINES]
    return lines[-SHOWN_LINES:]


def run_step(
    name: str,
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    deadline: float,
    on_line: Callable[[str], None] | None,
) -> None:
    """Run `command`; BuildFailed names the step and shows its error lines if it fails or runs past
    `deadline` (a `time.monotonic()` value)."""
    started = time.monotonic()
    if on_line:
        on_line(f"> {name}")
    try:
        child = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise BuildFailed(f"{name}: could not start {command[0]}: {exc.strerror}") from None
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert child.stdout is not None
        for raw in child.stdout:
            lines.put(clean(raw))
        lines.put(None)

    threading.Thread(target=read, name=f"webbuild {name}", daemon=True).start()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            _kill(child)
            limit = round(deadline - started)
            raise BuildFailed(
                f"{name} did not finish in {limit} s; its last lines:\n"
                + "\n".join(list(tail)[-SHOWN_LINES:]),
                fix="make the build faster or raise the build timeout",
            ) from None
        if line is None:
            break
        tail.append(line)
        if on_line:
            on_line(line)
    code = child.wait()
    if code != 0:
        raise BuildFailed(f"{name} failed (exit {code}):\n" + "\n".join(error_lines(tail)))
    if on_line:
        on_line(f"> {name}: done in {time.monotonic() - started:.1f} s")


def _kill(child: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
