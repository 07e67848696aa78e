"""What the official libSQL/Turso client tests share: a private sandbox whose names resolve, and runners.

Each client is pointed at the sandbox only the way its documentation says: the URL the Turso API
handed out, a token, the Platform API's base URL option, and the local CA through the variable the
runtime reads (NODE_EXTRA_CA_CERTS for Node, SSL_CERT_FILE for the Rust-based `libsql` package).
Host names resolve through /etc/hosts lines written by the documented `oneclick sandbox hosts
--install` and removed at the end (this sandbox's own marked block only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.turso.client import TursoClient
from sandbox import server
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint

NODE_MODULES = REPO_ROOT / ".tools" / "node" / "node_modules"
NODE_SCRIPTS = Path(__file__).parent / "node"
PYTHON_CLIENTS = REPO_ROOT / ".tools" / "pyclients" / "bin" / "python"
PYTHON_SCRIPTS = Path(__file__).parent / "python"
HOSTS = Path("/etc/hosts")
ORG = "sandbox"


def oneclick(*args: str) -> subprocess.CompletedProcess[str]:
    """The `oneclick` command, as a user runs it."""
    command = [str(Path(sys.executable).with_name("oneclick")), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


@dataclass
class TursoSandbox:
    endpoint: SandboxEndpoint
    directory: Path

    @property
    def plain_port(self) -> int:
        return int(self.endpoint.url.rsplit(":", 1)[1])

    def api(self) -> TursoClient:
        return TursoClient(self.endpoint.api_token, ORG, base_url=self.endpoint.url)

    def database(self, name: str) -> tuple[str, str]:
        """A new database's `libsql://` URL (as the API hands it out) and a full-access token."""
        with self.api() as turso:
            created = turso.create_database(name, "default")
            token = turso.create_database_token(name)
        return f"libsql://{created.hostname}", token

    def install_hosts(self) -> None:
        """`oneclick sandbox hosts --install` for this sandbox: run again after creating databases."""
        done = oneclick("sandbox", "hosts", "--install", "--dir", str(self.directory))
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def turso_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TursoSandbox]:
    if not os.access(HOSTS, os.W_OK):
        pytest.skip(f"the official clients resolve *.localhost through {HOSTS}, which this user cannot write")
    directory = tmp_path_factory.mktemp("clients") / "sbx"
    endpoint = server.start(directory, port=0)
    try:
        yield TursoSandbox(endpoint, directory)
    finally:
        removed = oneclick("sandbox", "hosts", "--remove", "--dir", str(directory))
        server.stop(directory)
        assert removed.returncode == 0, removed.stderr
        assert str(directory) not in HOSTS.read_text(), "the test's hosts block must be gone"


def run_node(script: str, config: dict[str, Any], ca_file: str) -> dict[str, Any]:
    """Run tests/clients/node/<script> with the pinned npm packages; returns the JSON it prints."""
    assert (NODE_MODULES / "@libsql" / "client").is_dir(), "run ./scripts/setup (installs tools/node)"
    env = {
        **os.environ,
        "NODE_PATH": str(NODE_MODULES),
        "NODE_EXTRA_CA_CERTS": ca_file,
        "ONECLICK_CLIENT_CONFIG": json.dumps(config),
    }
    done = subprocess.run(
        ["node", str(NODE_SCRIPTS / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_python_client(script: str, config: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Run tests/clients/python/<script> in the clients' own virtualenv (.tools/pyclients), isolated
    from this one: the official `libsql` package has the same import name as oneclick's libsql/."""
    assert PYTHON_CLIENTS.exists(), "run ./scripts/setup (installs tools/pyclients into .tools/pyclients)"
    done = subprocess.run(
        [str(PYTHON_CLIENTS), "-I", str(PYTHON_SCRIPTS / script)],
        env={"PATH": os.environ.get("PATH", ""), "ONECLICK_CLIENT_CONFIG": json.dumps(config), **env},
        cwd=PYTHON_SCRIPTS,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result
