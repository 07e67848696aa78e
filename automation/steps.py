"""The plan's "Deployment Status": named steps with state, elapsed time and a detail line.

Pulumi's engine event stream is folded into these steps (a resource's component type says which
step it belongs to); the health check adds the last one. The CLI renders them, the service stores
and streams them, and both read the same JSON (`DeployStatus.as_dict()`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi.automation import events

from automation import urns

StepState = Literal["pending", "running", "done", "failed", "skipped"]

# Step key -> title, in the order a deploy runs them.
STEP_TITLES: dict[str, str] = {
    "build": "Built",
    "database": "Database provisioned",
    "schema": "Schema migrated",
    "data": "Data imported",
    "site": "Deployed to Cloudflare Pages",
    "domain": "Domain configured",
    "health": "Health checks",
}

# Resource type -> step key.
TYPE_STEPS: dict[str, str] = {
    urns.TURSO_DATABASE: "database",
    urns.NEON_PROJECT: "database",
    urns.BYO_DATABASE: "database",
    urns.DATABASE_SCHEMA: "schema",
    urns.PREVIEW_DATA: "data",
    urns.PAGES_PROJECT: "site",
    urns.CUSTOM_DOMAIN: "domain",
}


@dataclass
class Step:
    key: str
    title: str
    state: StepState = "pending"
    started: float | None = None
    finished: float | None = None
    detail: str = ""
    changes: int = 0

    def elapsed(self, now: float | None = None) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or now or time.monotonic()) - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "state": self.state,
            "elapsedSeconds": round(self.elapsed(), 2),
            "detail": self.detail,
        }


def step_for_urn(urn: str) -> str | None:
    """The step a resource belongs to, from its type (a stack not yet upgraded names it as before:
    `resource_type` reads both; the old wrapper components belong to no step)."""
    return TYPE_STEPS.get(urns.resource_type(urn))


@dataclass
class DeployStatus:
    """Steps of one deploy; thread-safe; `on_change` fires after every change (for renderers)."""

    app_id: str
    steps: dict[str, Step] = field(default_factory=dict)
    on_change: Callable[[DeployStatus], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def for_keys(
        app_id: str, keys: list[str], on_change: Callable[[DeployStatus], None] | None = None
    ) -> DeployStatus:
        steps = {key: Step(key, STEP_TITLES[key]) for key in STEP_TITLES if key in keys}
        return DeployStatus(app_id, steps, on_change)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def start(self, key: str, detail: str = "") -> None:
        with self._lock:
            step = self.steps.get(key)
            if step is None or step.state == "running":
                return
            step.state, step.started, step.detail = "running", time.monotonic(), detail or step.detail
        self._changed()

    def finish(self, key: str, state: StepState = "done", detail: str | None = None) -> None:
        with self._lock:
            step = self.steps.get(key)
            if step is None:
                return
            if step.started is None:
                step.started = time.monotonic()
            step.state, step.finished = state, time.monotonic()
            if detail is not None:
                step.detail = detail
        self._changed()

    def note(self, key: str, detail: str) -> None:
        with self._lock:
            step = self.steps.get(key)
            if step is None:
                return
            step.detail = detail
        self._changed()

    def finish_all(self, failed: bool) -> None:
        """Close every step still open: running ones fail or finish, pending ones are skipped."""
        for key, step in list(self.steps.items()):
            if step.state == "running":
                self.finish(key, "failed" if failed else "done")
            elif step.state == "pending" and key != "health":
                if failed:
                    self.finish(key, "skipped")
                else:
                    self.finish(key, "done", detail=step.detail or "unchanged")

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"app": self.app_id, "steps": [step.as_dict() for step in self.steps.values()]}


class EngineStepTracker:
    """An `on_event` callback that moves steps along as the engine works on their resources."""

    def __init__(self, status: DeployStatus) -> None:
        self.status = status
        self.open: dict[str, set[str]] = {}  # step -> URNs in flight

    def __call__(self, event: events.EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            key = step_for_urn(meta.urn)
            if key is None or meta.op.value in ("same", "read"):
                return
            self.open.setdefault(key, set()).add(meta.urn)
            self.status.start(key)
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            key = step_for_urn(meta.urn)
            if key is None:
                return
            in_flight = self.open.get(key, set())
            in_flight.discard(meta.urn)
            if meta.op.value != "same":
                self.status.steps[key].changes += 1
            if not in_flight and self.status.steps.get(key) and self.status.steps[key].state == "running":
                self.status.finish(key)
        elif event.res_op_failed_event is not None:
            key = step_for_urn(event.res_op_failed_event.metadata.urn)
            if key is not None:
                self.status.finish(key, "failed")
