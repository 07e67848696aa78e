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


PAGES = (
    "urn:pulumi:a::oneclick::oneclick:app:App$oneclick:cloudflare:PagesProject"
    "$pulumi-python:dynamic:Resource::a-site"
)
DOMAIN = (
    "urn:pulumi:a::oneclick::oneclick:app:App$oneclick:cloudflare:CustomDomain"
    "$pulumi-python:dynamic:Resource::a-domain"
)


def test_only_names_derived_from_the_app_id_prove_a_resource_is_the_stacks() -> None:
    assert recover._owned("a", {"urn": TURSO, "inputs": {"name": "a"}})
    assert recover._owned("a", {"urn": PAGES, "inputs": {"project_name": "a"}})
    # A custom domain is the stack's when it sits under the stack's own Pages project.
    assert recover._owned("a", {"urn": DOMAIN, "inputs": {"domain": "x.example.com", "project_name": "a"}})

    assert not recover._owned("a", {"urn": TURSO, "inputs": {"name": "victims-db"}})
    assert not recover._owned("a", {"urn": PAGES, "inputs": {"project_name": "victims-site"}})
    assert not recover._owned("a", {"urn": DOMAIN, "inputs": {"domain": "a", "project_name": "victim"}})
    assert not recover._owned("a", {"urn": TURSO, "inputs": {"name": ENCRYPTED}})  # cannot be read
    assert not recover._owned("a", {"urn": SECRET, "inputs": {"bytes": 32}})


def test_a_pending_create_under_another_name_is_explained_not_adopted() -> None:
    warning = recover._not_adopted("a", {"urn": TURSO, "inputs": {"name": "victims-db"}})
    assert warning.startswith("a-db: its create was interrupted")
    assert "'victims-db'" in warning
    assert "'a'" in warning  # the name the app owns
    assert "not adopted" in warning
    domain = recover._not_adopted(
        "a", {"urn": DOMAIN, "inputs": {"domain": "x.example.com", "project_name": "v"}}
    )
    assert "'x.example.com' of Pages project 'v'" in domain


def test_typed_resources_are_adopted_like_the_wrapped_ones_of_a_stack_not_yet_upgraded() -> None:
    typed = {
        "urn:pulumi:a::oneclick::oneclick:app:App$pulumi-python:dynamic/turso:Database::a-db": "name",
        "urn:pulumi:a::oneclick::oneclick:app:App$pulumi-python:dynamic/cloudflare:PagesProject::a-site": (
            "project_name"
        ),
    }
    for urn, key in typed.items():
        assert recover._owned("a", {"urn": urn, "inputs": {key: "a"}})
        candidate = recover._adoption_candidate({"urn": urn, "inputs": {key: "a"}})
        assert candidate is not None
        assert candidate["id"] == "a"
    neon = "urn:pulumi:a::oneclick::oneclick:app:App$pulumi-python:dynamic/neon:Project::a-db"
    assert recover._adoption_candidate({"urn": neon, "inputs": {"project_name": "a"}}) is None
