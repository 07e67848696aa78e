"""Secrets oneclick encrypts and decrypts itself read the same as the Pulumi CLI's own."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from automation import operations
from automation.app_stack import AppStack
from automation.environment import TOOLS_BIN, project_dir
from automation.stack_secrets import StackCrypter
from automation.workspace import workspace
from components.spec import AppSpec
from sandbox.endpoint import SandboxEndpoint
from tests.helpers import new_app

pytestmark = pytest.mark.engine


def _pulumi(*args: str) -> str:
    env = workspace(True).env_vars
    done = subprocess.run(
        [str(TOOLS_BIN / "pulumi"), "--non-interactive", *args],
        cwd=project_dir(),
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_config_written_here_is_read_by_the_cli(sandbox: SandboxEndpoint, app_id: str) -> None:
    operations.deploy(AppSpec.parse({"id": app_id}))
    assert StackCrypter.for_stack(app_id, workspace(True).env_vars) is not None, "the direct path ran"
    tokens = json.loads(
        json.loads(_pulumi("config", "get", "oneclick:tokens", "--json", "--stack", app_id))["value"]
    )
    assert tokens, "the CLI decrypts the tokens this process encrypted"
    text = (project_dir() / "stacks" / f"Pulumi.{app_id}.yaml").read_text()
    assert all(str(v) not in text for v in tokens.values()), "secrets are stored encrypted"


def test_outputs_decrypted_here_equal_the_clis(sandbox: SandboxEndpoint, app_id: str) -> None:
    operations.deploy(AppSpec.parse({"id": app_id}))
    cli = json.loads(_pulumi("stack", "output", "--json", "--show-secrets", "--stack", app_id))
    masked = json.loads(_pulumi("stack", "output", "--json", "--stack", app_id))
    stack = AppStack.open(app_id, workspace(True), create=False)
    found = stack._outputs_from_checkpoint()
    assert found is not None
    assert {k: v.value for k, v in found.items()} == cli
    assert {k for k, v in found.items() if v.secret} == {k for k, v in masked.items() if v == "[secret]"}
    assert found["databaseAuthToken"].secret


def test_a_wrong_passphrase_leaves_it_to_the_cli(sandbox: SandboxEndpoint, app_id: str) -> None:
    operations.deploy(AppSpec.parse({"id": app_id}))
    env = {**workspace(True).env_vars, "PULUMI_CONFIG_PASSPHRASE": "not-the-one"}
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    assert StackCrypter.for_stack(app_id, env) is None


def test_new_stacks_share_the_backends_salt(sandbox: SandboxEndpoint, app_ids: list[str]) -> None:
    first, second = new_app(app_ids), new_app(app_ids)
    for app in (first, second):
        operations.deploy(AppSpec.parse({"id": app}))
    salts = {
        app: yaml.safe_load((project_dir() / "stacks" / f"Pulumi.{app}.yaml").read_text())["encryptionsalt"]
        for app in (first, second)
    }
    assert salts[first] == salts[second], "one key derivation serves both"
    for app in (first, second):  # and the CLI opens both with it
        assert json.loads(_pulumi("stack", "output", "--json", "--show-secrets", "--stack", app))["target"]
