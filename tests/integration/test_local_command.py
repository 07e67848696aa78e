"""LocalCommand through the real engine: create, update, replace on a trigger, delete, and a secret
environment that never reaches the state or the engine's output, even when the command prints it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from components.commands import LocalCommand
from tests.integration.engine_program import checkpoint, inline_stack

pytestmark = pytest.mark.engine

SECRET = "tok_9f8e7d6c5b4a39281706"


def entries(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line]


def program(log: Path, mark: str, trigger: str, fail: bool = False) -> Any:
    def run() -> None:
        command = LocalCommand(
            "step",
            create='echo "created $MARK" >> "$LOG" && echo "out-$MARK"',
            update='echo "updated $MARK after $PULUMI_COMMAND_STDOUT" >> "$LOG" && echo "upd-$MARK"',
            delete='echo "deleted $MARK" >> "$LOG"',
            environment={"MARK": mark, "LOG": str(log), "SECRET_TOKEN": SECRET},
            triggers=[trigger],
        )
        pulumi.export("stdout", command.stdout)
        if fail:
            LocalCommand(
                "leaky",
                create='echo "token is $SECRET_TOKEN" >&2; exit 3',
                environment={"SECRET_TOKEN": SECRET},
                opts=pulumi.ResourceOptions(depends_on=[command]),
            )

    return run


def test_create_update_replace_delete_and_secrets(tmp_path: Path) -> None:
    log = tmp_path / "commands.log"
    lines: list[str] = []
    with inline_stack("localcmd", program(log, "a", "t1"), tmp_path) as stack:
        first = stack.up(color="never", on_output=lines.append)
        assert first.outputs["stdout"].value.strip() == "out-a"
        assert entries(log) == ["created a"]

        again = stack.up(color="never", on_output=lines.append)
        assert again.summary.resource_changes == {"same": 2}
        assert entries(log) == ["created a"], "an unchanged command does not run again"

        stack.workspace.program = program(log, "b", "t1")
        updated = stack.up(color="never", on_output=lines.append)
        assert updated.summary.resource_changes == {"same": 1, "update": 1}
        assert updated.outputs["stdout"].value.strip() == "upd-b"
        assert entries(log)[-1] == "updated b after out-a"

        stack.workspace.program = program(log, "b", "t2")
        replaced = stack.up(color="never", on_output=lines.append)
        assert replaced.summary.resource_changes == {"same": 1, "replace": 1}
        assert entries(log)[-2:] == ["deleted b", "created b"]

        state = checkpoint(stack)
        at = state.find(SECRET)
        assert SECRET not in state, state[max(0, at - 600) : at + 100]
        assert "ciphertext" in state  # the environment is there, encrypted

        stack.workspace.program = program(log, "b", "t2", fail=True)
        with pytest.raises(auto.CommandError) as failed:
            stack.up(color="never", on_output=lines.append)
        assert "exited with status 3" in str(failed.value)
        assert "token is [redacted]" in str(failed.value)
        assert SECRET not in str(failed.value)
        assert SECRET not in checkpoint(stack)
        stack.workspace.program = program(log, "b", "t2")
    assert entries(log)[-1] == "deleted b", "destroy runs the delete command"
    assert not [line for line in lines if SECRET in line]
