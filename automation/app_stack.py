"""AppStack: an Automation API Stack whose `up` costs one Pulumi CLI run after the update, not three.

The SDK's `Stack.up` follows the update with `stack output --json`, `stack output --json
--show-secrets` (to tell secret outputs from plain ones) and `stack history --page-size 1` (for the
summary): each a CLI start of about 0.2 s of CPU, the `--show-secrets` one also a passphrase key
derivation. The engine's own events already carry both missing pieces: the root stack's outputs with
secrets masked, and the summary's resource changes. So AppStack keeps those events and runs only
`stack output --json --show-secrets`; when an event is missing (an old CLI, an update that failed
before its end) it falls back to the SDK's way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pulumi import automation as auto
from pulumi.automation import events
from pulumi.automation._stack import StackInitMode

from automation.pulumi_state import is_secret
from automation.stack_config import project_name
from automation.stack_secrets import StackCrypter, stack_outputs

STACK_TYPE = "pulumi:pulumi:Stack"
SECRET_SENTINEL = "[secret]"  # noqa: S105 - how `stack output` shows a secret


def holds_secret(masked: Any) -> bool:
    """Whether an output, as the events show it, is or contains a secret (the SDK marks only a whole
    secret; a part is treated as the whole here, which masks more, never less)."""
    if masked == SECRET_SENTINEL:
        return True
    if isinstance(masked, dict):
        return is_secret(masked) or any(holds_secret(v) for v in masked.values())
    if isinstance(masked, list):
        return any(holds_secret(v) for v in masked)
    return False


class _UpEvents:
    """What `up` needs from the engine's events: the root's masked outputs and the summary."""

    def __init__(self) -> None:
        self.masked_outputs: dict[str, Any] | None = None
        self.summary: events.SummaryEvent | None = None

    def take(self, event: events.EngineEvent) -> None:
        outputs = event.res_outputs_event
        if outputs is not None and outputs.metadata.type == STACK_TYPE and outputs.metadata.new is not None:
            self.masked_outputs = dict(outputs.metadata.new.outputs or {})
        if event.summary_event is not None:
            self.summary = event.summary_event


class AppStack(auto.Stack):
    """A Stack as the SDK's, with a cheaper `up` (see the module docstring)."""

    _events: _UpEvents | None = None

    @classmethod
    def open(cls, name: str, workspace: auto.Workspace, *, create: bool) -> AppStack:
        # The SDK's create_or_select/select always build a plain Stack.
        return cls(name, workspace, StackInitMode.CREATE_OR_SELECT if create else StackInitMode.SELECT)

    def up(self, **kwargs: Any) -> auto.UpResult:  # type: ignore[override]  # keywords only here
        on_event: auto.OnEvent | None = kwargs.pop("on_event", None)
        seen = _UpEvents()

        def sink(event: events.EngineEvent) -> None:
            seen.take(event)
            if on_event is not None:
                on_event(event)

        self._events = seen
        try:
            return super().up(on_event=sink, **kwargs)
        finally:
            self._events = None

    def outputs(self) -> auto.OutputMap:
        if (read := self._outputs_from_checkpoint()) is not None:
            return read
        masked = self._events.masked_outputs if self._events is not None else None
        if masked is None:
            return super().outputs()
        shown = self._run_pulumi_cmd_sync(["stack", "output", "--json", "--show-secrets"])
        plain: dict[str, Any] = json.loads(shown.stdout)
        if set(plain) != set(masked):
            return super().outputs()  # the events and the state disagree: ask the CLI for both
        return {
            key: auto.OutputValue(value=value, secret=holds_secret(masked[key]))
            for key, value in plain.items()
        }

    def _outputs_from_checkpoint(self) -> auto.OutputMap | None:
        """The outputs read and decrypted here (automation/stack_secrets.py): no CLI run at all."""
        env = self.workspace.env_vars
        crypter = StackCrypter.for_stack(self.name, env)
        if crypter is None:
            return None
        found = stack_outputs(self.name, project_name(), env.get("PULUMI_BACKEND_URL", ""), crypter)
        if found is None:
            return None
        return {key: auto.OutputValue(value=value, secret=secret) for key, (value, secret) in found.items()}

    def info(self, show_secrets: bool = True) -> auto.UpdateSummary | None:
        summary = self._events.summary if self._events is not None else None
        if summary is None:
            return super().info(show_secrets)
        now = datetime.now(UTC)
        return auto.UpdateSummary(
            kind="update",
            start_time=now,
            message="",
            environment={},
            config={},
            result="succeeded",  # a failed update raised before `up` asked for its summary
            end_time=now,
            resource_changes=summary.resource_changes,
        )
