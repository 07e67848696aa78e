"""wrangler 4.86.0, unpatched, against the sandbox's Cloudflare API: who am I, and picking the account.

Pointed at the sandbox only through the variables wrangler documents: CLOUDFLARE_API_TOKEN and
CLOUDFLARE_API_BASE_URL. CLOUDFLARE_ACCOUNT_ID is deliberately not set: wrangler then finds the
account through `/memberships`, as it does for a user with one account.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import server
from sandbox.endpoint import CLOUDFLARE_ACCOUNT_ID, REPO_ROOT, SandboxEndpoint

WRANGLER = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "wrangler"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEndpoint]:
    assert WRANGLER.exists(), "run ./scripts/setup (installs tools/node, wrangler among them)"
    directory: Path = tmp_path_factory.mktemp("wrangler") / "sbx"
    yield server.start(directory, port=0)
    server.stop(directory)


def wrangler(
    endpoint: SandboxEndpoint, workdir: Path, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CLOUDFLARE_", "CF_"))}
    env.update(
        CLOUDFLARE_API_TOKEN=token or endpoint.api_token,
        CLOUDFLARE_API_BASE_URL=f"{endpoint.url}/client/v4",
        WRANGLER_SEND_METRICS="false",
        XDG_CONFIG_HOME=str(workdir / "config"),  # never a developer's own wrangler login
    )
    return subprocess.run(
        [str(WRANGLER), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_whoami_names_the_user_and_the_account(endpoint: SandboxEndpoint, tmp_path: Path) -> None:
    done = wrangler(endpoint, tmp_path, "whoami")
    assert done.returncode == 0, done.stderr
    assert "logged in with an User API Token, associated with the email sandbox@localhost" in done.stdout
    assert CLOUDFLARE_ACCOUNT_ID in done.stdout
    as_json = wrangler(endpoint, tmp_path, "whoami", "--json")
    assert as_json.returncode == 0, as_json.stderr
    who = json.loads(as_json.stdout)
    assert (who["loggedIn"], who["authType"], who["email"]) == (True, "User API Token", "sandbox@localhost")
    assert [a["id"] for a in who["accounts"]] == [CLOUDFLARE_ACCOUNT_ID]


def test_commands_find_the_account_without_an_account_id(endpoint: SandboxEndpoint, tmp_path: Path) -> None:
    name = f"wr-{uuid.uuid4().hex[:8]}"
    created = wrangler(endpoint, tmp_path, "pages", "project", "create", name, "--production-branch", "main")
    assert created.returncode == 0, created.stdout + created.stderr
    listed = wrangler(endpoint, tmp_path, "pages", "project", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert name in listed.stdout


def test_a_wrong_token_is_an_authentication_error(endpoint: SandboxEndpoint, tmp_path: Path) -> None:
    done = wrangler(endpoint, tmp_path, "whoami", token="not-the-sandbox-token")
    assert "Authentication error [code: 10000]" in done.stdout + done.stderr
    assert "sandbox@localhost" not in done.stdout
