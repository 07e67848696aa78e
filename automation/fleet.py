"""Fleet operations: preview / up / refresh / destroy over many app stacks at once.

Each stack runs its *recorded* program: the stack config (`oneclick:app`, `oneclick:targets` …)
already holds the app's spec, so nothing is rewritten and `fleet up` re-applies exactly what was
last deployed. At most `parallel` stacks run at once (threads, each driving a Pulumi CLI process);
a failing stack is recorded with its reason and never stops the others. A stack another update
holds surfaces as the typed `StackLocked` error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pulumi import automation as auto
from pulumi.automation import events

from automation import operations
from automation.environment import backend_url
from automation.operations import EventSink, OperationResult, _changes, _ErrorCollector, _op_counts
from automation.parallel import run_bounded
from automation.state_blobs import blobs_for, stack_names
from automation.workspace import DeployError, StackLocked, check_app_id, open_stack
from components.paths import REPO_ROOT

FleetOperation = Literal["preview", "up", "refresh", "destroy"]
OPERATIONS: tuple[FleetOperation, ...] = ("preview", "up", "refresh", "destroy")
StackState = Literal["pending", "running", "succeeded", "failed"]


class NoApps(DeployError):
    """Nothing to operate on: no app named and none deployed (or `--all` combined with names)."""


@dataclass
class StackRun:
    """One stack's part in a fleet operation, updated live while it runs."""

    app_id: str
    operation: str
    state: StackState = "pending"
    started: float | None = None
    finished: float | None = None
    changes: dict[str, int] = field(default_factory=dict)
    steps: int = 0  # resource steps the engine finished so far
    current: str = ""  # the resource the engine works on now
    error: str | None = None
    locked: bool = False

    @property
    def changed(self) -> bool:
        return any(n for op, n in self.changes.items() if op not in ("same", "read"))

    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app_id,
            "operation": self.operation,
            "state": self.state,
            "changed": self.changed,
            "changes": self.changes,
            "seconds": round(self.elapsed(), 2),
            "error": self.error,
            "locked": self.locked,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackRun:
        """Back from `as_dict` (a run done by a worker, its result read from the job queue's database)."""
        return cls(
            str(data["app"]),
            str(data["operation"]),
            data["state"],
            started=0.0,
            finished=float(data.get("seconds") or 0),
            changes=dict(data.get("changes") or {}),
            error=data.get("error"),
            locked=bool(data.get("locked")),
        )


@dataclass
class FleetResult:
    operation: str
    runs: list[StackRun]
    seconds: float

    @property
    def failed(self) -> list[StackRun]:
        return [r for r in self.runs if r.state == "failed"]

    @property
    def changed(self) -> list[StackRun]:
        return [r for r in self.runs if r.state == "succeeded" and r.changed]

    @property
    def succeeded(self) -> list[StackRun]:
        return [r for r in self.runs if r.state == "succeeded"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "seconds": round(self.seconds, 2),
            "summary": {
                "stacks": len(self.runs),
                "succeeded": len(self.succeeded),
                "changed": len(self.changed),
                "failed": len(self.failed),
            },
            "stacks": [r.as_dict() for r in self.runs],
        }


def project_name() -> str:
    return str(yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["name"])


def _backend_stacks() -> list[str] | None:
    """Stack names read from the backend's own layout (file or PostgreSQL); None for other backends."""
    blobs = blobs_for(backend_url())
    return None if blobs is None else stack_names(blobs, project_name())


def all_app_ids() -> list[str]:
    """Every app stack in the backend. `pulumi stack ls` fails as a whole when one stack's state is
    unreadable; on a file or PostgreSQL backend the stacks are then listed from its layout, so that the broken
    one is reported as failing while the others are still operated on."""
    try:
        return [a.app_id for a in operations.list_apps()]
    except auto.CommandError as exc:
        names = _backend_stacks()
        if names is None:
            raise DeployError(f"cannot list the stacks: {describe_failure(exc)}") from None
        return names


def select_apps(app_ids: Iterable[str], every: bool) -> list[str]:
    """The apps named, or with `every` all deployed ones; each id checked, duplicates dropped."""
    named = list(dict.fromkeys(app_ids))
    if every and named:
        raise NoApps("name apps or pass --all, not both")
    chosen = all_app_ids() if every else named
    if not chosen:
        raise NoApps("no apps deployed" if every else "no apps given: name them (APP ...) or pass --all")
    for app_id in chosen:
        check_app_id(app_id)
    return chosen


def describe_failure(exc: BaseException) -> str:
    """One readable reason: the engine's error lines rather than the whole CLI transcript."""
    text = str(exc).strip()
    if "stderr:" in text:
        stderr = text.split("stderr:", 1)[1]
        lines = [line.strip() for line in stderr.splitlines() if line.strip().startswith("error:")]
        if lines:
            return "\n".join(dict.fromkeys(lines))[-2000:]
    return text[-2000:] if isinstance(exc, DeployError) else f"{type(exc).__name__}: {text[-2000:]}"


def run_operation(
    app_id: str, operation: FleetOperation, *, on_event: EventSink | None = None, refresh: bool = False
) -> OperationResult:
    """One stack's operation on its recorded program. `refresh` (up and preview) reads the real
    resources first, so that changes made behind Pulumi's back are seen and undone."""
    if operation == "refresh":
        return operations.refresh(app_id, on_event=on_event)
    if operation == "destroy":
        return operations.destroy(app_id, on_event=on_event)
    started = time.monotonic()
    stack = open_stack(app_id, create=False)
    collector = _ErrorCollector(on_event)
    try:
        if operation == "preview":
            previewed = stack.preview(
                on_event=collector, refresh=refresh, color="never", suppress_progress=True
            )
            changes = _op_counts(previewed.change_summary)
        else:
            done = stack.up(on_event=collector, refresh=refresh, color="never", suppress_progress=True)
            changes = _changes(done.summary)
    except auto.CommandError as exc:
        raise collector.failure(operation, app_id, exc) from None
    return OperationResult(app_id, operation, {}, changes, time.monotonic() - started)


class _Tracker:
    """Folds one stack's engine events into its StackRun for the live view."""

    def __init__(self, run: StackRun, notify: Callable[[StackRun], None]) -> None:
        self.run = run
        self.notify = notify

    def __call__(self, event: events.EngineEvent) -> None:
        if event.resource_pre_event is not None:
            self.run.current = event.resource_pre_event.metadata.urn.split("::")[-1]
        elif event.res_outputs_event is not None:
            self.run.steps += 1
        else:
            return
        self.notify(self.run)


def run_fleet(
    operation: FleetOperation,
    app_ids: Sequence[str],
    *,
    parallel: int = 4,
    on_change: Callable[[Sequence[StackRun]], None] | None = None,
    refresh: bool = False,
) -> FleetResult:
    """Run `operation` on every app, at most `parallel` at once; never stops at a failure."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown fleet operation {operation!r}; use one of {', '.join(OPERATIONS)}")
    started = time.monotonic()
    runs = [StackRun(app_id, operation) for app_id in app_ids]
    lock = threading.Lock()

    def changed(_run: StackRun) -> None:
        if on_change is not None:
            with lock:
                on_change(runs)

    def one(run: StackRun) -> StackRun:
        run.state, run.started = "running", time.monotonic()
        changed(run)
        try:
            result = run_operation(run.app_id, operation, on_event=_Tracker(run, changed), refresh=refresh)
        except Exception as exc:  # recorded with its reason: one stack never stops the others
            run.state, run.error = "failed", describe_failure(exc)
            run.locked = isinstance(exc, StackLocked)
        else:
            run.state, run.changes = "succeeded", result.changes
        run.finished, run.current = time.monotonic(), ""
        changed(run)
        return run

    run_bounded(runs, one, parallel)
    return FleetResult(operation, runs, time.monotonic() - started)
