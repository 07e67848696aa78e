"""deploy / preview / refresh / destroy / status / list / rollback for app stacks (Automation API).

The Automation API runs the project program on disk (Pulumi.yaml at the repository root), so a
platform deploy and an engineer's `pulumi up -s <app>` execute the very same code. Everything here
is safe to call from many threads at once for different apps (see automation/workspace.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto
from pulumi.automation import events

from automation.health import HealthReport, check_health
from automation.stack_secrets import StackCrypter, write_config
from automation.steps import DeployStatus, EngineStepTracker
from automation.workspace import (
    DeployError,
    StackLocked,
    StackNotFound,
    check_app_id,
    open_stack,
    workspace,
)
from components.cloudflare.client import CloudflareClient
from components.spec import AppSpec
from components.targets import Targets, resolve_targets, vendors_for
from core.http import VendorError

EventSink = Callable[[events.EngineEvent], None]
StatusSink = Callable[[DeployStatus], None]
SECRET_MASK = "[secret]"  # noqa: S105 (a display mask, not a password)

__all__ = [
    "SECRET_MASK",
    "AppSummary",
    "DeployError",
    "OperationResult",
    "StackLocked",
    "StackNotFound",
    "deploy",
    "destroy",
    "init_stack",
    "list_apps",
    "outputs",
    "preview",
    "refresh",
    "rollback",
    "status",
]


@dataclass
class OperationResult:
    app_id: str
    operation: str
    outputs: dict[str, Any] = field(default_factory=dict)  # secrets masked
    changes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    steps: dict[str, Any] | None = None
    health: HealthReport | None = None

    @property
    def changed(self) -> int:
        """Resources created, updated, replaced or deleted."""
        return sum(count for op, count in self.changes.items() if op not in ("same", "read"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app_id,
            "operation": self.operation,
            "seconds": round(self.seconds, 2),
            "changes": self.changes,
            "outputs": self.outputs,
            "steps": (self.steps or {}).get("steps", []),
            "health": None if self.health is None else self.health.checks,
        }


def _configure(stack: auto.Stack, spec: AppSpec, targets: Targets) -> None:
    values = {
        "oneclick:app": (json.dumps(spec.public_dict(), sort_keys=True), False),
        "oneclick:secrets": (json.dumps(spec.secret_values(), sort_keys=True), True),
        "oneclick:targets": (json.dumps(targets.public(), sort_keys=True), False),
        "oneclick:tokens": (json.dumps(targets.tokens(), sort_keys=True), True),
    }
    # Written here when this process can encrypt for the stack (a CLI run less per deploy).
    if (crypter := StackCrypter.for_stack(stack.name, stack.workspace.env_vars)) is not None:
        write_config(stack.name, values, crypter)
        return
    stack.set_all_config({key: auto.ConfigValue(v, secret=secret) for key, (v, secret) in values.items()})


def init_stack(spec: AppSpec, targets: Targets | None = None) -> auto.Stack:
    """Create (or update) the stack and its config without deploying: for `pulumi up -s` by hand."""
    targets = targets or resolve_targets(vendors_for(spec))
    stack = open_stack(spec.id, create=True, target_is_sandbox=targets.sandbox)
    _configure(stack, spec, targets)
    return stack


class _ErrorCollector:
    """Keeps the engine's error diagnostics so failures read like the engine's own words."""

    def __init__(self, *forward: EventSink | None) -> None:
        self.forward = [sink for sink in forward if sink is not None]
        self.errors: list[str] = []

    def __call__(self, event: events.EngineEvent) -> None:
        diag = event.diagnostic_event
        if diag is not None and diag.severity == "error" and diag.message.strip():
            self.errors.append(diag.message.strip())
        for sink in self.forward:
            sink(event)

    def failure(self, operation: str, app_id: str, exc: auto.CommandError) -> DeployError:
        if isinstance(exc, auto.ConcurrentUpdateError):
            return StackLocked(app_id)
        details = "\n".join(dict.fromkeys(self.errors)) or str(exc).strip()[-2000:]
        return DeployError(f"{operation} of {app_id!r} failed:\n{details}")


def masked_outputs(values: auto.OutputMap, show_secrets: bool = False) -> dict[str, Any]:
    return {
        key: (SECRET_MASK if value.secret and not show_secrets else value.value)
        for key, value in values.items()
    }


def _op_counts(counts: Mapping[Any, int]) -> dict[str, int]:
    """Operation counts keyed by plain names ("create", "same" …), whether keys are enums or strings."""
    return {str(getattr(op, "value", op)): count for op, count in counts.items()}


def _changes(summary: auto.UpdateSummary | None) -> dict[str, int]:
    return _op_counts(summary.resource_changes or {}) if summary is not None else {}


def step_keys(spec: AppSpec) -> list[str]:
    """The steps a deploy of `spec` reports, in order (the service lists them when a deploy is queued)."""
    keys = ["build"] if spec.web is not None and spec.web.source is not None else []
    keys.append("database")
    if spec.database.prisma_schema is not None:
        keys.append("schema")
        if spec.database.preview_data is not None and spec.database.import_preview:
            keys.append("data")
    if spec.web is not None:
        keys.append("site")
        if spec.custom_domain:
            keys.append("domain")
    keys.append("health")
    return keys


def _describe_steps(status: DeployStatus, values: auto.OutputMap) -> None:
    """Detail lines like the plan's status screen, for the steps that changed something."""

    def get(key: str) -> Any:
        return values[key].value if key in values else None

    details = {
        "database": f"{get('databaseProvider')} database {get('databaseName')} ({get('databaseHost')})",
        "schema": get("schemaSummary"),
        "data": get("dataSummary"),
        "site": f"{get('uploadedFiles')} files uploaded{_server_half(get('workerModules'))}, "
        f"serving {get('pagesUrl')}",
        "domain": f"{get('customDomain')}: {get('domainStatus')} (SSL {get('domainSslStatus')})",
    }
    for key, step in status.steps.items():
        if step.changes and details.get(key):
            status.note(key, str(details[key]))


def _server_half(modules: Any) -> str:
    return f" with a server half of {modules} module(s)" if isinstance(modules, int) and modules else ""


def _build_failure_line(message: str) -> str:
    """One line for the failed step: what failed and the build's first error line, if it has one."""
    lines = [line.strip() for line in message.splitlines() if line.strip()] or ["the build failed"]
    first = lines[0].rstrip(":")
    error = next((line for line in lines[1:] if "error" in line.lower()), None)
    return (f"{first} — {error}" if error else first)[:300]


def _build(spec: AppSpec, status: DeployStatus, on_line: Callable[[str], None] | None) -> None:
    """Build `web.source` before the engine starts (the program then takes the cached build), so a
    failed build stops the deploy before anything is created or uploaded."""
    # Imported only for a source build: a static deploy never loads the build tooling.
    from components.site_build import BuildFailed, build_web

    status.start("build")
    try:
        built = build_web(spec, on_line=on_line)
    except BuildFailed as exc:
        status.finish("build", "failed", _build_failure_line(str(exc)))
        status.finish_all(failed=True)
        raise DeployError(
            f"deploy of {spec.id!r} stopped: building web.source failed, nothing was deployed:\n{exc}"
        ) from None
    if built.cached:
        status.finish("build", "done", f"source unchanged: build {built.key[:12]} reused")
    else:
        status.finish("build", "done", f"build {built.key[:12]} made in {built.seconds:.1f}s")


def _health(values: auto.OutputMap) -> HealthReport:
    def get(key: str) -> Any:
        return values[key].value if key in values else None

    return check_health(
        # The Pages URL, not the custom domain: the domain's DNS and certificate may still be pending.
        site_url=get("pagesUrl"),
        database_provider=str(get("databaseProvider")),
        database_url=str(get("databaseUrl")),
        database_auth_token=get("databaseAuthToken"),
        app_health_path=get("healthPath"),
    )


def deploy(
    spec: AppSpec,
    *,
    on_event: EventSink | None = None,
    on_status: StatusSink | None = None,
    targets: Targets | None = None,
    health_check: bool = True,
    refresh: bool = False,
    on_build_line: Callable[[str], None] | None = None,
) -> OperationResult:
    """Build `web.source` if the spec has one, create or update the app's stack to match `spec`,
    then check the app is healthy.

    With `refresh`, the stack is first read back from the vendors (`pulumi up --refresh`), so what
    was deleted or changed behind its back is put right by this deploy.
    """
    started = time.monotonic()
    status = DeployStatus.for_keys(spec.id, step_keys(spec), on_status)
    if spec.web is not None and spec.web.source is not None:
        _build(spec, status, on_build_line)
    targets = targets or resolve_targets(vendors_for(spec))
    stack = init_stack(spec, targets)
    collector = _ErrorCollector(EngineStepTracker(status), on_event)
    try:
        result = stack.up(
            on_event=collector, color="never", show_secrets=False, suppress_progress=True, refresh=refresh
        )
    except auto.CommandError as exc:
        status.finish_all(failed=True)
        raise collector.failure("deploy", spec.id, exc) from None
    _describe_steps(status, result.outputs)
    status.finish_all(failed=False)
    health = None
    if health_check:
        status.start("health")
        health = _health(result.outputs)
        status.finish("health", "done" if health.healthy else "failed", health.summary)
        if not health.healthy:
            raise DeployError(
                f"deploy of {spec.id!r} finished but the app is not healthy ({health.summary}); "
                f"the resources are in place: fix the cause and deploy again"
            )
    return OperationResult(
        spec.id,
        "deploy",
        masked_outputs(result.outputs),
        _changes(result.summary),
        time.monotonic() - started,
        status.as_dict(),
        health,
    )


def preview(
    spec: AppSpec, *, on_event: EventSink | None = None, targets: Targets | None = None
) -> OperationResult:
    """What a deploy of `spec` would change; changes nothing (but records the stack's config)."""
    started = time.monotonic()
    stack = init_stack(spec, targets)
    collector = _ErrorCollector(on_event)
    try:
        result = stack.preview(on_event=collector, color="never", suppress_progress=True)
    except auto.CommandError as exc:
        raise collector.failure("preview", spec.id, exc) from None
    return OperationResult(
        spec.id, "preview", {}, _op_counts(result.change_summary), time.monotonic() - started
    )


def refresh(app_id: str, *, on_event: EventSink | None = None, preview_only: bool = False) -> OperationResult:
    """Compare the stack with the real resources; `preview_only` writes nothing to state."""
    started = time.monotonic()
    stack = open_stack(app_id, create=False)
    collector = _ErrorCollector(on_event)
    try:
        if preview_only:
            result = stack.preview_refresh(on_event=collector, color="never", suppress_progress=True)
            changes = _op_counts(result.change_summary)
        else:
            refreshed = stack.refresh(on_event=collector, color="never", suppress_progress=True)
            changes = _changes(refreshed.summary)
    except auto.CommandError as exc:
        raise collector.failure("refresh", app_id, exc) from None
    return OperationResult(app_id, "refresh", {}, changes, time.monotonic() - started)


def destroy(app_id: str, *, on_event: EventSink | None = None, remove_stack: bool = True) -> OperationResult:
    """Delete every resource of the app and (by default) the stack with its history and config."""
    started = time.monotonic()
    stack = open_stack(app_id, create=False)
    collector = _ErrorCollector(on_event)
    try:
        result = stack.destroy(on_event=collector, color="never", suppress_progress=True)
        if remove_stack:
            stack.workspace.remove_stack(app_id)
    except auto.CommandError as exc:
        raise collector.failure("destroy", app_id, exc) from None
    return OperationResult(app_id, "destroy", {}, _changes(result.summary), time.monotonic() - started)


def outputs(app_id: str, *, show_secrets: bool = False) -> dict[str, Any]:
    return masked_outputs(open_stack(app_id, create=False).outputs(), show_secrets)


@dataclass(frozen=True)
class AppSummary:
    app_id: str
    last_update: str | None
    update_in_progress: bool
    resource_count: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app_id,
            "lastUpdate": self.last_update,
            "updateInProgress": self.update_in_progress,
            "resources": self.resource_count,
        }


def list_apps() -> list[AppSummary]:
    """Every app stack in the state backend."""
    return [
        AppSummary(
            s.name,
            s.last_update.isoformat() if s.last_update else None,
            bool(s.update_in_progress),
            s.resource_count,
        )
        for s in sorted(workspace().list_stacks(), key=lambda s: s.name)
    ]


def status(app_id: str) -> dict[str, Any]:
    """The app's last update (kind, result, when, changes) and its outputs, secrets masked."""
    check_app_id(app_id)
    stack = open_stack(app_id, create=False)
    history = stack.history(page_size=1, page=1)
    last = history[0] if history else None
    return {
        "app": app_id,
        "lastUpdate": None
        if last is None
        else {
            "kind": last.kind,
            "result": last.result,
            "started": last.start_time.isoformat(),
            "finished": last.end_time.isoformat() if last.end_time else None,
            "changes": _op_counts(last.resource_changes or {}),
        },
        "outputs": masked_outputs(stack.outputs()),
    }


def withdraw_site(app_id: str, keep_deployment: str | None) -> str:
    """After a failed deploy: serve `keep_deployment` (the last good one) again, or, when the app
    never had a good one, delete its Pages project so nothing of the failed deploy is public.

    Returns what was done. The stack is left as it is: the next deploy refreshes and puts back
    what is missing.
    """
    try:
        stack = open_stack(app_id, create=False)
    except StackNotFound:
        return "nothing to withdraw"
    values = stack.outputs()
    if "pagesProject" not in values:
        return "nothing to withdraw"
    project = str(values["pagesProject"].value)
    cloudflare = _recorded_targets(stack).get("cloudflare")
    with CloudflareClient(cloudflare.api_token, cloudflare.account, base_url=cloudflare.api_url) as cf:
        try:
            served = cf.get_project(project).canonical_deployment
        except VendorError:
            return "nothing to withdraw"
        if keep_deployment is not None:
            if served is not None and served.id == keep_deployment:
                return f"still serving {keep_deployment}"
            cf.rollback_deployment(project, keep_deployment)
            return f"serving the last good deployment {keep_deployment} again"
        cf.delete_project(project)
        return f"site {project} withdrawn until a deploy succeeds"


def _recorded_targets(stack: auto.Stack) -> Targets:
    config = stack.get_all_config()  # decrypted: the tokens are needed to call the vendor
    public = json.loads(config["oneclick:targets"].value) if "oneclick:targets" in config else {}
    tokens = json.loads(config["oneclick:tokens"].value) if "oneclick:tokens" in config else {}
    return Targets.from_config(public, tokens)


def rollback(app_id: str, deployment_id: str | None = None) -> OperationResult:
    """Serve an earlier Pages deployment again (default: the one before what is served now).

    The rollback lasts until a deploy changes the site (files or env vars); until then the stack
    is unchanged, and a drift check reports production as serving another deployment.
    """
    started = time.monotonic()
    stack = open_stack(app_id, create=False)
    values = stack.outputs()
    if "pagesProject" not in values:
        raise DeployError(f"app {app_id!r} has no site to roll back (its spec has no `web` section)")
    project = str(values["pagesProject"].value)
    cloudflare = _recorded_targets(stack).get("cloudflare")
    with CloudflareClient(cloudflare.api_token, cloudflare.account, base_url=cloudflare.api_url) as cf:
        served = cf.get_project(project).canonical_deployment
        history = [d for d in cf.list_deployments(project) if d.environment == "production"]
        ids = [d.id for d in history]
        if deployment_id is None:
            current = ids.index(served.id) if served is not None and served.id in ids else 0
            if current + 1 >= len(ids):
                raise DeployError(f"app {app_id!r} has no earlier deployment to roll back to")
            deployment_id = ids[current + 1]
        elif deployment_id not in ids:
            known = ", ".join(ids[:5]) or "none"
            raise DeployError(
                f"deployment {deployment_id!r} is not a production deployment of {project} "
                f"(recent ones: {known}); pick one from `oneclick status {app_id}`"
            )
        restored = cf.rollback_deployment(project, deployment_id)
    outputs_now = {"deploymentId": restored.id, "deploymentUrl": restored.url, "url": values["url"].value}
    return OperationResult(app_id, "rollback", outputs_now, {"rollback": 1}, time.monotonic() - started)
