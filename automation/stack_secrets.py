"""A passphrase stack's secrets, encrypted and decrypted in this process as the Pulumi CLI does.

A deploy ran the CLI twice just for its secrets: `config set-all` (to encrypt the secret config)
and `stack output --show-secrets` (to decrypt the outputs), each a CLI start plus a passphrase key
derivation (PBKDF2-SHA256, 1,000,000 rounds): about 0.7 s of CPU. The same derivation done once
here, with the same AES-256-GCM format (`v1:<nonce>:<ciphertext>`, Pulumi's `symmetricCrypter`),
serves both. Only the passphrase provider on a backend oneclick can read directly (file,
PostgreSQL) is handled; anything else, or a passphrase that does not open the stack, returns None
and the caller asks the CLI as before (which gives the user Pulumi's own error).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from automation import stack_config
from automation.environment import stack_config_path
from automation.pulumi_state import is_secret
from automation.state_blobs import Blobs, blobs_for, read_checkpoint

ROUNDS = 1_000_000  # Pulumi's passphrase key derivation
STACK_TYPE = "pulumi:pulumi:Stack"


@cache
def _key(passphrase: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, ROUNDS, 32)


class StackCrypter:
    """Encrypts and decrypts one stack's secrets with its passphrase key."""

    def __init__(self, key: bytes, salt_state: str = "") -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aes = AESGCM(key)
        self.salt_state = salt_state  # `v1:<salt>:<check>`, as in the config file and the state

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aes.encrypt(nonce, plaintext.encode(), None)
        return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"

    def decrypt(self, value: str) -> str:
        version, nonce, sealed = value.split(":")
        if version != "v1":
            raise ValueError(f"unknown secret version {version!r}")
        return self._aes.decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode()

    @classmethod
    def for_stack(cls, app_id: str, env: Mapping[str, str]) -> StackCrypter | None:
        """The stack's crypter, from its config file's salt and the passphrase in `env`; None when
        this process cannot (no cryptography, another secrets provider, no or a wrong passphrase)."""
        try:
            import cryptography  # noqa: F401  (the service extra has it; a core install may not)
        except ImportError:
            return None
        passphrase = _passphrase(env)
        path = stack_config_path(app_id)
        if passphrase is None or not path.exists():
            return None
        document = yaml.safe_load(path.read_text()) or {}
        salt_state = document.get("encryptionsalt")
        if document.get("secretsprovider") not in (None, "passphrase", "default") or not salt_state:
            return None
        version, salt, check = str(salt_state).split(":", 2)
        if version != "v1":
            return None
        crypter = cls(_key(passphrase, base64.b64decode(salt)), str(salt_state))
        try:
            if crypter.decrypt(check) != "pulumi":  # how Pulumi tells a wrong passphrase
                return None
        except Exception:
            return None
        return crypter


def _passphrase(env: Mapping[str, str]) -> str | None:
    if file := env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        try:
            return Path(file).read_text().rstrip("\r\n")
        except OSError:
            return None
    return env.get("PULUMI_CONFIG_PASSPHRASE")


def write_config(app_id: str, values: dict[str, tuple[str, bool]], crypter: StackCrypter) -> None:
    """Set config keys in the stack's file as `config set-all` would: `{key: (value, secret)}`."""
    path = stack_config_path(app_id)
    document = yaml.safe_load(path.read_text()) or {}
    config = document.setdefault("config", {}) or {}
    for key, (value, secret) in values.items():
        config[key] = {"secure": crypter.encrypt(value)} if secret else value
    document["config"] = config
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1 << 20))
    stack_config.save(app_id)


def reveal(value: Any, crypter: StackCrypter) -> tuple[Any, bool]:
    """A checkpoint value with its secrets decrypted, and whether it held any."""
    if isinstance(value, dict):
        if is_secret(value):  # the encrypted JSON of the value
            if "ciphertext" in value:
                return json.loads(crypter.decrypt(value["ciphertext"])), True
            return value.get("plaintext"), True
        pairs = {k: reveal(v, crypter) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [reveal(v, crypter) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def stack_outputs(
    app_id: str, project: str, backend_url: str, crypter: StackCrypter
) -> dict[str, tuple[Any, bool]] | None:
    """The root stack's outputs from the backend's checkpoint, `{name: (value, secret)}`; None when
    the checkpoint cannot be read here."""
    blobs = blobs_for(backend_url)
    if blobs is None:
        return None
    data = read_checkpoint(blobs, project, app_id)
    if data is None:
        return None
    latest = json.loads(data).get("checkpoint", {}).get("latest") or {}
    provider = latest.get("secrets_providers") or {}
    salt = (provider.get("state") or {}).get("salt")
    if provider.get("type") != "passphrase" or salt != crypter.salt_state:
        return None  # the state's secrets are not under the config file's key
    resources = latest.get("resources") or []
    root = next((r for r in resources if r.get("type") == STACK_TYPE), None)
    if root is None:
        return None
    return {name: reveal(value, crypter) for name, value in (root.get("outputs") or {}).items()}


SALT_KEY = ".oneclick/stack-salt"  # in the backend: the salt new passphrase stacks share


def _installation_salt(blobs: Blobs) -> bytes:
    """The backend's shared salt, made on first use. Two processes making it at once may each use
    their own for a moment: a stack keeps whichever it was created with, so that costs a key
    derivation, never a secret."""
    if (saved := blobs.read(SALT_KEY)) is None:
        blobs.write(SALT_KEY, base64.b64encode(os.urandom(8)))
        saved = blobs.read(SALT_KEY) or b""
    return base64.b64decode(saved)


@cache
def _salt_state(passphrase: str, salt: bytes) -> str:
    check = StackCrypter(_key(passphrase, salt)).encrypt("pulumi")
    return f"v1:{base64.b64encode(salt).decode()}:{check}"


def shared_salt_state(env: Mapping[str, str]) -> str | None:
    """The `encryptionsalt` a new passphrase stack gets: the backend's one salt, so a process that
    checks many stacks (drift, fleet) derives the key once instead of once per stack (1,000,000
    PBKDF2 rounds each). The passphrase alone still guards every secret. None when this process
    cannot make it (no cryptography, a backend it cannot read, no passphrase): Pulumi then makes a
    salt of the stack's own."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return None
    passphrase = _passphrase(env)
    blobs = blobs_for(env.get("PULUMI_BACKEND_URL", ""))
    if passphrase is None or blobs is None:
        return None
    return _salt_state(passphrase, _installation_salt(blobs))
