"""Mobile targets run one at a time (`oneclick build ios|android`, the API): credentials checked before
anything is written, the exact EAS and fastlane commands, and "ready to submit" when the vendor
cannot be reached, never a faked success."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from components.mobile.build import eas_build_command, eas_submit_command
from components.mobile.credentials import CredentialError
from components.native_run import run_native
from components.spec import AppSpec

TOKEN = "expo_" + "x" * 36


def p8() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def asc() -> dict[str, str]:
    return {
        "ASC_KEY_ID": "2X9R4HXF34",
        "ASC_ISSUER_ID": "57246542-96fe-1a63-e053-0824d011072a",
        "ASC_KEY_P8": p8(),
    }


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ONECLICK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ONECLICK_NATIVE_OFFLINE", "1")
    site = tmp_path / "out"
    site.mkdir()
    (site / "index.html").write_text("hi")
    return tmp_path


def spec(state: Path, **mobile: Any) -> AppSpec:
    return AppSpec.parse(
        {
            "id": "shop",
            "owner": "alice",
            "web": {"buildDir": str(state / "out")},
            "mobile": {"platforms": ["ios", "android"], **mobile},
        }
    )


@pytest.mark.parametrize(
    ("builder", "target", "env", "message", "field"),
    [
        ("eas", "ios", {}, "EXPO_TOKEN missing", "EXPO_TOKEN"),
        (
            "eas",
            "ios",
            {"EXPO_TOKEN": "not a token!"},
            "EXPO_TOKEN is not an Expo access token",
            "EXPO_TOKEN",
        ),
        (
            "eas",
            "ios",
            {"EXPO_TOKEN": TOKEN},
            "ASC_KEY_ID, ASC_ISSUER_ID and ASC_KEY_P8 missing",
            "ASC_KEY_ID",
        ),
        ("fastlane", "ios", {"ASC_KEY_ID": "2X9R4HXF34"}, "issuer id, private key missing", "ASC_ISSUER_ID"),
        ("fastlane", "ios", {**asc(), "ASC_KEY_ID": "short"}, "key id must be 10 uppercase", "ASC_KEY_ID"),
        ("fastlane", "android", {}, "PLAY_SERVICE_ACCOUNT_JSON missing", "PLAY_SERVICE_ACCOUNT_JSON"),
        (
            "fastlane",
            "android",
            {"PLAY_SERVICE_ACCOUNT_JSON": '{"type": "user"}'},
            '"type": "service_account"',
            "PLAY_SERVICE_ACCOUNT_JSON",
        ),
    ],
)
def test_credentials_fail_before_anything_is_written(
    state: Path, builder: str, target: str, env: dict[str, str], message: str, field: str
) -> None:
    steps: list[str] = []
    with pytest.raises(CredentialError, match=message) as failed:
        run_native(
            spec(state, builder=builder),
            target,  # type: ignore[arg-type]
            "https://shop.pages.dev",
            env=env,
            on_step=lambda key, *_: steps.append(key),
        )
    assert failed.value.field == field, "the error names the variable"
    assert steps == [], "no step started"
    assert not (state / "state" / "native").exists(), "nothing written"
    for value in env.values():
        if len(value) > 8:
            assert value not in str(failed.value)


def test_eas_ios_is_ready_to_submit_with_the_exact_commands(state: Path) -> None:
    steps: list[tuple[str, str, str]] = []
    result = run_native(
        spec(state, builder="eas", build=True),
        "ios",
        "https://shop.pages.dev",
        env={"EXPO_TOKEN": TOKEN, **asc()},
        on_step=lambda key, _t, st, detail: steps.append((key, st, detail)),
    )
    assert result.status == "ready to submit"
    build, submit = result.commands
    assert build.command == eas_build_command(["ios"])
    assert build.command.endswith(
        "build --platform ios --profile production --non-interactive --no-wait --json"
    )
    assert build.environment == ["EXPO_TOKEN"]
    assert submit.command == eas_submit_command(["ios"])
    assert "ASC_KEY_P8" in submit.environment
    assert [(k, st) for k, st, _ in steps] == [
        ("project", "running"),
        ("project", "done"),
        ("build", "skipped"),
        ("submit", "skipped"),
    ]
    assert "ready to submit (api.expo.dev cannot be reached from this machine)" in steps[2][2]
    config = json.loads((Path(result.project_dir) / "capacitor.config.json").read_text())
    assert (config["appId"], config["server"]["url"]) == ("com.alice.shop", "https://shop.pages.dev")
    outputs = json.dumps(result.outputs())
    assert TOKEN not in outputs
    assert "BEGIN PRIVATE KEY" not in outputs


def test_fastlane_android_names_its_lane_and_variables(state: Path) -> None:
    play = json.dumps(
        {"type": "service_account", "client_email": "ci@p.iam.gserviceaccount.com", "private_key": p8()}
    )
    result = run_native(
        spec(state), "android", "https://shop.pages.dev", env={"PLAY_SERVICE_ACCOUNT_JSON": play}
    )
    assert result.status == "ready to submit"
    assert [c.command for c in result.commands][1] == "bundle exec fastlane android internal"
    assert "ANDROID_KEYSTORE_PASSWORD" in result.commands[1].environment
    assert (Path(result.project_dir) / "fastlane" / "Fastfile").is_file()
