"""Credentials and database URLs encrypted at rest: AES-256-GCM with versioned keys.

Keys come from the environment, each a base64 encoding of 32 random bytes with a version label:

    CREDENTIALS_ENCRYPTION_KEY="v1:<base64>"            one key (the label defaults to v1)
    CREDENTIALS_ENCRYPTION_KEYS="v2:<base64>,v1:<base64>" rotation: the first encrypts, all decrypt

Make one with `oneclick service new-key`. A stored value is an envelope

    0x01 | len(version) | version | 12-byte nonce | ciphertext + 16-byte tag

and the associated data names the table, row and column it belongs to (plus the key version), so a
ciphertext copied into another row, another column or relabelled with another version fails to
decrypt. `oneclick service rotate-key` re-encrypts every envelope with the current key, after which
older keys can be dropped.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import OneclickError, UserError
from core.settings import load_settings, settings

FORMAT = 0x01
NONCE_BYTES = 12
KEY_BYTES = 32
VERSION = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class VaultConfigError(UserError, ValueError):
    """The key settings are missing or malformed; the message names the variable and the fix."""


class DecryptionError(OneclickError, RuntimeError):
    """A stored value cannot be decrypted: wrong row, tampered, or its key version is unknown."""


@dataclass(frozen=True)
class Binding:
    """Where an encrypted value lives; part of the associated data, so it cannot move."""

    table: str
    row_id: str
    column: str

    def associated_data(self, version: str) -> bytes:
        return f"oneclick|{self.table}|{self.row_id}|{self.column}|{version}".encode()


def generate_key(version: str = "v1") -> str:
    """A fresh key in the `version:base64` form the environment variables take."""
    return f"{version}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def _parse_key(entry: str, variable: str) -> tuple[str, bytes]:
    version, _, encoded = entry.strip().rpartition(":")
    version = version or "v1"
    if not VERSION.match(version):
        raise VaultConfigError(
            f"{variable}: key version {version!r} is not valid; use letters, digits, '.', '_' or '-' "
            "(e.g. v2:<base64>)"
        )
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise VaultConfigError(
            f"{variable}: key {version} is not base64 of 32 bytes; make one with `oneclick service new-key`"
        )
    return version, key


class Vault:
    """Encrypts with the current key, decrypts with any known one. Never logs or repeats a value."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise VaultConfigError(f"the current key version {current!r} is not among the keys")
        self._ciphers = {version: AESGCM(key) for version, key in keys.items()}
        self.current = current

    @property
    def versions(self) -> list[str]:
        return list(self._ciphers)

    def __repr__(self) -> str:
        return f"Vault(current={self.current!r}, versions={self.versions!r})"

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Vault:
        """The vault this process's settings (or `env`, in tests) give the keys of."""
        service = (settings() if env is None else load_settings(env)).service
        single = service.encryption_key.reveal().strip() if service.encryption_key else ""
        many = service.encryption_keys.reveal().strip() if service.encryption_keys else ""
        if single and many:
            raise VaultConfigError(
                "CREDENTIALS_ENCRYPTION_KEY and CREDENTIALS_ENCRYPTION_KEYS are both set; keep only "
                "CREDENTIALS_ENCRYPTION_KEYS (current key first) while rotating"
            )
        if not single and not many:
            raise VaultConfigError(
                "CREDENTIALS_ENCRYPTION_KEY is not set; make a key with `oneclick service new-key` and "
                "export it (the same value on every API server and worker)"
            )
        variable = "CREDENTIALS_ENCRYPTION_KEYS" if many else "CREDENTIALS_ENCRYPTION_KEY"
        keys: dict[str, bytes] = {}
        for entry in (many or single).split(","):
            if not entry.strip():
                continue
            version, key = _parse_key(entry, variable)
            if version in keys:
                raise VaultConfigError(f"{variable}: key version {version} is listed twice")
            keys[version] = key
        return Vault(keys, next(iter(keys)))

    def encrypt(self, plaintext: str, binding: Binding) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        version = self.current.encode()
        sealed = self._ciphers[self.current].encrypt(
            nonce, plaintext.encode(), binding.associated_data(self.current)
        )
        return bytes([FORMAT, len(version)]) + version + nonce + sealed

    @staticmethod
    def version_of(envelope: bytes) -> str:
        if len(envelope) < 2 or envelope[0] != FORMAT:
            raise DecryptionError("not a vault envelope (unknown format)")
        return envelope[2 : 2 + envelope[1]].decode(errors="replace")

    def decrypt(self, envelope: bytes, binding: Binding) -> str:
        version = self.version_of(envelope)
        cipher = self._ciphers.get(version)
        if cipher is None:
            raise DecryptionError(
                f"{binding.table}.{binding.column} of row {binding.row_id} was encrypted with key "
                f"{version}, which is not configured; add it to CREDENTIALS_ENCRYPTION_KEYS"
            )
        start = 2 + envelope[1]
        nonce, sealed = envelope[start : start + NONCE_BYTES], envelope[start + NONCE_BYTES :]
        try:
            return cipher.decrypt(nonce, sealed, binding.associated_data(version)).decode()
        except InvalidTag:
            raise DecryptionError(
                f"{binding.table}.{binding.column} of row {binding.row_id} does not decrypt: it was "
                "tampered with or belongs to another row"
            ) from None

    def reencrypt(self, envelope: bytes, binding: Binding) -> bytes | None:
        """The envelope under the current key, or None when it already is."""
        if self.version_of(envelope) == self.current:
            return None
        return self.encrypt(self.decrypt(envelope, binding), binding)
