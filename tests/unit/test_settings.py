"""core/settings.py: the one reader of oneclick's environment variables, and the check that it stays
the only one (an AST scan of the source tree for reads of ONECLICK_* variables)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from core.errors import UserError
from core.settings import (
    REPO_ROOT,
    Secret,
    SettingsError,
    export,
    load_settings,
    reset_settings,
    settings,
    variables,
)

# Every package of ours, the emulator included.
PACKAGES = ("cli", "core", "automation", "components", "service", "webbuild", "dbtools", "libsql", "sandbox")
SETTINGS_MODULE = REPO_ROOT / "core" / "settings.py"
PREFIX = "ONECLICK_"


def _constants(trees: dict[Path, ast.Module]) -> dict[str, str]:
    """Module-level `NAME = "ONECLICK_…"` constants of every scanned module (imported ones too)."""
    found = {}
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        found[target.id] = node.value.value
    return found


def _is_environ(node: ast.expr) -> bool:
    """`os.environ` or a bare `environ` (from os import environ)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id == "environ"


def env_reads(trees: dict[Path, ast.Module]) -> list[str]:
    """`path:line NAME` for every read of an ONECLICK_* variable: `<mapping>.get(NAME)`,
    `os.getenv(NAME)`, `os.environ[NAME]`, click's `envvar=NAME`; NAME a literal or a constant."""
    constants = _constants(trees)

    def variable(node: ast.expr | None) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
        elif isinstance(node, ast.Name):
            value = constants.get(node.id, "")
        else:
            return None
        return value if value.startswith(PREFIX) else None

    found: list[str] = []
    for path, tree in trees.items():
        where = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        for node in ast.walk(tree):
            names: list[str | None] = []
            if isinstance(node, ast.Call):
                if isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "getenv") and node.args:
                    names.append(variable(node.args[0]))
                names.extend(variable(k.value) for k in node.keywords if k.arg == "envvar")
            elif (
                isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_environ(node.value)
            ):
                names.append(variable(node.slice))
            found.extend(f"{where}:{getattr(node, 'lineno', 0)} {n}" for n in names if n)
    return sorted(found, key=lambda read: int(read.split(":")[1].split()[0]))


def source_trees() -> dict[Path, ast.Module]:
    paths = [p for package in PACKAGES for p in sorted((REPO_ROOT / package).rglob("*.py"))]
    paths.append(REPO_ROOT / "__main__.py")
    return {p: ast.parse(p.read_text(), str(p)) for p in paths if p != SETTINGS_MODULE}


def test_only_core_settings_reads_oneclick_variables() -> None:
    assert env_reads(source_trees()) == [], "read these through core.settings.settings() instead"


def test_the_scan_finds_every_kind_of_read(tmp_path: Path) -> None:
    source = (
        'import os\nNAME = "ONECLICK_A"\n'
        'os.environ.get("ONECLICK_B")\nos.getenv(NAME)\nos.environ["ONECLICK_C"]\n'
        'env = dict(os.environ)\nenv.get("ONECLICK_D", "")\nclick.option("--x", envvar="ONECLICK_E")\n'
        'os.environ["ONECLICK_F"] = "written, not read"\nos.environ.get("PATH")\n'
    )
    path = tmp_path / "reader.py"
    path.write_text(source)
    reads = env_reads({path: ast.parse(source)})
    assert [r.rsplit(" ", 1)[1] for r in reads] == [
        "ONECLICK_B",
        "ONECLICK_A",
        "ONECLICK_C",
        "ONECLICK_D",
        "ONECLICK_E",
    ]


def test_every_variable_is_declared_once_with_a_doc() -> None:
    names = [v.name for v in variables()]
    # DATABASE_URL is the one fallback two settings share.
    assert sorted(n for n in set(names) if names.count(n) > 1) == ["DATABASE_URL"]
    assert all(v.doc for v in variables())
    assert {"ONECLICK_STATE_DIR", "ONECLICK_PG_PORT", "PULUMI_BACKEND_URL", "STRIPE_SECRET_KEY"} <= set(names)


def test_defaults() -> None:
    loaded = load_settings({})
    state = (REPO_ROOT / ".state").resolve()
    assert loaded.paths.state_dir == state
    assert loaded.paths.sandbox_dir == state / "sandbox"
    assert loaded.paths.ca_dir == state / "ca"
    assert loaded.paths.gateway_journal_dir == state / "gateway" / "journal"
    assert loaded.local.postgres_port == 54329
    assert loaded.service.database_url is None
    assert loaded.service.upload_max_bytes == 64 << 20
    assert loaded.deploy.service_builds is False
    assert loaded.pulumi.passphrase is None
    assert loaded.upstreams.email_provider == "sendgrid"
    assert loaded.gateway.lease_calls == 50


def test_overrides_and_derived_paths(tmp_path: Path) -> None:
    loaded = load_settings(
        {
            "ONECLICK_STATE_DIR": str(tmp_path / "state"),
            "ONECLICK_CA_DIR": str(tmp_path / "ca"),
            "ONECLICK_PG_PORT": " 5555 ",
            "ONECLICK_DEPLOY_TIMEOUT_SECONDS": "12.5",
            "DATABASE_URL": "postgresql://shared/db",
            "ONECLICK_GATEWAY_DATABASE_URL": "postgresql://gateway/db",
            "ONECLICK_BYO_POLICY": " Enforce",
            "ONECLICK_EMAIL_PROVIDER": "resend",
        }
    )
    assert loaded.paths.state_dir == tmp_path / "state"
    assert loaded.paths.sandbox_dir == tmp_path / "state" / "sandbox"  # follows the state directory
    assert loaded.paths.ca_dir == tmp_path / "ca"
    assert loaded.local.postgres_port == 5555
    assert loaded.service.deploy_timeout_seconds == 12.5
    assert loaded.service.database_url == "postgresql://shared/db"  # the fallback
    assert loaded.gateway.database_url == "postgresql://gateway/db"  # its own wins
    assert loaded.deploy.byo_enforce is True
    assert loaded.upstreams.email_provider == "resend"


def test_flags_turn_on_only_with_their_documented_value() -> None:
    assert load_settings({"ONECLICK_SERVICE_BUILDS": "1"}).deploy.service_builds is True
    assert load_settings({"ONECLICK_SERVICE_BUILDS": "yes"}).deploy.service_builds is False
    assert load_settings({"ONECLICK_BYO_POLICY": "1"}).deploy.byo_enforce is False


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ONECLICK_SERVICE_PORT", "abc", "a whole number from 0 to 65535"),
        ("ONECLICK_PG_PORT", "70000", "a whole number from 0 to 65535"),
        ("ONECLICK_GATEWAY_LEASE_CALLS", "0", "a whole number above 0"),
        ("ONECLICK_UPLOAD_MAX_BYTES", "1.5", "a whole number above 0"),
        ("ONECLICK_GATEWAY_FLUSH_SECONDS", "nan", "a number above 0"),
        ("ONECLICK_EMAIL_PROVIDER", "smtp", "'sendgrid' or 'resend'"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_fix(variable: str, value: str, says: str) -> None:
    loaded = load_settings({variable: value})
    section = next(v.section for v in variables() if v.name == variable).lower()
    with pytest.raises(SettingsError) as refused:
        getattr(loaded, section)
    assert isinstance(refused.value, UserError)
    assert refused.value.field == variable
    assert str(refused.value).startswith(f"{variable}={value!r} is not ")
    assert says in str(refused.value)
    assert (refused.value.fix or "").startswith(f"set {variable} to ")


def test_a_bad_gateway_value_does_not_stop_a_deploy() -> None:
    """Sections are read on first use: only what needs the gateway sees its variables' errors."""
    loaded = load_settings({"ONECLICK_GATEWAY_LEASE_CALLS": "many", "ONECLICK_SANDBOX_DIR": "/x"})
    assert loaded.paths.sandbox_dir == Path("/x")
    with pytest.raises(SettingsError):
        _ = loaded.gateway


def test_secrets_are_kept_exactly_and_never_shown() -> None:
    loaded = load_settings({"PULUMI_CONFIG_PASSPHRASE": " spaced passphrase ", "STRIPE_SECRET_KEY": "sk_x"})
    assert loaded.pulumi.passphrase == Secret(" spaced passphrase ")
    assert "spaced" not in repr(loaded.pulumi)
    assert "sk_x" not in repr(loaded.gateway)
    assert "sk_x" not in repr(loaded)


def test_settings_are_read_once_until_reset_or_export(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ONECLICK_WORK_DIR", str(tmp_path / "one"))  # restored afterwards
    assert settings() is settings()
    assert settings().paths.work_dir == tmp_path / "one"
    os.environ["ONECLICK_WORK_DIR"] = str(tmp_path / "two")
    assert settings().paths.work_dir == tmp_path / "one"  # the environment is read once
    reset_settings()
    assert settings().paths.work_dir == tmp_path / "two"
    export({"ONECLICK_WORK_DIR": str(tmp_path / "three")})
    assert os.environ["ONECLICK_WORK_DIR"] == str(tmp_path / "three")  # children inherit it
    assert settings().paths.work_dir == tmp_path / "three"


def test_monkeypatched_variables_are_seen_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/conftest.py's monkeypatch drops the cached settings on setenv/delenv."""
    monkeypatch.setenv("ONECLICK_PG_PORT", "1234")
    assert settings().local.postgres_port == 1234
    monkeypatch.setenv("ONECLICK_PG_PORT", "4321")
    assert settings().local.postgres_port == 4321
