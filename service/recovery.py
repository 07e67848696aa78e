"""Making an app's stack deployable again after the worker running its update was killed.

A killed `pulumi up` leaves two things behind: the backend's lock on the stack, and "pending
operations" in its state (resources whose create, update or delete was in flight). Before a retried
deploy runs, this module

1. decides whether a lock is stale, and only then removes it. A lock is stale when it was taken on
   this host by a process that no longer runs, or on the host of the previous attempt of this
   very deployment after that attempt started (the job queue re-ran it because that worker stopped
   sending heartbeats, and it alone may run updates of this app). Any other lock belongs to a live
   update (say, an engineer's `pulumi up`): the deploy waits and retries (StackLocked).
2. looks at the real resources behind each pending *create* and undoes the ones the interrupted
   create left behind but never recorded, so the retry creates them afresh instead of colliding
   with (or orphaning) them: a Turso database of that name that no other app claims, a Pages
   project or Neon project made after the interrupted attempt started.
3. refreshes the stack with `--clear-pending-creates`: every recorded resource is read back from
   its vendor (an interrupted update or delete shows its real outcome) and the pending list is
   emptied. The retried deploy then converges, with nothing orphaned.

`oneclick recover` (automation) does the same for an engineer by hand; the service runs this one
automatically, because it knows which attempt was interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pulumi import automation as auto

from automation.environment import backend_url, stack_config_path
from automation.workspace import StackLocked, open_stack
from components.http import VendorError, VendorNotFound

# Clock difference tolerated between the worker hosts and the lock's timestamp.
CLOCK_SKEW = timedelta(seconds=60)
# Pulumi's marker for a secret value in exported state.
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 (a marker, not a secret)

ClaimCheck = Callable[[str, str], bool]  # (provider, database name) -> claimed by another app?


class RecoveryDeferred(RuntimeError):
    """A vendor could not be asked about a leftover right now; the deploy is retried later."""


@dataclass(frozen=True)
class PreviousAttempt:
    """The interrupted attempt: where it ran and since when."""

    host: str | None
    started_at: datetime | None


@dataclass
class RecoveryReport:
    locks_removed: int = 0
    pending: list[str] = field(default_factory=list)  # "creating oneclick:turso:Database kx-db"
    undone: list[str] = field(default_factory=list)  # vendor leftovers deleted
    refreshed: bool = False

    @property
    def acted(self) -> bool:
        return bool(self.locks_removed or self.pending)

    def summary(self) -> str:
        parts = []
        if self.locks_removed:
            parts.append(f"{self.locks_removed} stale lock(s) removed")
        if self.pending:
            parts.append(f"{len(self.pending)} interrupted operation(s) cleared")
        if self.undone:
            parts.append("leftovers deleted: " + ", ".join(self.undone))
        return "; ".join(parts) or "nothing to recover"


@dataclass(frozen=True)
class LockInfo:
    path: Path
    pid: int
    hostname: str
    timestamp: datetime | None


def _lock_dir_files(app_id: str) -> list[Path]:
    url = backend_url()
    if not url.startswith("file://"):
        return []
    root = Path(urlsplit(url).path) / ".pulumi" / "locks"
    return sorted(root.glob(f"*/*/{app_id}/*.json")) + sorted(root.glob(f"{app_id}/*.json"))


def _read_lock(path: Path) -> LockInfo | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    stamp = None
    with contextlib.suppress(KeyError, ValueError, TypeError):
        stamp = datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00")[:32])
    return LockInfo(path, int(data.get("pid", 0)), str(data.get("hostname", "")), stamp)


def _process_runs(pid: int) -> bool:
    """Whether `pid` is a live Pulumi process on this host (a reused pid is not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: assume it is what it was
    return b"pulumi" in command


def lock_is_stale(lock: LockInfo, previous: PreviousAttempt | None, here: str | None = None) -> bool:
    here = here or socket.gethostname()
    if lock.hostname == here:
        return not _process_runs(lock.pid)
    if previous is None or previous.host != lock.hostname or previous.started_at is None:
        return False
    return lock.timestamp is not None and lock.timestamp >= previous.started_at - CLOCK_SKEW


def _release_locks(app_id: str, previous: PreviousAttempt | None, stack: auto.Stack) -> int:
    removed = 0
    if backend_url().startswith("file://"):
        for path in _lock_dir_files(app_id):
            lock = _read_lock(path)
            if lock is None:
                continue
            if not lock_is_stale(lock, previous):
                raise StackLocked(app_id)
            path.unlink(missing_ok=True)
            Path(f"{path}.attrs").unlink(missing_ok=True)
            removed += 1
        return removed
    # Other backends keep the lease themselves; only a crashed attempt of ours may cancel it.
    if previous is not None and previous.started_at is not None:
        with contextlib.suppress(auto.CommandError):
            stack.cancel()
            removed += 1
    return removed


def _plain(value: Any) -> Any:
    """A value from `stack export --show-secrets`, with secret envelopes unwrapped."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270" and "plaintext" in value:
            with contextlib.suppress(ValueError):
                return _plain(json.loads(value["plaintext"]))
            return value["plaintext"]
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _pending_operations(stack: auto.Stack) -> list[dict[str, Any]]:
    workspace = stack.workspace
    assert isinstance(workspace, auto.LocalWorkspace)
    # The SDK's export_stack cannot show secrets, and the leftovers' vendor tokens are secrets.
    result = workspace._run_pulumi_cmd_sync(["stack", "export", "--show-secrets", "--stack", stack.name])
    deployment = json.loads(result.stdout).get("deployment") or {}
    return list(deployment.get("pending_operations") or [])


def _component(urn: str) -> str:
    """The component type a dynamic resource belongs to (`oneclick:turso:Database`), from its URN."""
    parts = urn.split("::")
    chain = parts[2].split("$") if len(parts) >= 4 else []
    return chain[-2] if len(chain) >= 2 else (chain[-1] if chain else "")


def _after(created: str, since: datetime | None) -> bool:
    if since is None or not created:
        return False
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return False
    return when >= since - CLOCK_SKEW


def _undo_create(
    component: str, inputs: dict[str, Any], previous: PreviousAttempt | None, claimed: ClaimCheck
) -> str | None:
    """Delete what an interrupted create of this resource left at its vendor; what was deleted."""
    since = previous.started_at if previous else None
    if component == "oneclick:turso:Database":
        from components.turso.provider import client_for as turso_client

        name = str(inputs.get("name", ""))
        if not name or claimed("turso", name):
            return None
        with turso_client(inputs) as turso:
            try:
                turso.get_database(name)
            except VendorNotFound:
                return None
            turso.delete_database(name)
        return f"Turso database {name}"
    if component == "oneclick:cloudflare:PagesProject":
        from components.cloudflare.pages_provider import client_for as pages_client

        name = str(inputs.get("project_name", ""))
        with pages_client(inputs) as cf:
            try:
                project = cf.get_project(name)
            except VendorNotFound:
                return None
            # One with no deployment is adopted by the provider itself; one deployed since the
            # interrupted attempt started is that attempt's own.
            if project.latest_deployment is None or not _after(project.created_on, since):
                return None
            cf.delete_project(name)
        return f"Pages project {name}"
    if component == "oneclick:neon:Project":
        from components.neon.provider import client_for as neon_client

        name = str(inputs.get("project_name", ""))
        deleted = []
        with neon_client(inputs) as neon:
            for neon_project in neon.list_projects(search=name):
                if neon_project.name == name and _after(neon_project.created_at, since):
                    neon.delete_project(neon_project.id)
                    deleted.append(neon_project.id)
        return f"Neon project(s) {', '.join(deleted)}" if deleted else None
    return None  # schema, preview data, secrets, domains: nothing a retry would collide with


def recover_stack(
    app_id: str,
    previous: PreviousAttempt | None,
    *,
    claimed: ClaimCheck = lambda provider, name: False,
) -> RecoveryReport:
    """Make the app's stack ready for a retried deploy (see the module docstring)."""
    report = RecoveryReport()
    if not stack_config_path(app_id).exists() and not _lock_dir_files(app_id):
        return report  # never deployed from here: nothing can be left over
    try:
        stack = open_stack(app_id, create=False)
    except Exception:  # no stack yet: the deploy creates it
        return report
    report.locks_removed = _release_locks(app_id, previous, stack)
    pending = _pending_operations(stack)
    if not pending:
        return report
    for op in pending:
        resource = op.get("resource") or {}
        urn = str(resource.get("urn", ""))
        report.pending.append(f"{op.get('type')} {urn.rsplit('::', 1)[-1]}")
        if op.get("type") == "creating" and resource.get("custom"):
            inputs = _plain(resource.get("inputs") or {})
            try:
                undone = _undo_create(_component(urn), inputs, previous, claimed)
            except (VendorError, KeyError) as exc:
                raise RecoveryDeferred(
                    f"app {app_id!r}: could not check what an interrupted deploy left behind ({exc}); "
                    "retrying later"
                ) from None
            if undone:
                report.undone.append(undone)
    stack.refresh(clear_pending_creates=True, color="never", suppress_progress=True)
    report.refreshed = True
    return report
