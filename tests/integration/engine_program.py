"""Run a small inline Pulumi program through the real engine, in the test session's state backend.

For components that are not reachable from one app spec alone (LocalCommand, DesktopBuild): the
same engine, CLI and dynamic-provider host as a deploy, a stack of a throwaway project.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pulumi import automation as auto

from automation.environment import pulumi_env
from sandbox.endpoint import REPO_ROOT, state_root


@contextmanager
def inline_stack(
    project: str, program: Callable[[], None], work_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[auto.Stack]:
    """A fresh stack of `program`; destroyed and removed afterwards."""
    env = {
        **pulumi_env(True),
        # The dynamic-provider host imports the providers' modules from the repository, in the venv.
        "PYTHONPATH": str(REPO_ROOT),
        "PULUMI_RUNTIME_VIRTUALENV": str(REPO_ROOT / ".venv"),
        **(extra_env or {}),
    }
    env["PATH"] = f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    settings = auto.ProjectSettings(name=project, runtime="python")
    stack = auto.create_stack(
        f"t{uuid.uuid4().hex[:10]}",
        project_name=project,
        program=program,
        opts=auto.LocalWorkspaceOptions(work_dir=str(work_dir), env_vars=env, project_settings=settings),
    )
    try:
        yield stack
    finally:
        stack.destroy(color="never")
        stack.workspace.remove_stack(stack.name)


def checkpoint(stack: auto.Stack) -> str:
    """The stack's state file as the backend stores it (export_stack would decrypt the secrets)."""
    project = stack.workspace.project_settings().name
    return (state_root() / "pulumi" / ".pulumi" / "stacks" / project / f"{stack.name}.json").read_text()
