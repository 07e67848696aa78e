"""Opening app stacks safely from many threads and processes at once.

Pulumi's `stack init` and `stack select` record the "current stack" in a file shared by every
workspace of the project (~/.pulumi/workspaces/…). Concurrent deploys racing on that file is a known
Automation API problem, so oneclick never selects: every command names its stack with `--stack`,
stacks are created with `--no-select`, and an existing stack is only checked for.

On a PostgreSQL backend the stack's config file is kept in the backend too (automation/stack_config.py):
written back to disk before a stack is opened, saved after every command that changes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.metadata import version as package_version
from typing import Any

import yaml
from pulumi import automation as auto
from semver import VersionInfo

from automation import stack_config
from automation.app_stack import AppStack
from automation.environment import TOOLS_DIR, project_dir, pulumi_env, stack_config_path
from automation.stack_secrets import shared_salt_state
from automation.state_blobs import blobs_for, has_stack
from automation.state_upgrade import upgrade_stack
from components.errors import SpecError
from components.spec import APP_ID
from core.errors import OneclickError


class DeployError(OneclickError, RuntimeError):
    """A Pulumi operation failed; the message holds the engine's error diagnostics."""


class StackNotFound(DeployError):
    """The app has no stack: it was never deployed (or was destroyed)."""


class StackLocked(DeployError):
    """Another update of the same app is running (or was killed and left its lock behind)."""

    def __init__(self, app_id: str) -> None:
        super().__init__(
            f"app {app_id!r} is locked by another update that is still running; wait for it to finish. "
            f"If that update was killed, run `oneclick recover {app_id}` (or `pulumi cancel -s {app_id}`)"
        )
        self.app_id = app_id


class NoSelectWorkspace(auto.LocalWorkspace):
    """A LocalWorkspace that never writes the shared current-stack file, and saves every change to
    a stack's config file into a PostgreSQL backend."""

    def create_stack(self, stack_name: str) -> None:
        args = ["stack", "init", stack_name, "--no-select"]
        if self.secrets_provider:
            args.extend(["--secrets-provider", self.secrets_provider])
        else:
            _share_salt(stack_name, self.env_vars)
        try:
            self._run_pulumi_cmd_sync(args)
        except auto.StackAlreadyExistsError:
            return  # created by another process since the backend's layout was read: use it
        stack_config.save(stack_name)

    def set_config(self, stack_name: str, key: str, value: auto.ConfigValue, *, path: bool = False) -> None:
        super().set_config(stack_name, key, value, path=path)
        stack_config.save(stack_name)

    def set_all_config(self, stack_name: str, config: auto.ConfigMap, *, path: bool = False) -> None:
        super().set_all_config(stack_name, config, path=path)
        stack_config.save(stack_name)

    def remove_config(self, stack_name: str, key: str, *, path: bool = False) -> None:
        super().remove_config(stack_name, key, path=path)
        stack_config.save(stack_name)

    def remove_all_config(self, stack_name: str, keys: list[str], *, path: bool = False) -> None:
        super().remove_all_config(stack_name, keys, path=path)
        stack_config.save(stack_name)

    def remove_stack(
        self, stack_name: str, force: bool | None = None, preserve_config: bool | None = None
    ) -> None:
        super().remove_stack(stack_name, force=force, preserve_config=preserve_config)
        if not preserve_config:
            stack_config.forget(stack_name)

    def select_stack(self, stack_name: str) -> None:
        # Only check that it exists; every later command passes --stack itself. On a file or
        # PostgreSQL backend the layout answers (a CLI run is about 0.2 s of CPU per deploy); a
        # stack it does not show is created, and `create_stack` accepts one that appeared meanwhile.
        blobs = blobs_for(self.env_vars.get("PULUMI_BACKEND_URL", ""))
        if blobs is None:
            self._run_pulumi_cmd_sync(["stack", "--show-name", "--stack", stack_name])
        elif not has_stack(blobs, stack_config.project_name(), stack_name):
            raise auto.StackNotFoundError(
                auto.CommandResult(stdout="", stderr=f"no stack named '{stack_name}' found", code=255)
            )


def _share_salt(stack_name: str, env: Mapping[str, str]) -> None:
    """A new stack's config file starts with the backend's shared salt (`stack init` keeps a salt
    it finds there): see automation/stack_secrets.py."""
    path = stack_config_path(stack_name)
    if path.exists() or (salt := shared_salt_state(env)) is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"encryptionsalt": salt}))


def check_app_id(app_id: str) -> None:
    if not APP_ID.match(app_id):
        raise SpecError.single(
            "id",
            f"{app_id!r} is not a valid app id; use lowercase letters, digits and dashes (e.g. 'app-123')",
        )


@cache
def pulumi_command() -> auto.PulumiCommand:
    """The project's CLI. scripts/setup builds it at the SDK's own version (tools/pulumi/go.mod and
    pyproject pin the same), so the SDK's `pulumi version` check, a CLI run per process (per deploy,
    in the service), is skipped."""
    command = object.__new__(auto.PulumiCommand)
    command.command = str(TOOLS_DIR / "bin" / "pulumi")
    command.version = VersionInfo.parse(package_version("pulumi"))
    return command


def workspace(target_is_sandbox: bool = True) -> NoSelectWorkspace:
    return NoSelectWorkspace(
        work_dir=str(project_dir()), env_vars=pulumi_env(target_is_sandbox), pulumi_command=pulumi_command()
    )


def recorded_targets(app_id: str) -> dict[str, Any]:
    """The stack's `oneclick:targets` from its config file (readable without the passphrase)."""
    path = stack_config_path(app_id)
    if not path.exists():
        return {}
    config = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    recorded = config.get("oneclick:targets")
    if isinstance(recorded, str):
        recorded = json.loads(recorded)
    return recorded if isinstance(recorded, dict) else {}


def recorded_target_is_sandbox(app_id: str) -> bool:
    """Whether the stack touches only the sandbox (decides which passphrase may open it)."""
    return all(bool(t.get("sandbox", True)) for t in recorded_targets(app_id).values() if isinstance(t, dict))


def open_stack(
    app_id: str, *, create: bool, target_is_sandbox: bool | None = None, upgrade: bool = True
) -> auto.Stack:
    """The app's stack; created (without selecting) when `create`, else it must exist. Its state is
    brought to the current shape first (automation/state_upgrade.py) unless `upgrade` is False
    (recover: it settles the pending operations the upgrade refuses)."""
    check_app_id(app_id)
    stack_config.restore(app_id)
    sandbox = recorded_target_is_sandbox(app_id) if target_is_sandbox is None else target_is_sandbox
    ws = workspace(sandbox)
    if create:
        stack: auto.Stack = AppStack.open(app_id, ws, create=True)
    else:
        try:
            stack = AppStack.open(app_id, ws, create=False)
        except auto.StackNotFoundError:
            raise StackNotFound(
                f"no app {app_id!r} is deployed: deploy it first with `oneclick deploy SPEC`"
            ) from None
    if upgrade:
        upgrade_stack(stack)
    return stack
