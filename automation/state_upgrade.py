"""The one-time upgrade of a stack's state to typed dynamic resources (components/legacy_types.py).

A stack deployed before dynamic resources named their own type holds each vendor resource as a
`pulumi-python:dynamic:Resource` alone under a wrapper component (`oneclick:turso:Database`). The
resources alias that identity, so nothing is replaced or updated, but the engine would still list
every wrapper as a delete. So before oneclick runs an operation on such a stack, its state is
rewritten once (`stack export` → `upgrade_deployment` → `stack import`): each wrapper dropped, its
child given the new type, the wrapper's parent and the URN those make, and every reference to either
old URN (parent, dependencies, propertyDependencies, deletedWith, aliases) pointed at the new one.

A state in the current shape is never imported again; on the file and PostgreSQL backends it is
recognised from the checkpoint itself, without a CLI run. A stack with pending operations (a killed
update) is refused: `oneclick recover` settles those first. A locked stack is left alone: the
update holding the lock writes the state, and the operation itself reports the lock.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pulumi import automation as auto

from automation import stack_config
from automation.stack_locks import stack_locks
from automation.state_blobs import blobs_for, read_checkpoint
from components.legacy_types import DYNAMIC, WRAPPED
from core.errors import UserError

# A wrapped child's URN in a checkpoint: `…$oneclick:turso:Database$pulumi-python:dynamic:Resource::name`.
_OLD_SHAPE = re.compile(rb"\$oneclick:[a-z]+:[A-Za-z]+\$pulumi-python:dynamic:Resource::")


class StateUpgradeRefused(UserError):
    """The stack's state cannot be upgraded as it is; nothing was changed."""


def _retyped(wrapper_urn: str, new_type: str) -> str:
    """`urn:pulumi:s::p::A$oneclick:turso:Database::n` -> `urn:pulumi:s::p::A$<new_type>::n`."""
    head, project, chain, name = wrapper_urn.split("::", 3)
    return "::".join((head, project, "$".join([*chain.split("$")[:-1], new_type]), name))


def _unique(urns: list[str]) -> list[str]:
    return list(dict.fromkeys(urns))


def _references(resource: dict[str, Any], rename: dict[str, str]) -> dict[str, Any]:
    """`resource` with every URN it refers to renamed (lists keep their order, without repeats)."""
    out = dict(resource)
    for key in ("parent", "deletedWith"):
        if isinstance(out.get(key), str):
            out[key] = rename.get(out[key], out[key])
    for key in ("dependencies", "aliases"):
        if isinstance(out.get(key), list):
            out[key] = _unique([rename.get(u, u) for u in out[key]])
    if isinstance(out.get("propertyDependencies"), dict):
        out["propertyDependencies"] = {
            prop: _unique([rename.get(u, u) for u in urns])
            for prop, urns in out["propertyDependencies"].items()
        }
    return out


def upgrade_deployment(deployment: dict[str, Any], app_id: str) -> dict[str, Any]:
    """`deployment` (the `deployment` of a `stack export`) in the current shape: a new dict when
    anything changed, `deployment` itself when it was in that shape already."""
    resources: list[dict[str, Any]] = list(deployment.get("resources") or [])
    children: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        if resource.get("parent"):
            children.setdefault(str(resource["parent"]), []).append(resource)
    wrappers: dict[str, dict[str, Any]] = {}  # the wrapped child's URN -> its wrapper
    rename: dict[str, str] = {}
    for wrapper in resources:
        new_type = WRAPPED.get(str(wrapper.get("type")))
        if new_type is None or wrapper.get("custom"):
            continue
        inside = children.get(str(wrapper["urn"]), [])
        if len(inside) != 1 or inside[0].get("type") != DYNAMIC or not inside[0].get("custom"):
            continue  # not the shape written by oneclick: the aliases alone keep it from being replaced
        new_urn = _retyped(str(wrapper["urn"]), new_type)
        wrappers[str(inside[0]["urn"])] = wrapper
        rename[str(inside[0]["urn"])] = new_urn
        rename[str(wrapper["urn"])] = new_urn  # what depended on the wrapper depends on its resource
    if not wrappers:
        return deployment
    if deployment.get("pending_operations"):
        raise StateUpgradeRefused(
            f"app {app_id!r} must have its state upgraded once, but an update was killed part way and "
            "left operations pending in it; nothing was changed",
            field="app",
            fix=f"run `oneclick recover {app_id}` first, then this command again",
        )
    dropped = {str(w["urn"]) for w in wrappers.values()}
    upgraded: list[dict[str, Any]] = []
    for resource in resources:
        urn = str(resource.get("urn"))
        if urn in dropped:
            continue
        owner = wrappers.get(urn)
        if owner is not None:  # the wrapped resource takes its wrapper's place
            resource = {**resource, "urn": rename[urn], "type": WRAPPED[str(owner["type"])]}
            resource.pop("parent", None)
            if owner.get("parent"):
                resource["parent"] = owner["parent"]
        upgraded.append(_references(copy.deepcopy(resource), rename))
    _check_order(upgraded, app_id)
    return {**deployment, "resources": upgraded}


def _check_order(resources: list[dict[str, Any]], app_id: str) -> None:
    """Pulumi needs each resource after its parent and dependencies; refuse rather than import a
    state the engine would reject."""
    seen: set[str] = set()
    for resource in resources:
        refs = [resource.get("parent"), *(resource.get("dependencies") or [])]
        late = [r for r in refs if r and str(r) not in seen]
        if late:
            raise StateUpgradeRefused(
                f"app {app_id!r}: upgrading its state would put {resource.get('urn')} before {late[0]}; "
                "nothing was changed",
                field="app",
                fix="report this with the output of `pulumi stack export` (without --show-secrets)",
            )
        seen.add(str(resource.get("urn")))


def _may_be_old(stack: auto.Stack) -> bool:
    """Whether the stack's checkpoint may hold the old shape: read directly on the file and
    PostgreSQL backends (no CLI run), assumed for any other backend."""
    blobs = blobs_for(stack.workspace.env_vars.get("PULUMI_BACKEND_URL", ""))
    if blobs is None:
        return True
    data = read_checkpoint(blobs, stack_config.project_name(), stack.name)
    return data is not None and _OLD_SHAPE.search(data) is not None


def upgrade_stack(stack: auto.Stack) -> bool:
    """Rewrite the stack's state into the current shape if it is in the old one; True when it was."""
    if not _may_be_old(stack) or stack_locks(stack.name):
        return False
    exported = stack.export_stack()
    deployment = dict(exported.deployment or {})
    upgraded = upgrade_deployment(deployment, stack.name)
    if upgraded is deployment:
        return False
    stack.import_stack(auto.Deployment(version=exported.version, deployment=upgraded))
    return True
