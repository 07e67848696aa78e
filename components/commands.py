"""LocalCommand: run a command on the deploying machine, with `pulumi_command.local.Command` semantics.

The design prefers the maintained `pulumi-command` provider for command-line steps. Its Python SDK is
installed, but its plugin cannot be obtained on machines without internet (its Go module is not
served by the module proxy), so this dynamic provider stands in for it. It takes the same argument
names and gives the same outputs, so swapping it for `pulumi_command.local.Command` is a one-line
change where the plugin is available:

- `create` runs on create; `update` (or `create` when there is no `update`) runs when any other input
  changes; `delete` runs on delete. Each is a command string run by `interpreter` (`/bin/sh -c`).
- a change to `triggers` replaces the resource (delete, then create anew).
- `environment` is added to the process's environment and is kept as a secret in state (inputs
  and outputs: the engine would otherwise store the inputs in plain text).
- `dir` is the working directory; `stdin` is fed to the command.
- `stdout` and `stderr` are outputs; `update` and `delete` see the previous ones as
  `PULUMI_COMMAND_STDOUT` / `PULUMI_COMMAND_STDERR` (`add_previous_output_in_env`).

Spec values never go into a command string: callers pass them through `environment` and refer to
them as `"$NAME"`, so a value such as `x; rm -rf ~` stays one argument and is never parsed by the
shell. Failure messages have every environment value blanked out, and `stdout`/`stderr` the values
of credential-named variables (TOKEN, KEY, SECRET, PASSWORD, ...), so a secret the command prints
reaches neither a log nor the state.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.typed_resource import TypedResource
from core.errors import OneclickError

DEFAULT_INTERPRETER = ["/bin/sh", "-c"]
# Inputs whose change re-runs the update (or create) command in place.
_UPDATING = ("create", "update", "delete", "environment", "dir", "interpreter", "stdin")
# Variables whose values are blanked out of the stored stdout/stderr (the rest are kept: they are
# paths and names a caller may want back, e.g. the artifacts' paths).
CREDENTIAL_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSPHRASE|KEY|P8|CREDENTIAL|SERVICE_ACCOUNT", re.I)
# Enough of a failing command's output to explain it, not a whole build log.
_TAIL = 4000


class CommandError(OneclickError, RuntimeError):
    """A command exited non-zero; the message carries its (redacted) output tail."""


def redact(text: str, environment: dict[str, str]) -> str:
    """Blank out every environment value long enough to be a credential."""
    for value in sorted(environment.values(), key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "[redacted]")
    return text


def run_command(
    command: str,
    *,
    environment: dict[str, str] | None = None,
    dir_: str | None = None,
    interpreter: list[str] | None = None,
    stdin: str | None = None,
    label: str = "command",
) -> tuple[str, str]:
    """Run `command` through the interpreter; (stdout, stderr) or CommandError (redacted)."""
    env = dict(environment or {})
    argv = [*(interpreter or DEFAULT_INTERPRETER), command]
    try:
        done = subprocess.run(
            argv,
            cwd=dir_ or None,
            env={**os.environ, **env},
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise CommandError(f"{label} could not start: {redact(str(exc), env)}") from None
    if done.returncode != 0:
        tail = redact((done.stderr or done.stdout)[-_TAIL:].strip(), env)
        raise CommandError(f"{label} exited with status {done.returncode}: {tail or '(no output)'}")
    return done.stdout, done.stderr


def _previous(props: dict[str, Any]) -> dict[str, str]:
    if not props.get("add_previous_output_in_env", True):
        return {}
    return {
        "PULUMI_COMMAND_STDOUT": str(props.get("stdout") or ""),
        "PULUMI_COMMAND_STDERR": str(props.get("stderr") or ""),
    }


def _run(props: dict[str, Any], command: str, extra_env: dict[str, str], label: str) -> tuple[str, str]:
    environment = {k: str(v) for k, v in (props.get("environment") or {}).items()}
    stdout, stderr = run_command(
        command,
        environment={**extra_env, **environment},
        dir_=props.get("dir"),
        interpreter=props.get("interpreter"),
        stdin=props.get("stdin"),
        label=label,
    )
    secrets = {k: v for k, v in environment.items() if CREDENTIAL_NAME.search(k)}
    return redact(stdout, secrets), redact(stderr, secrets)


class LocalCommandProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        stdout, stderr = ("", "")
        if props.get("create"):
            stdout, stderr = _run(props, str(props["create"]), {}, "create command")
        return CreateResult(id_=uuid.uuid4().hex, outs={**props, "stdout": stdout, "stderr": stderr})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)  # a command leaves nothing remote to compare against

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["triggers"] if (olds.get("triggers") or []) != (news.get("triggers") or []) else []
        changed = [key for key in _UPDATING if olds.get(key) != news.get(key)]
        return DiffResult(
            changes=bool(replaces or changed),
            replaces=replaces,
            stables=[],
            delete_before_replace=True,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        command = news.get("update") or news.get("create")
        stdout, stderr = (str(olds.get("stdout") or ""), str(olds.get("stderr") or ""))
        if command:
            stdout, stderr = _run(news, str(command), _previous(olds), "update command")
        return UpdateResult(outs={**news, "stdout": stdout, "stderr": stderr})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("delete"):
            _run(props, str(props["delete"]), _previous(props), "delete command")


class LocalCommand(TypedResource, module="command", name="Local"):
    """A command run on the deploying machine; drop-in for `pulumi_command.local.Command`.

    Give spec values through `environment` (referred to as "$NAME" in the command), never by
    formatting them into the command string.
    """

    # The environment may hold credentials (EXPO_TOKEN, store keys): never plaintext in state.
    SECRET_OUTPUTS = ("environment",)

    stdout: pulumi.Output[str]
    stderr: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        create: pulumi.Input[str] | None = None,
        update: pulumi.Input[str] | None = None,
        delete: pulumi.Input[str] | None = None,
        environment: pulumi.Input[dict[str, pulumi.Input[str]]] | None = None,
        dir: pulumi.Input[str] | None = None,  # pulumi-command's argument name
        interpreter: pulumi.Input[list[str]] | None = None,
        stdin: pulumi.Input[str] | None = None,
        triggers: pulumi.Input[list[Any]] | None = None,
        add_previous_output_in_env: bool = True,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "create": create,
            "update": update,
            "delete": delete,
            # Secret as an input too: additional_secret_outputs alone leaves the inputs in plain text.
            "environment": pulumi.Output.secret(environment or {}),
            "dir": dir,
            "interpreter": interpreter,
            "stdin": stdin,
            "triggers": triggers or [],
            "add_previous_output_in_env": add_previous_output_in_env,
        }
        super().__init__(LocalCommandProvider(), name, props, opts)
