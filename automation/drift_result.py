"""What a drift check finds: per stack, the resources that changed or are gone and how (the engine's
refresh preview and the in-process check, automation/drift_direct.py, both report in these types)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from automation.operations import SECRET_MASK
from automation.pulumi_state import is_secret
from automation.urns import CUSTOM_DOMAIN, resource_name, resource_type

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
