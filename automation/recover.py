"""Recovering a stack whose update was killed (SIGKILL, OOM, a lost machine) part way through.

A killed update leaves two things behind: the backend's lock, so every later update fails with
"locked", and *pending operations* in the state: resource operations the engine started but never
saw finish. A pending create is the dangerous one: the resource may exist in the vendor without
being in the state, and the next deploy would create it again (a name conflict, or an orphan).

`recover(app_id)` removes a dead update's lock, then settles every pending operation against the
real resources: a pending create whose vendor id is known from its inputs (Turso database name,
Pages project name, custom domain) is put into the state with that id and read back by a refresh;
the provider's `read` adopts it when it exists and drops it when it does not. Only what provably
belongs to the stack is adopted: a name derived from the app id (`owned_vendor_name`; the service
gives an app id to one user forever), or a custom domain under that Pages project. A pending create
under any other name is dropped with a warning, never adopted: a same-named resource may be another
app's, and adopting it would let this stack's destroy delete it. Pending creates of
resources with nothing remote (generated secrets, BYO checks) or that re-run safely (migrations,
preview import) are dropped; so are pending updates and deletes, whose resources the refresh reads.
The state is exported and imported encrypted: secrets never appear in plaintext on the way.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto
from pulumi.automation import events

from automation.environment import TOOLS_BIN
from automation.operations import EventSink, _ErrorCollector
from automation.pulumi_state import SECRET_SIG, SIG_KEY
from automation.stack_locks import StackLock, stack_locks
from automation.urns import (
    CUSTOM_DOMAIN,
    NEON_PROJECT,
    PAGES_PROJECT,
    TURSO_DATABASE,
    resource_name,
    resource_type,
)
from automation.workspace import DeployError, NoSelectWorkspace, open_stack
from components.spec import owned_vendor_name

# Resource type -> the input that is the provider's resource id (what `read` looks the resource up by).
# Types are read with `resource_type`, which also knows them in a state from before they were named.
ADOPTABLE_IDS: dict[str, str] = {
    TURSO_DATABASE: "name",
    PAGES_PROJECT: "project_name",
    CUSTOM_DOMAIN: "domain",
}
# Resource type -> the input that proves the resource is the stack's own when it holds the name
# derived from the app id: the resource's own name, or for a custom domain the Pages project it sits
# under (its `read` looks the domain up in that project only).
OWNERSHIP_INPUTS: dict[str, str] = {
    TURSO_DATABASE: "name",
    PAGES_PROJECT: "project_name",
    CUSTOM_DOMAIN: "project_name",
}
# Created with an id the vendor picks, so a killed create cannot be found again from the state.
UNFINDABLE = {NEON_PROJECT}


class UpdateStillRunning(DeployError):
    """The lock belongs to an update that may still be running: recovering would corrupt it."""


@dataclass
class RecoveryReport:
    app_id: str
    lock_removed: bool = False
    adopted: list[str] = field(default_factory=list)  # pending creates found in the vendor, now in state
    dropped: list[str] = field(default_factory=list)  # pending creates with nothing (left) in the vendor
    cleared: list[str] = field(default_factory=list)  # pending updates/deletes, re-read by the refresh
    warnings: list[str] = field(default_factory=list)
    refreshed: bool = False

    @property
    def recovered(self) -> bool:
        """Whether there was anything to recover."""
        return self.lock_removed or bool(self.adopted or self.dropped or self.cleared)

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app_id,
            "lockRemoved": self.lock_removed,
            "adopted": self.adopted,
            "dropped": self.dropped,
            "cleared": self.cleared,
            "warnings": self.warnings,
            "refreshed": self.refreshed,
        }


def recover(app_id: str, *, force: bool = False, on_event: EventSink | None = None) -> RecoveryReport:
    """Make APP's stack deployable again after an update of it was killed; safe to call any time.

    Does nothing (and returns a report saying so) when the stack holds no lock and no pending
    operations. Refuses with `UpdateStillRunning` while the lock's owner process still runs on this
    machine. Where the owner cannot be checked (a lock taken on another host, or a backend whose
    locks oneclick cannot read: not the file or PostgreSQL backend) it refuses too unless
    `force=True`: pass it when the caller knows the update is dead, e.g. the deploy service after its
    job queue declared the lock's worker dead (service/recovery.py). Raises `StackNotFound` for an app
    that was never deployed and `DeployError` when the backend or the refresh fails.
    """
    stack = open_stack(app_id, create=False, upgrade=False)  # the next operation upgrades it
    ws = stack.workspace
    assert isinstance(ws, NoSelectWorkspace)
    report = RecoveryReport(app_id)
    report.lock_removed = _remove_dead_lock(stack, force)
    state = _export(ws, app_id)
    deployment = state.get("deployment") or {}
    pending: list[dict[str, Any]] = list(deployment.get("pending_operations") or [])
    if stack_locks(app_id) is None and not force:
        # The lock cannot be seen from here: never rewrite a state an update may still be writing.
        if pending:
            raise UpdateStillRunning(
                f"app {app_id!r} has operations an update left pending, and on this backend recover cannot "
                "tell whether that update still runs; pass --force (force=True) when you know it was killed"
            )
        report.warnings.append(
            "this backend's lock cannot be checked from here: if a deploy still says the app is locked "
            "and you know no update runs, recover again with --force"
        )
        return report
    adopting: list[str] = []
    for operation in pending:
        resource = operation.get("resource") or {}
        urn = str(resource.get("urn", ""))
        if operation.get("type") != "creating":
            report.cleared.append(resource_name(urn))
        elif (candidate := _adoption_candidate(resource)) is not None and _owned(app_id, resource):
            deployment.setdefault("resources", []).append(candidate)
            adopting.append(urn)
        elif candidate is not None:
            report.dropped.append(resource_name(urn))
            report.warnings.append(_not_adopted(app_id, resource))
        else:
            report.dropped.append(resource_name(urn))
            if resource_type(urn) in UNFINDABLE:
                report.warnings.append(
                    f"{resource_name(urn)}: its create was interrupted and the vendor picks its id, so a "
                    f"{resource_type(urn)} named {resource.get('inputs', {}).get('project_name')!r} may "
                    "exist without being in the stack; delete it in the vendor's console if so"
                )
    if pending:
        deployment["pending_operations"] = []
        _import(ws, app_id, state)
    if report.recovered or adopting:
        gone = _refresh(stack, app_id, on_event)
        report.refreshed = True
        for urn in adopting:
            (report.dropped if urn in gone else report.adopted).append(resource_name(urn))
    return report


def _adoption_candidate(resource: dict[str, Any]) -> dict[str, Any] | None:
    """The pending create as a state resource with the id its provider would have given it."""
    urn = str(resource.get("urn", ""))
    id_input = ADOPTABLE_IDS.get(resource_type(urn))
    inputs = resource.get("inputs") or {}
    resource_id = inputs.get(id_input) if id_input else None
    if not isinstance(resource_id, str) or not resource_id:
        return None
    candidate = copy.deepcopy(resource)
    outputs = copy.deepcopy(inputs)
    # Secret outputs the create never returned: empty, but secret, so the value `read` fills in (e.g. a
    # new database token) is stored encrypted like the one the create would have returned.
    for key in resource.get("additionalSecretOutputs") or []:
        outputs.setdefault(key, {SIG_KEY: SECRET_SIG, "plaintext": json.dumps("")})
    candidate.update(id=resource_id, outputs=outputs)
    return candidate


def _owned(app_id: str, resource: dict[str, Any]) -> bool:
    """Whether the pending create's vendor resource provably belongs to app `app_id`'s stack."""
    key = OWNERSHIP_INPUTS.get(resource_type(str(resource.get("urn", ""))))
    value = (resource.get("inputs") or {}).get(key) if key else None
    return isinstance(value, str) and value == owned_vendor_name(app_id)


def _not_adopted(app_id: str, resource: dict[str, Any]) -> str:
    """Why a pending create named by another name was dropped, and what the owner can do."""
    urn = str(resource.get("urn", ""))
    inputs = resource.get("inputs") or {}
    kind = resource_type(urn)
    name = inputs.get(ADOPTABLE_IDS[kind])
    owner_key = OWNERSHIP_INPUTS[kind]
    where = f" of Pages project {inputs.get(owner_key)!r}" if owner_key != ADOPTABLE_IDS[kind] else ""
    return (
        f"{resource_name(urn)}: its create was interrupted; a {kind} named {name!r}{where} may exist, "
        f"but only names derived from the app id ({owned_vendor_name(app_id)!r}) prove a resource is "
        "this app's, so it was not adopted (and this stack will never delete it); if this app made it, "
        "delete it in the vendor's console before deploying again"
    )


def _owner_alive(lock: StackLock) -> bool | None:
    """Whether the update holding `lock` still runs; None where that cannot be told from here."""
    if lock.hostname != socket.gethostname() or lock.pid <= 0:
        return None
    return process_running(lock.pid)


def process_running(pid: int) -> bool:
    """Whether `pid` runs here; a killed process not yet reaped by its parent (a zombie) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _remove_dead_lock(stack: auto.Stack, force: bool) -> bool:
    locks = stack_locks(stack.name)
    if locks is not None and not locks:
        return False
    if locks is None and not force:
        return False  # cannot see the lock: the refresh below says "locked" if there is one
    for lock in locks or []:
        alive = _owner_alive(lock)
        if alive or (alive is None and not force):
            state = "still runs" if alive else "may still run (it cannot be checked from here)"
            raise UpdateStillRunning(
                f"the update holding app {stack.name!r}'s lock ({lock.who}) {state}; wait for it to finish"
                + ("" if alive else ", or pass --force if you know it was killed")
            )
    with contextlib.suppress(auto.CommandError):  # "no update in progress" is fine
        stack.cancel()
    return True


def _pulumi(ws: NoSelectWorkspace, *args: str) -> str:
    env = {**os.environ, **ws.env_vars}
    done = subprocess.run(
        [str(TOOLS_BIN / "pulumi"), "--non-interactive", *args],
        cwd=ws.work_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DeployError(f"`pulumi {' '.join(args[:2])}` failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _export(ws: NoSelectWorkspace, app_id: str) -> dict[str, Any]:
    # Without --show-secrets: secrets stay ciphertext, readable only by the stack's own key.
    state: dict[str, Any] = json.loads(_pulumi(ws, "stack", "export", "--stack", app_id))
    return state


def _import(ws: NoSelectWorkspace, app_id: str, state: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="oneclick-recover-") as directory:
        path = Path(directory) / "state.json"
        path.write_text(json.dumps(state))
        _pulumi(ws, "stack", "import", "--file", str(path), "--stack", app_id)


def _refresh(stack: auto.Stack, app_id: str, on_event: EventSink | None) -> set[str]:
    """Refresh the stack (reading every real resource); the URNs the vendors no longer have."""
    gone: set[str] = set()

    def watch(event: events.EngineEvent) -> None:
        outputs = event.res_outputs_event
        if outputs is not None and outputs.metadata.op.value == "delete":
            gone.add(outputs.metadata.urn)

    collector = _ErrorCollector(watch, on_event)
    try:
        stack.refresh(on_event=collector, color="never", suppress_progress=True)
    except auto.ConcurrentUpdateError:
        raise UpdateStillRunning(
            f"app {app_id!r} is locked by an update whose owner cannot be checked on this backend; "
            "wait for it to finish, or pass --force if you know it was killed"
        ) from None
    except auto.CommandError as exc:
        raise collector.failure("recovery refresh", app_id, exc) from None
    return gone
