"""A drift check in this process: the engine's refresh preview, done without starting the engine.

Every resource oneclick deploys is a Python dynamic resource, so the engine's refresh of one of its
stacks is: for each custom resource in the checkpoint, unpickle its provider (the `__provider`
output), call `provider.read(id, outputs)` and compare what comes back with the stored outputs. A
refresh preview through the CLI pays ~0.9 s of CPU per stack for that (CLI start, passphrase key
derivation, dynamic-provider host start) around reads that take milliseconds. Here the checkpoint
is read from the backend, its secrets decrypted with the key this process already derived, and
the providers' reads are called directly, exactly as `pulumi/dynamic/__main__.py` (`Read`) and the
engine's provider plugin (`annotateSecrets`) do.

Whenever that could differ from the engine's answer, `check` raises `Unfaithful` and the caller
runs the engine instead: a backend or secrets provider this process cannot read, a wrong
passphrase, a resource that is not a Python dynamic one, pending operations, a held lock (an
update is under way; the engine's preview takes no lock, so its answer is the reference), or a
read that fails (the engine's error names it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import dill  # type: ignore[import-untyped]
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]  # pulumi's wire format
from pulumi.dynamic import Config, ConfigureRequest, ResourceProvider
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _deserialize

from automation import stack_config
from automation.drift_result import ResourceDrift, StackDrift, property_changes
from automation.environment import pulumi_env
from automation.pulumi_state import SECRET_SIG, SIG_KEY, is_secret
from automation.stack_secrets import StackCrypter, reveal
from automation.state_blobs import Blobs, blobs_for, lock_keys, read_checkpoint
from automation.urns import resource_type
from automation.workspace import check_app_id, recorded_target_is_sandbox
from core.errors import OneclickError

PROVIDER_KEY = "__provider"  # the pickled provider among a dynamic resource's outputs
DYNAMIC_TYPE = "pulumi-python:dynamic"
SKIPPED_TYPES = ("pulumi:pulumi:Stack", "pulumi:providers:")  # refresh reads neither


class Unfaithful(OneclickError):
    """This process cannot be sure to answer as the engine would; the message says why."""


def check(app_id: str) -> StackDrift:
    """One app's drift as the engine's refresh preview would report it; raises `Unfaithful`."""
    started = time.monotonic()
    try:
        check_app_id(app_id)
    except Exception as exc:
        raise Unfaithful(f"app id: {exc}") from None
    stack_config.restore(app_id)
    env = pulumi_env(recorded_target_is_sandbox(app_id))
    blobs = blobs_for(env.get("PULUMI_BACKEND_URL", ""))
    if blobs is None:
        raise Unfaithful("the backend cannot be read from this process")
    latest = _latest(blobs, stack_config.project_name(), app_id)
    crypter = _crypter(app_id, env, latest)
    found: dict[str, ResourceDrift] = {}
    for resource in latest.get("resources") or []:
        drifted = _check_resource(resource, crypter)
        if drifted is not None:
            found[drifted.urn] = drifted
    resources = sorted(found.values(), key=lambda r: r.urn)
    return StackDrift(
        app_id,
        "drift" if resources else "clean",
        resources,
        seconds=time.monotonic() - started,
        via="direct",
    )


def _latest(blobs: Blobs, project: str, app_id: str) -> dict[str, Any]:
    """The checkpoint's latest deployment, if nothing (lock, pending operation) stands in the way."""
    if lock_keys(blobs, app_id):
        raise Unfaithful("the stack is locked")
    data = read_checkpoint(blobs, project, app_id)
    if data is None:
        raise Unfaithful("no checkpoint under the project's stacks")
    try:
        document = json.loads(data)
        latest = document["checkpoint"]["latest"] or {}
    except (ValueError, KeyError, TypeError):
        raise Unfaithful("the checkpoint cannot be parsed") from None
    if document.get("version") != 3 or not isinstance(latest, dict):
        raise Unfaithful("the checkpoint is not a version 3 deployment")
    if latest.get("pending_operations"):
        raise Unfaithful("the checkpoint has pending operations")
    return latest


def _crypter(app_id: str, env: Mapping[str, str], latest: Mapping[str, Any]) -> StackCrypter:
    provider = latest.get("secrets_providers") or {}
    if provider.get("type") != "passphrase":
        raise Unfaithful("the secrets provider is not a passphrase")
    crypter = StackCrypter.for_stack(app_id, env)
    if crypter is None:
        raise Unfaithful("the stack's passphrase key is not available here")
    if (provider.get("state") or {}).get("salt") != crypter.salt_state:
        raise Unfaithful("the state's secrets are not under the config file's key")
    return crypter


def _check_resource(resource: Mapping[str, Any], crypter: StackCrypter) -> ResourceDrift | None:
    kind = str(resource.get("type") or "")
    if not resource.get("custom") or kind.startswith(SKIPPED_TYPES):
        return None
    urn = str(resource.get("urn") or "")
    if not kind.startswith(DYNAMIC_TYPE):
        raise Unfaithful(f"{urn} is not a Python dynamic resource")
    if resource.get("delete") or resource.get("pendingReplacement"):
        raise Unfaithful(f"{urn} is pending deletion")
    stored = resource.get("outputs") or {}
    plain, _ = reveal(stored, crypter)
    props = _wire(plain)
    if not isinstance(props.get(PROVIDER_KEY), str):
        raise Unfaithful(f"{urn} has no pickled provider")
    try:
        result = _provider(props[PROVIDER_KEY]).read(str(resource.get("id") or ""), props)
    except Exception as exc:  # the engine reports a failed read in its own words
        raise Unfaithful(f"{urn}: the read failed ({type(exc).__name__})") from None
    if not result.id:
        return ResourceDrift(urn, "deleted")
    outs = dict(result.outs or {})
    outs[PROVIDER_KEY] = props[PROVIDER_KEY]
    observed = _from_provider(outs)
    _annotate_secrets(observed, stored)
    changes = property_changes(resource_type(urn), stored, observed)
    return ResourceDrift(urn, "changed", tuple(changes)) if changes else None


def _wire(outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs as the provider host receives them (`rpc.deserialize_properties` of a Struct:
    nulls dropped at every depth, whole floats as ints)."""
    struct = struct_pb2.Struct()
    struct.update(outputs)
    return dict(rpc.deserialize_properties(struct))


def _from_provider(outs: dict[str, Any]) -> dict[str, Any]:
    """A read's outputs as the engine receives them (`rpc.serialize_properties`, as `Read` does)."""
    loop = asyncio.new_event_loop()
    try:
        struct = loop.run_until_complete(rpc.serialize_properties(outs, {}))
    finally:
        loop.close()
    return dict(json_format.MessageToDict(struct))


def _annotate_secrets(outs: dict[str, Any], ins: Mapping[str, Any]) -> None:
    """The engine's `annotateSecrets`: the dynamic provider does not accept secrets, so a read's
    output is secret wherever the stored one held a secret (objects are compared key by key)."""
    for key, old in ins.items():
        if key not in outs:
            continue
        new = outs[key]
        if isinstance(new, dict) and isinstance(old, dict) and not is_secret(new) and not is_secret(old):
            _annotate_secrets(new, old)
        elif not is_secret(new) and _contains_secret(old):
            outs[key] = _SECRET


_SECRET = {SIG_KEY: SECRET_SIG}  # a secret as the engine shows one: its value is never kept


def _contains_secret(value: Any) -> bool:
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


_providers: dict[str, ResourceProvider] = {}
_providers_lock = threading.Lock()


def _provider(pickled: str) -> ResourceProvider:
    """The unpickled, configured provider, once per process (as the provider host's `get_provider`)."""
    with _providers_lock:
        provider = _providers.get(pickled)
        if provider is None:
            # The state's own provider, pickled by our program, unpickled as the engine's host would.
            provider = _deserialize(lambda: dill.loads(base64.b64decode(pickled)))  # noqa: S301
            config = Config(raw_config={}, project_name=stack_config.project_name())
            provider.configure(ConfigureRequest(config=config))
            _providers[pickled] = provider
        return provider
