"""Opening many stacks that are known to exist, without the per-stack CLI runs.

`open_stack` creates a workspace (which runs `pulumi version`) and checks that the stack exists
(`pulumi stack`), two CLI runs before any work. Over a fleet of stacks just listed from the backend
that is about as long as a drift check itself, so here workspaces are shared (one per environment:
backend, passphrase) and the existence check is skipped: a stack that is not there fails its
operation with `StackNotFoundError` instead.
"""

from __future__ import annotations

import threading

from pulumi import automation as auto

from automation import stack_config
from automation.environment import project_dir, pulumi_env
from automation.workspace import NoSelectWorkspace, check_app_id, pulumi_command, recorded_target_is_sandbox


class ListedWorkspace(NoSelectWorkspace):
    """Never checks that a stack exists: the operation itself says so if it does not."""

    def select_stack(self, stack_name: str) -> None:
        return None


_workspaces: dict[tuple[tuple[str, str], ...], ListedWorkspace] = {}
_lock = threading.Lock()


def shared_workspace(target_is_sandbox: bool) -> ListedWorkspace:
    env = pulumi_env(target_is_sandbox)
    key = tuple(sorted(env.items()))  # a changed backend or passphrase gets its own workspace
    with _lock:
        if key not in _workspaces:
            _workspaces[key] = ListedWorkspace(
                work_dir=str(project_dir()), env_vars=env, pulumi_command=pulumi_command()
            )
        return _workspaces[key]


def open_listed_stack(app_id: str) -> auto.Stack:
    check_app_id(app_id)
    stack_config.restore(app_id)
    return auto.Stack.select(app_id, shared_workspace(recorded_target_is_sandbox(app_id)))
