"""Shared fixtures. Every test session gets its own state directory and sandbox on a free port."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import forget_stack, free_port  # stdlib only: imports nothing of the project yet

# Isolate before any project module reads the environment; subprocesses inherit this too.
_SESSION_STATE = Path(tempfile.mkdtemp(prefix="oneclick-test-"))
_SESSION_STATE.chmod(0o755)  # the local PostgreSQL runs as the postgres user and must reach it
os.environ["ONECLICK_STATE_DIR"] = str(_SESSION_STATE)
os.environ["ONECLICK_SANDBOX_DIR"] = str(_SESSION_STATE / "sandbox")
os.environ["ONECLICK_PG_PORT"] = str(free_port())  # so a developer's own cluster is never touched
for _var in (
    "TURSO_API_TOKEN",
    "TURSO_ORG_ID",
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
):
    os.environ.pop(_var, None)

from automation.localpg import LocalPostgres  # noqa: E402
from core.settings import reset_settings  # noqa: E402
from sandbox import server as sandbox_server  # noqa: E402
from sandbox.endpoint import SandboxEndpoint, sandbox_dir  # noqa: E402


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server for this test session (its own data directory and port)."""
    cluster = LocalPostgres.default()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sandbox(local_postgres: LocalPostgres) -> Iterator[SandboxEndpoint]:
    """The sandbox every engine test deploys into, running as a real HTTP server."""
    endpoint = sandbox_server.start(sandbox_dir(), port=0, postgres_url=local_postgres.url)
    yield endpoint
    sandbox_server.stop(sandbox_dir())


@pytest.fixture(scope="session", autouse=True)
def _session_state() -> Iterator[None]:
    yield
    shutil.rmtree(_SESSION_STATE, ignore_errors=True)


@pytest.fixture
def app_id() -> Iterator[str]:
    """A fresh app id; its stack config file in stacks/ is removed afterwards."""
    value = f"t-{uuid.uuid4().hex[:10]}"
    yield value
    forget_stack(value)


@pytest.fixture
def app_ids() -> Iterator[list[str]]:
    """App ids a test deploys (tests.helpers.new_app adds them); their stack config files are removed
    afterwards."""
    made: list[str] = []
    yield made
    for app in made:
        forget_stack(app)


@pytest.fixture
def spec_file(tmp_path: Path, app_id: str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(f"id: {app_id}\ndatabase:\n  provider: turso\n  group: default\n")
    return path


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test reads the environment anew (core/settings.py caches it), so the variables a test or
    its fixtures set are seen, and none leaks into the next test."""
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def monkeypatch(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """pytest's own, whose setenv/delenv also drop the cached settings: a variable a test changes
    midway is seen by its next settings()."""
    setenv, delenv = monkeypatch.setenv, monkeypatch.delenv

    def setenv_fresh(name: str, value: str, prepend: str | None = None) -> None:
        setenv(name, value, prepend)
        reset_settings()

    def delenv_fresh(name: str, raising: bool = True) -> None:
        delenv(name, raising)
        reset_settings()

    vars(monkeypatch).update(setenv=setenv_fresh, delenv=delenv_fresh)  # MonkeyPatch is final
    return monkeypatch
