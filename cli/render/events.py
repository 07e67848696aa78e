"""Renders Pulumi's engine event stream as one line per resource step."""

from __future__ import annotations

import time
from collections.abc import Callable

from pulumi.automation import events

OP_VERBS = {
    "create": "creating",
    "update": "updating",
    "delete": "deleting",
    "replace": "replacing",
    "create-replacement": "creating replacement",
    "delete-replaced": "deleting replaced",
    "read": "reading",
    "refresh": "refreshing",
    "same": "unchanged",
}


def _short(urn: str) -> str:
    # urn:pulumi:stack::project::type$child::name  ->  child-type name
    parts = urn.split("::")
    return f"{parts[-2].split('$')[-1]} {parts[-1]}" if len(parts) >= 4 else urn


class ProgressPrinter:
    """An `on_event` callback: prints steps with elapsed seconds; skips no-op steps."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.started = time.monotonic()

    def __call__(self, event: events.EngineEvent) -> None:
        elapsed = f"{time.monotonic() - self.started:5.1f}s"
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            if meta.op.value != "same":
                self.write(f"  {elapsed}  {OP_VERBS.get(meta.op.value, meta.op.value)} {_short(meta.urn)}")
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            if meta.op.value != "same":
                self.write(f"  {elapsed}  done {meta.op.value} {_short(meta.urn)}")
        elif event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            self.write(f"  {elapsed}  FAILED {meta.op.value} {_short(meta.urn)}")
        elif event.diagnostic_event is not None and event.diagnostic_event.severity == "error":
            message = event.diagnostic_event.message.strip()
            if message:
                self.write(f"  {elapsed}  error: {message}")
