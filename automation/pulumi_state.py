"""How Pulumi's state and engine events mark a secret value: `{SIG_KEY: SECRET_SIG, ...}` with a
`ciphertext` (state), `plaintext` (state to import) or a masked value (engine events)."""

from __future__ import annotations

from typing import Any

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 (a format marker, not a password)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG
