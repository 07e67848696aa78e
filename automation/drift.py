"""Drift detection: do an app's real resources still match its stack?

Each check is a refresh *preview* (`pulumi refresh --preview-only`): every provider's `read` looks
at the vendor, the engine compares what it sees with the state, and nothing is written. For
oneclick's own stacks (Python dynamic resources only) automation/drift_direct.py does exactly that
in this process, without starting the engine; the engine runs whenever it cannot be sure. The engine
does not compute property diffs for a refresh, so they are computed here from the old and new
state that each resource's outputs event carries, with three rules that keep the report to real
differences:

- a property the state never recorded is not compared (a provider that learned to record more is
  not drift);
- observed status that a vendor moves on its own (a custom domain going from pending to active) is
  not drift: `OBSERVED` lists it per resource type;
- secret values are masked (`[secret]`) and cannot be compared (the engine never shows them), so
  providers expose what is not secret about them (e.g. the names of a site's secret env vars).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from pulumi import automation as auto
from pulumi.automation import events

from automation import drift_direct
from automation.drift_result import (
    PropertyChange,
    ResourceDrift,
    StackDrift,
    masked,
    property_changes,
)
from automation.fleet import describe_failure
from automation.listed_stacks import open_listed_stack
from automation.operations import _ErrorCollector
from automation.parallel import run_bounded
from automation.urns import resource_type
from automation.workspace import DeployError, StackLocked

log = logging.getLogger(__name__)
# The result types live in automation/drift_result.py (the in-process check shares them).
__all__ = [
    "PropertyChange",
    "ResourceDrift",
    "StackDrift",
    "check",
    "check_many",
    "exit_code",
    "masked",
    "property_changes",
]


class DriftCollector:
    """An `on_event` sink that folds a refresh preview's events into drifted resources."""

    def __init__(self) -> None:
        self.resources: dict[str, ResourceDrift] = {}

    def __call__(self, event: events.EngineEvent) -> None:
        outputs = event.res_outputs_event
        if outputs is None:
            return
        meta = outputs.metadata
        op = meta.op.value
        if op == "delete":
            self.resources[meta.urn] = ResourceDrift(meta.urn, "deleted")
        elif op == "update" and meta.old is not None and meta.new is not None:
            kind = resource_type(meta.urn)
            changes = property_changes(kind, meta.old.outputs or {}, meta.new.outputs or {})
            if changes:
                self.resources[meta.urn] = ResourceDrift(meta.urn, "changed", tuple(changes))


def check(app_id: str, engine: bool = False) -> StackDrift:
    """Compare one app's stack with its real resources, writing nothing. Never raises: a stack that
    cannot be checked (missing, locked, unreadable state, vendor down) is an "error" result.

    The providers' reads run in this process when that gives the engine's answer (drift_direct.py:
    no CLI, engine or provider host started); otherwise, or with `engine`, a refresh preview runs them."""
    if not engine:
        try:
            return drift_direct.check(app_id)
        except drift_direct.Unfaithful as exc:
            log.debug("drift check of %s through the engine: %s", app_id, exc)
        except Exception as exc:  # anything unforeseen: the engine's answer is the reference
            log.debug("drift check of %s through the engine: %s", app_id, describe_failure(exc))
    return _check_with_engine(app_id)


def _check_with_engine(app_id: str) -> StackDrift:
    started = time.monotonic()
    result = StackDrift(app_id)
    collector = DriftCollector()
    errors = _ErrorCollector(collector)
    try:
        stack = open_listed_stack(app_id)
        stack.preview_refresh(on_event=errors, color="never", suppress_progress=True)
    except auto.StackNotFoundError:
        result.status, result.error = "error", f"no app {app_id!r} is deployed (no stack of that name)"
    except auto.CommandError as exc:
        failure = errors.failure("drift check", app_id, exc)
        if not (errors.errors or isinstance(failure, StackLocked)):
            failure = DeployError(f"drift check of {app_id!r} failed: {describe_failure(exc)}")
        result.status, result.error = "error", str(failure)
    except Exception as exc:  # one broken stack must never stop the others
        result.status, result.error = "error", describe_failure(exc)
    else:
        result.resources = sorted(collector.resources.values(), key=lambda r: r.urn)
        result.status = "drift" if result.resources else "clean"
    result.seconds = time.monotonic() - started
    return result


def check_many(
    app_ids: Sequence[str],
    parallel: int,
    on_done: Callable[[StackDrift], None] | None = None,
    engine: bool = False,
) -> list[StackDrift]:
    """`check` each app, at most `parallel` at once; results in the order of `app_ids`."""
    return run_bounded(app_ids, lambda app_id: check(app_id, engine), parallel, on_done)


def exit_code(results: Sequence[StackDrift]) -> int:
    """0 no drift, 1 drift found, 2 a check failed (a failed check may hide drift, so it wins)."""
    if any(r.status == "error" for r in results):
        return 2
    return 1 if any(r.status == "drift" for r in results) else 0
