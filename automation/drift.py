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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pulumi import automation as auto
from pulumi.automation import events

from automation.fleet import describe_failure
from automation.listed_stacks import open_listed_stack
from automation.operations import SECRET_MASK, _ErrorCollector
from automation.parallel import run_bounded
from automation.pulumi_state import is_secret
from automation.urns import CUSTOM_DOMAIN, resource_name, resource_type
from automation.workspace import DeployError, StackLocked

log = logging.getLogger(__name__)

# Outputs that change without anyone touching the resource: status the vendor moves on its own.
OBSERVED: dict[str, frozenset[str]] = {
    CUSTOM_DOMAIN: frozenset({"status", "verification_status", "ssl_status", "error_message"}),
}
IGNORED = frozenset({"__provider"})  # the pickled provider: code, not cloud state

CheckStatus = Literal["clean", "drift", "error"]
CheckPath = Literal["direct", "engine"]  # read in this process (automation/drift_direct.py) or by the engine


@dataclass(frozen=True)
class PropertyChange:
    path: str  # "env_vars.PUBLIC_MODE"
    old: Any  # as recorded in the stack (None: absent), secrets masked
    new: Any  # as the vendor has it now (None: absent), secrets masked

    def as_dict(self) -> dict[str, Any]:
        return {"property": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class ResourceDrift:
    urn: str
    change: Literal["changed", "deleted"]
    properties: tuple[PropertyChange, ...] = ()

    @property
    def name(self) -> str:
        return resource_name(self.urn)

    @property
    def type(self) -> str:
        return resource_type(self.urn)

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.name,
            "type": self.type,
            "urn": self.urn,
            "change": self.change,
            "properties": [p.as_dict() for p in self.properties],
        }


@dataclass
class StackDrift:
    app_id: str
    status: CheckStatus = "clean"
    resources: list[ResourceDrift] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    via: CheckPath = "engine"

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app_id,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "error": self.error,
            "via": self.via,
            "resources": [r.as_dict() for r in self.resources],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackDrift:
        """Back from `as_dict` (a check run by a worker, its result read from the job queue's database)."""
        resources = [
            ResourceDrift(
                str(r["urn"]),
                r["change"],
                tuple(
                    PropertyChange(str(p["property"]), p.get("old"), p.get("new")) for p in r["properties"]
                ),
            )
            for r in data.get("resources") or []
        ]
        return cls(
            str(data["app"]),
            data["status"],
            resources,
            data.get("error"),
            float(data.get("seconds") or 0),
            data.get("via") or "engine",
        )


def masked(value: Any) -> Any:
    """The value with every secret in it replaced by the mask."""
    if is_secret(value):
        return SECRET_MASK
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


_ABSENT = object()


def _changes(path: str, old: Any, new: Any) -> Iterator[PropertyChange]:
    if is_secret(old) and is_secret(new):
        return  # both masked by the engine: nothing can be said
    if isinstance(old, dict) and isinstance(new, dict) and not (is_secret(old) or is_secret(new)):
        for key in sorted(set(old) | set(new)):
            yield from _changes(f"{path}.{key}", old.get(key, _ABSENT), new.get(key, _ABSENT))
        return
    if old != new:
        yield PropertyChange(
            path,
            None if old is _ABSENT else masked(old),
            None if new is _ABSENT else masked(new),
        )


def property_changes(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[PropertyChange]:
    """What differs between the recorded and the observed outputs of one resource, by dotted path."""
    skip = IGNORED | OBSERVED.get(kind, frozenset())
    found: list[PropertyChange] = []
    for key in sorted(old):  # keys only in `new` were never recorded: not compared
        if key not in skip:
            found.extend(_changes(key, old[key], new.get(key, _ABSENT)))
    return found


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
        from automation import drift_direct  # it imports this module

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
