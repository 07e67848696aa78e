"""The in-process drift check: when it refuses (the engine answers instead), and how it reads."""

from __future__ import annotations

import base64
import gzip
import json
import os
from pathlib import Path
from typing import Any

import dill  # type: ignore[import-untyped]
import pytest
import yaml
from pulumi.dynamic import ReadResult, ResourceProvider

from automation import drift_direct, stack_secrets
from automation.drift_direct import Unfaithful
from automation.pulumi_state import SECRET_SIG, SIG_KEY
from automation.stack_secrets import StackCrypter
from automation.state_blobs import FileBlobs

PROJECT, APP = "oneclick", "app-one"
CHECKPOINT = f".pulumi/stacks/{PROJECT}/{APP}.json"
DYNAMIC = "pulumi-python:dynamic/cloudflare:Site"
URN = f"urn:pulumi:{APP}::{PROJECT}::{DYNAMIC}::{APP}-site"
CRYPTER = StackCrypter(os.urandom(32), "v1:c2FsdA==:check")


class Vendor(ResourceProvider):
    """What the vendor has now, for one resource."""

    def __init__(self, outs: dict[str, Any] | None, fails: bool = False) -> None:
        self.outs, self.fails = outs, fails

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        if self.fails:
            raise RuntimeError("vendor down")
        return ReadResult(id_ if self.outs is not None else None, dict(self.outs or {}))


def secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "ciphertext": CRYPTER.encrypt(json.dumps(value))}


def resource(vendor: Vendor, outputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    pickled = base64.b64encode(dill.dumps(vendor, recurse=True)).decode()
    return {
        "urn": URN,
        "custom": True,
        "type": DYNAMIC,
        "id": "site-1",
        "outputs": {**outputs, "__provider": pickled},
        **extra,
    }


def write(blobs: FileBlobs, latest: dict[str, Any], *, version: int = 3, gz: bool = False) -> None:
    data = json.dumps({"version": version, "checkpoint": {"latest": latest}}).encode()
    blobs.write(CHECKPOINT + (".gz" if gz else ""), gzip.compress(data) if gz else data)


def refusal(call: Any) -> str:
    with pytest.raises(Unfaithful) as raised:
        call()
    return str(raised.value)


def test_a_readable_checkpoint_gives_its_latest_deployment(tmp_path: Path) -> None:
    blobs = FileBlobs(tmp_path)
    write(blobs, {"resources": [{"urn": URN}]}, gz=True)
    assert drift_direct._latest(blobs, PROJECT, APP) == {"resources": [{"urn": URN}]}


def test_what_stands_in_the_way_of_reading_the_checkpoint_is_refused(tmp_path: Path) -> None:
    blobs = FileBlobs(tmp_path)
    assert "no checkpoint" in refusal(lambda: drift_direct._latest(blobs, PROJECT, APP))
    blobs.write(CHECKPOINT, b'{"version": 3, "checkpoint": {"latest": {"resources": [')
    assert "cannot be parsed" in refusal(lambda: drift_direct._latest(blobs, PROJECT, APP))
    write(blobs, {}, version=4)
    assert "version 3" in refusal(lambda: drift_direct._latest(blobs, PROJECT, APP))
    write(blobs, {"pending_operations": [{"type": "updating", "resource": {"urn": URN}}]})
    assert "pending operations" in refusal(lambda: drift_direct._latest(blobs, PROJECT, APP))
    write(blobs, {})
    blobs.write(f".pulumi/locks/organization/{PROJECT}/{APP}/abc.json", b'{"pid": 1}')
    assert "locked" in refusal(lambda: drift_direct._latest(blobs, PROJECT, APP))


def test_secrets_the_process_cannot_open_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"PULUMI_CONFIG_PASSPHRASE": "the-one"}
    assert "not a passphrase" in refusal(
        lambda: drift_direct._crypter(APP, env, {"secrets_providers": {"type": "cloud"}})
    )
    made = StackCrypter(stack_secrets._key("the-one", b"saltsalt"))
    salt_state = f"v1:{base64.b64encode(b'saltsalt').decode()}:{made.encrypt('pulumi')}"
    config = tmp_path / f"Pulumi.{APP}.yaml"
    config.write_text(yaml.safe_dump({"encryptionsalt": salt_state}))
    monkeypatch.setattr(stack_secrets, "stack_config_path", lambda app_id: config)
    latest = {"secrets_providers": {"type": "passphrase", "state": {"salt": salt_state}}}
    assert drift_direct._crypter(APP, env, latest).salt_state == salt_state
    wrong = {"PULUMI_CONFIG_PASSPHRASE": "not-the-one"}
    assert "passphrase key" in refusal(lambda: drift_direct._crypter(APP, wrong, latest))
    other = {"secrets_providers": {"type": "passphrase", "state": {"salt": "v1:b3RoZXI=:x"}}}
    assert "config file's key" in refusal(lambda: drift_direct._crypter(APP, env, other))


def test_resources_the_engine_would_read_otherwise_are_refused() -> None:
    vendor = Vendor({"name": "a"})
    foreign = {**resource(vendor, {"name": "a"}), "type": "aws:s3/bucket:Bucket"}
    assert "not a Python dynamic resource" in refusal(lambda: drift_direct._check_resource(foreign, CRYPTER))
    doomed = resource(vendor, {"name": "a"}, delete=True)
    assert "pending deletion" in refusal(lambda: drift_direct._check_resource(doomed, CRYPTER))
    failing = resource(Vendor({"name": "a"}, fails=True), {"name": "a"})
    assert "the read failed" in refusal(lambda: drift_direct._check_resource(failing, CRYPTER))
    # The root stack, providers and components are not read by a refresh.
    for skipped in (
        {"type": "pulumi:pulumi:Stack", "custom": False},
        {"type": "pulumi:providers:pulumi-python", "custom": True},
        {"type": "oneclick:index:App", "custom": False},
    ):
        assert drift_direct._check_resource(skipped, CRYPTER) is None


def test_a_read_is_compared_as_the_engine_compares_it() -> None:
    stored = {"name": "a", "env": {"MODE": "one", "API_KEY": secret("k1")}, "token": secret("t"), "n": 2}
    same = resource(
        Vendor({"name": "a", "env": {"MODE": "one", "API_KEY": "k1"}, "token": "t", "n": 2.0}), stored
    )
    assert drift_direct._check_resource(same, CRYPTER) is None

    seen = {"name": "a", "env": {"MODE": "two", "API_KEY": "k2"}, "token": "t2", "n": 2, "new": 1}
    changed = drift_direct._check_resource(resource(Vendor(seen), stored), CRYPTER)
    assert changed is not None
    assert changed.change == "changed"
    # Secret values stay secret (the engine marks a read's output secret where the state's was),
    # so they are neither compared nor shown; an output the state never had is not compared.
    assert [p.as_dict() for p in changed.properties] == [{"property": "env.MODE", "old": "one", "new": "two"}]
    gone = drift_direct._check_resource(resource(Vendor(None), stored), CRYPTER)
    assert gone is not None
    assert (gone.urn, gone.change, gone.properties) == (URN, "deleted", ())


def test_the_provider_sees_the_outputs_decrypted_as_the_provider_host_would() -> None:
    stored = {"name": "a", "token": secret("t"), "gone": None, "nested": {"x": None, "n": 3}}
    props = drift_direct._wire(json.loads(json.dumps(stack_secrets.reveal(stored, CRYPTER)[0])))
    assert props == {"name": "a", "token": "t", "nested": {"n": 3}}
