"""AppStack reads secrecy from the engine's events as the SDK's two `stack output` runs would."""

from __future__ import annotations

from automation.app_stack import holds_secret
from automation.pulumi_state import SECRET_SIG, SIG_KEY

KEY = SIG_KEY
MASKED = {SIG_KEY: SECRET_SIG, "ciphertext": "[secret]"}  # a secret as the engine's events show it


def test_a_whole_secret_is_secret() -> None:
    assert holds_secret(MASKED)
    assert holds_secret("[secret]")


def test_plain_values_are_not() -> None:
    for value in ("libsql://x", 3, None, True, {"a": "b"}, ["x", 1], {KEY: "other"}):
        assert not holds_secret(value), value


def test_a_secret_inside_an_object_or_list_masks_the_whole() -> None:
    assert holds_secret({"url": "https://x", "token": MASKED})
    assert holds_secret(["a", [MASKED]])
