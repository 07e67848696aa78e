"""deploy / preview / refresh / destroy / outputs for one app stack, through the Automation API.

The Automation API runs the project program on disk (Pulumi.yaml at the repository root), so a
platform deploy and an engineer's `pulumi up -s <app>` execute the very same code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pulumi import automation as auto
from pulumi.automation import events

from automation.environment import TOOLS_DIR, pulumi_env, stack_config_path
from components.errors import SpecError
from components.spec import APP_ID, AppSpec
from components.targets import TursoTarget, turso_target
from sandbox.endpoint import REPO_ROOT

EventSink = Callable[[events.EngineEvent], None]
SECRET_MASK = "[secret]"  # noqa: S105 (a display mask, not a password)


class DeployError(RuntimeError):
    """A Pulumi operation failed; the message holds the engine's error diagnostics."""


@dataclass
class OperationResult:
    app_id: str
    operation: str
    outputs: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _check_app_id(app_id: str) -> None:
    if not APP_ID.match(app_id):
        raise SpecError.single(
            "id",
            f"{app_id!r} is not a valid app id; use lowercase letters, digits and dashes (e.g. 'app-123')",
        )


def recorded_target_is_sandbox(app_id: str) -> bool:
    """Read from the stack's config file (no passphrase needed) whether it targets the sandbox."""
    path = stack_config_path(app_id)
    if not path.exists():
        return True
    config = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    recorded = config.get("oneclick:turso")
    if isinstance(recorded, str):
        recorded = json.loads(recorded)
    return bool(recorded.get("sandbox", True)) if isinstance(recorded, dict) else True


def _stack(app_id: str, target_is_sandbox: bool, create: bool) -> auto.Stack:
    options = auto.LocalWorkspaceOptions(
        work_dir=str(REPO_ROOT),
        env_vars=pulumi_env(target_is_sandbox),
        pulumi_command=auto.PulumiCommand(root=str(TOOLS_DIR)),
    )
    if create:
        return auto.create_or_select_stack(app_id, work_dir=str(REPO_ROOT), opts=options)
    try:
        return auto.select_stack(app_id, work_dir=str(REPO_ROOT), opts=options)
    except auto.StackNotFoundError:
        raise DeployError(f"no stack named {app_id!r}: deploy it first with `oneclick deploy SPEC`") from None


def _configure(stack: auto.Stack, spec: AppSpec, target: TursoTarget) -> None:
    stack.set_all_config(
        {
            "oneclick:app": auto.ConfigValue(json.dumps(spec.model_dump(mode="json"))),
            "oneclick:turso": auto.ConfigValue(
                json.dumps({"apiUrl": target.api_url, "org": target.org, "sandbox": target.sandbox})
            ),
            "oneclick:tursoApiToken": auto.ConfigValue(target.api_token, secret=True),
        }
    )


def init_stack(spec: AppSpec, target: TursoTarget | None = None) -> auto.Stack:
    """Create (or update) the stack and its config without deploying: for `pulumi up -s` by hand."""
    target = target or turso_target()
    stack = _stack(spec.id, target.sandbox, create=True)
    _configure(stack, spec, target)
    return stack


class _ErrorCollector:
    """Keeps the engine's error diagnostics so failures read like the engine's own words."""

    def __init__(self, forward: EventSink | None) -> None:
        self.forward = forward
        self.errors: list[str] = []

    def __call__(self, event: events.EngineEvent) -> None:
        diag = event.diagnostic_event
        if diag is not None and diag.severity == "error" and diag.message.strip():
            self.errors.append(diag.message.strip())
        if self.forward is not None:
            self.forward(event)

    def failure(self, operation: str, app_id: str, exc: auto.CommandError) -> DeployError:
        details = "\n".join(dict.fromkeys(self.errors)) or str(exc).strip()[-2000:]
        return DeployError(f"{operation} of {app_id!r} failed:\n{details}")


def masked_outputs(outputs: auto.OutputMap, show_secrets: bool = False) -> dict[str, Any]:
    return {
        key: (SECRET_MASK if value.secret and not show_secrets else value.value)
        for key, value in outputs.items()
    }


def _op_counts(counts: Mapping[Any, int]) -> dict[str, int]:
    """Operation counts keyed by plain names ("create", "same" …), whether keys are enums or strings."""
    return {str(getattr(op, "value", op)): count for op, count in counts.items()}


def _changes(summary: auto.UpdateSummary | None) -> dict[str, int]:
    return _op_counts(summary.resource_changes or {}) if summary is not None else {}


def deploy(
    spec: AppSpec, *, on_event: EventSink | None = None, target: TursoTarget | None = None
) -> OperationResult:
    """Create or update the app's stack to match `spec`."""
    started = time.monotonic()
    target = target or turso_target()
    stack = init_stack(spec, target)
    collector = _ErrorCollector(on_event)
    try:
        result = stack.up(on_event=collector, color="never", show_secrets=False, suppress_progress=True)
    except auto.CommandError as exc:
        raise collector.failure("deploy", spec.id, exc) from None
    return OperationResult(
        spec.id,
        "deploy",
        masked_outputs(result.outputs),
        _changes(result.summary),
        time.monotonic() - started,
    )


def preview(spec: AppSpec, *, on_event: EventSink | None = None) -> OperationResult:
    started = time.monotonic()
    stack = init_stack(spec)
    collector = _ErrorCollector(on_event)
    try:
        result = stack.preview(on_event=collector, color="never", suppress_progress=True)
    except auto.CommandError as exc:
        raise collector.failure("preview", spec.id, exc) from None
    changes = _op_counts(result.change_summary)
    return OperationResult(spec.id, "preview", {}, changes, time.monotonic() - started)


def refresh(app_id: str, *, on_event: EventSink | None = None, preview_only: bool = False) -> OperationResult:
    """Compare the stack with the real resources; `preview_only` writes nothing to state."""
    _check_app_id(app_id)
    started = time.monotonic()
    stack = _stack(app_id, recorded_target_is_sandbox(app_id), create=False)
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


def destroy(app_id: str, *, on_event: EventSink | None = None, remove_stack: bool = False) -> OperationResult:
    """Delete every resource of the app; `remove_stack` also deletes its history and config."""
    _check_app_id(app_id)
    started = time.monotonic()
    stack = _stack(app_id, recorded_target_is_sandbox(app_id), create=False)
    collector = _ErrorCollector(on_event)
    try:
        result = stack.destroy(on_event=collector, color="never", suppress_progress=True)
    except auto.CommandError as exc:
        raise collector.failure("destroy", app_id, exc) from None
    if remove_stack:
        stack.workspace.remove_stack(app_id)
    return OperationResult(app_id, "destroy", {}, _changes(result.summary), time.monotonic() - started)


def outputs(app_id: str, *, show_secrets: bool = False) -> dict[str, Any]:
    _check_app_id(app_id)
    stack = _stack(app_id, recorded_target_is_sandbox(app_id), create=False)
    return masked_outputs(stack.outputs(), show_secrets)
