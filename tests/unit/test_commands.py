"""LocalCommand's provider with real subprocesses: create/update/delete, triggers, env, no injection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.commands import CommandError, LocalCommandProvider, redact


def props(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "create": None,
        "update": None,
        "delete": None,
        "environment": {},
        "dir": None,
        "interpreter": None,
        "stdin": None,
        "triggers": [],
        "add_previous_output_in_env": True,
        "stdout": None,
        "stderr": None,
    }
    return {**base, **kw}


def test_create_captures_stdout_and_stderr_in_dir(tmp_path: Path) -> None:
    p = LocalCommandProvider()
    out = p.create(
        props(
            create='echo "$GREETING"; pwd; echo oops >&2', environment={"GREETING": "hi"}, dir=str(tmp_path)
        )
    )
    assert out.outs is not None
    assert out.outs["stdout"].splitlines() == ["hi", str(tmp_path)]
    assert out.outs["stderr"].strip() == "oops"


def test_spec_values_in_the_environment_are_not_parsed_by_the_shell(tmp_path: Path) -> None:
    evil = f"x; touch {tmp_path}/pwned; $(touch {tmp_path}/pwned2)"
    out = LocalCommandProvider().create(props(create='printf %s "$APP_NAME"', environment={"APP_NAME": evil}))
    assert out.outs is not None
    assert out.outs["stdout"] == evil
    assert not list(tmp_path.iterdir())


def test_stdin_is_fed_to_the_command() -> None:
    out = LocalCommandProvider().create(props(create="cat", stdin="from stdin"))
    assert out.outs is not None
    assert out.outs["stdout"] == "from stdin"


def test_failure_names_the_step_and_never_echoes_secrets() -> None:
    with pytest.raises(CommandError) as err:
        LocalCommandProvider().create(
            props(
                create='echo "token is $EXPO_TOKEN" >&2; exit 3', environment={"EXPO_TOKEN": "s3cr3t-token"}
            )
        )
    assert "create command exited with status 3" in str(err.value)
    assert "s3cr3t-token" not in str(err.value)
    assert "[redacted]" in str(err.value)


def test_redact_leaves_short_values_alone() -> None:
    assert redact("a key abc and secret-long", {"A": "abc", "B": "secret-long"}) == "a key abc and [redacted]"


def test_diff_triggers_replace_other_inputs_update() -> None:
    p = LocalCommandProvider()
    old = props(create="echo a", triggers=["v1"])
    assert not p.diff("id", old, props(create="echo a", triggers=["v1"])).changes
    replaced = p.diff("id", old, props(create="echo a", triggers=["v2"]))
    assert replaced.changes
    assert replaced.replaces == ["triggers"]
    assert replaced.delete_before_replace
    updated = p.diff("id", old, props(create="echo b", triggers=["v1"]))
    assert updated.changes
    assert not updated.replaces
    env_changed = p.diff("id", old, props(create="echo a", triggers=["v1"], environment={"X": "1"}))
    assert env_changed.changes
    assert not env_changed.replaces


def test_update_runs_update_or_create_and_sees_previous_output() -> None:
    p = LocalCommandProvider()
    olds = props(create="echo one", stdout="one\n", stderr="")
    news = props(create="echo one", update='echo "was $PULUMI_COMMAND_STDOUT"')
    res = p.update("id", olds, news)
    assert res.outs is not None
    assert res.outs["stdout"].strip() == "was one"
    res = p.update("id", olds, props(create="echo two"))
    assert res.outs is not None
    assert res.outs["stdout"] == "two\n"


def test_delete_runs_delete_command_with_env_and_dir(tmp_path: Path) -> None:
    p = LocalCommandProvider()
    p.delete("id", props(delete='rm -f "$TARGET"', environment={"TARGET": "gone.txt"}, dir=str(tmp_path)))
    (tmp_path / "gone.txt").write_text("x")
    p.delete("id", props(delete='rm "$TARGET"', environment={"TARGET": "gone.txt"}, dir=str(tmp_path)))
    assert not (tmp_path / "gone.txt").exists()
    p.delete("id", props())  # no delete command: nothing to run


def test_missing_interpreter_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="could not start"):
        LocalCommandProvider().create(props(create="true", interpreter=["/nonexistent/sh", "-c"]))


def test_credentials_printed_by_a_command_are_blanked_in_its_stored_output() -> None:
    env = {"EXPO_TOKEN": "s3cr3t-token", "OUT_DIR": "/tmp/out-dir"}
    out = LocalCommandProvider().create(props(create='echo "$EXPO_TOKEN in $OUT_DIR"', environment=env))
    assert out.outs is not None
    assert out.outs["stdout"].strip() == "[redacted] in /tmp/out-dir"
