"""Store credentials, checked for shape before any command uses them.

An App Store Connect API key is a 10-character key id, an issuer UUID and a `.p8` PKCS#8 PEM private
key; a Google Play service account is Google's JSON key file. Messages name the credential and the
fix, never any part of the value: these are secrets, and error texts end up in logs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from core.errors import UserError

KEY_ID = re.compile(r"^[A-Z0-9]{10}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


class CredentialError(UserError, ValueError):
    """A store credential is missing or malformed; the message never contains the value, `field`
    names its environment variable."""


_ASC_FIELDS = {"key id": "ASC_KEY_ID", "issuer id": "ASC_ISSUER_ID", "private key": "ASC_KEY_P8"}
PLAY_FIELD = "PLAY_SERVICE_ACCOUNT_JSON"


@dataclass(frozen=True, repr=False)
class AppStoreConnectKey:
    key_id: str
    issuer_id: str
    private_key: str  # PEM text

    def __repr__(self) -> str:
        return f"AppStoreConnectKey(key_id={self.key_id!r}, issuer_id=..., private_key=...)"


@dataclass(frozen=True, repr=False)
class PlayServiceAccount:
    client_email: str
    json_key: str  # the whole file, as given

    def __repr__(self) -> str:
        return "PlayServiceAccount(...)"


def _load_private_key(pem: str) -> object:
    """Parse a PEM private key (ValueError/TypeError when it is not one). `cryptography` is the
    mobile extra's, imported only when credentials are checked."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem.encode(), password=None)


def app_store_connect_key(
    key_id: str | None, issuer_id: str | None, private_key: str | None
) -> AppStoreConnectKey:
    if not key_id or not issuer_id or not private_key:
        missing = [
            n
            for n, v in (("key id", key_id), ("issuer id", issuer_id), ("private key", private_key))
            if not v
        ]
        raise CredentialError(
            f"App Store Connect API key: {', '.join(missing)} missing; create a key under Users and Access > "
            "Integrations and set ASC_KEY_ID, ASC_ISSUER_ID and ASC_KEY_P8 (the .p8 file's text)",
            field=_ASC_FIELDS[missing[0]],
        )
    if not KEY_ID.match(key_id.strip()):
        raise CredentialError(
            "App Store Connect key id must be 10 uppercase letters and digits (e.g. 2X9R4HXF34)",
            field="ASC_KEY_ID",
        )
    if not UUID.match(issuer_id.strip()):
        raise CredentialError(
            "App Store Connect issuer id must be a UUID (shown above the keys list)", field="ASC_ISSUER_ID"
        )
    pem = private_key.strip()
    if not (pem.startswith("-----BEGIN PRIVATE KEY-----") and pem.endswith("-----END PRIVATE KEY-----")):
        raise CredentialError(
            "App Store Connect private key must be the .p8 file's PEM text (BEGIN PRIVATE KEY)",
            field="ASC_KEY_P8",
        )
    try:
        _load_private_key(pem)
    except (ValueError, TypeError):
        raise CredentialError(
            "App Store Connect private key is not a readable .p8 key; download it again", field="ASC_KEY_P8"
        ) from None
    return AppStoreConnectKey(key_id.strip(), issuer_id.strip(), pem + "\n")


def play_service_account(json_key: str | None) -> PlayServiceAccount:
    if not json_key:
        raise CredentialError(
            "Play service account JSON missing; create a key for a service account with Play Console access "
            "and set PLAY_SERVICE_ACCOUNT_JSON to the file's text",
            field=PLAY_FIELD,
        )
    try:
        data = json.loads(json_key)
    except ValueError:
        raise CredentialError(
            "Play service account key is not JSON; give the downloaded key file's text",
            field=PLAY_FIELD,
        ) from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise CredentialError(
            'Play service account key must have "type": "service_account"; use a JSON key file',
            field=PLAY_FIELD,
        )
    email = data.get("client_email")
    if not isinstance(email, str) or not email.endswith(".gserviceaccount.com"):
        raise CredentialError(
            "Play service account key has no client_email ending in .gserviceaccount.com", field=PLAY_FIELD
        )
    private_key = data.get("private_key")
    if not isinstance(private_key, str) or "BEGIN PRIVATE KEY" not in private_key:
        raise CredentialError(
            "Play service account key has no PEM private_key; download a new JSON key", field=PLAY_FIELD
        )
    try:
        _load_private_key(private_key)
    except (ValueError, TypeError):
        raise CredentialError(
            "Play service account private_key cannot be read; download a new JSON key",
            field=PLAY_FIELD,
        ) from None
    return PlayServiceAccount(email, json_key)


EXPO_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{20,200}$")


def expo_token(token: str | None) -> str:
    """An Expo access token (EXPO_TOKEN): what `eas build` and `eas submit` authenticate with."""
    if not token:
        raise CredentialError(
            "EXPO_TOKEN missing; create an access token at expo.dev (Account settings > Access tokens) "
            "and set EXPO_TOKEN",
            field="EXPO_TOKEN",
        )
    if not EXPO_TOKEN.match(token.strip()):
        raise CredentialError(
            "EXPO_TOKEN is not an Expo access token (20-200 letters, digits, '-' or '_'); copy it again",
            field="EXPO_TOKEN",
        )
    return token.strip()
