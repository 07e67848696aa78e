"""Recovery decisions that need no engine: which pending creates can be adopted, and how."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from automation import recover
from automation.pulumi_state import SECRET_SIG, SIG_KEY, is_secret

ENCRYPTED = {SIG_KEY: SECRET_SIG, "ciphertext": "v1:abc"}
TURSO = (
    "urn:pulumi:a::oneclick::oneclick:app:App$oneclick:turso:Database$pulumi-python:dynamic:Resource::a-db"
)
SECRET = "urn:pulumi:a::oneclick::oneclick:app:App$pulumi-python:dynamic:Resource::a-nextauth-secret"


def test_a_pending_create_with_a_known_id_becomes_a_state_resource_to_read_back() -> None:
    pending = {
        "urn": TURSO,
        "custom": True,
        "type": "pulumi-python:dynamic:Resource",
        "inputs": {"name": "a", "org": "o", "api_token": ENCRYPTED},
        "additionalSecretOutputs": ["api_token", "auth_token"],
    }
    candidate = recover._adoption_candidate(pending)
    assert candidate is not None
    assert candidate["id"] == "a"  # the database name: the provider's id
    assert candidate["outputs"]["api_token"] == ENCRYPTED  # still the stack's own ciphertext
    token = candidate["outputs"]["auth_token"]
    assert is_secret(token)
    assert json.loads(token["plaintext"]) == ""  # empty but secret: `read` fills it in
    assert "outputs" not in pending, "the pending operation itself is left as it was"


def test_pending_creates_without_a_findable_id_are_not_adopted() -> None:
    assert recover._adoption_candidate({"urn": SECRET, "inputs": {"bytes": 32}}) is None
    assert recover._adoption_candidate({"urn": TURSO, "inputs": {"name": ENCRYPTED}}) is None


def test_a_killed_process_left_unreaped_is_not_running() -> None:
    assert recover.process_running(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while True:  # exited but not yet waited for: a zombie
        with open(f"/proc/{child.pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
    assert not recover.process_running(child.pid)
    child.wait()
    assert not recover.process_running(child.pid)
