"""`neonctl` 5.0.1 (Neon's CLI, Node), unpatched, against the sandbox's Neon API; then psycopg and psql
with the connection strings it prints.

neonctl is pointed at the sandbox only through what it reads: `NEON_API_HOST` (the default of its
`--api-host` option) and `NEON_API_KEY`, with `--config-dir` and `--no-analytics` so it neither
reads nor writes a real user's profile. The strings it prints are used as printed:
`sslmode=require&channel_binding=require` over the endpoint's TLS, and the same string verified
against the local CA through the standard PGSSLROOTCERT / sslrootcert.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from automation.localpg import LocalPostgres
from sandbox import server
from sandbox.endpoint import REPO_ROOT, SandboxEndpoint

NEONCTL = REPO_ROOT / ".tools" / "node" / "node_modules" / ".bin" / "neonctl"


@dataclass
class Neonctl:
    endpoint: SandboxEndpoint
    config_dir: Path

    def env(self, api_key: str | None = None) -> dict[str, str]:
        return {
            **os.environ,
            "NEON_API_HOST": f"{self.endpoint.url}/api/v2",
            "NEON_API_KEY": api_key or self.endpoint.api_token,
        }

    def run(self, *args: str, api_key: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [str(NEONCTL), *args, "--config-dir", str(self.config_dir), "--no-analytics", "--no-color"]
        return subprocess.run(
            command, env=self.env(api_key), capture_output=True, text=True, timeout=120, check=False
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"neonctl {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--output", "json"))


@pytest.fixture(scope="module")
def neonctl(tmp_path_factory: pytest.TempPathFactory, local_postgres: LocalPostgres) -> Iterator[Neonctl]:
    assert NEONCTL.exists(), "run ./scripts/setup (installs tools/node, neonctl among them)"
    directory = tmp_path_factory.mktemp("neonctl") / "sbx"
    endpoint = server.start(directory, port=0, postgres_url=local_postgres.url)
    config_dir = tmp_path_factory.mktemp("neonctl-config")
    try:
        yield Neonctl(endpoint, config_dir)
    finally:
        server.stop(directory)


def query(uri: str, sql: str) -> Any:
    with psycopg.connect(uri, connect_timeout=10) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None


def test_me(neonctl: Neonctl) -> None:
    me = neonctl.json("me")
    assert me["email"] == "sandbox@localhost"
    assert "Projects Limit" in neonctl.ok("me")


def test_projects_create_list_get_update_delete(neonctl: Neonctl) -> None:
    created = neonctl.json("projects", "create", "--name", "cli-demo")
    project_id = created["project"]["id"]
    assert created["connection_uris"][0]["connection_uri"].startswith("postgresql://neondb_owner:")
    listed = neonctl.json("projects", "list")
    assert project_id in [p["id"] for p in listed["projects"]]
    assert listed["shared_with_you"] == []
    assert neonctl.json("projects", "get", project_id)["name"] == "cli-demo"
    assert neonctl.json("projects", "update", project_id, "--name", "cli-renamed")["name"] == "cli-renamed"
    neonctl.ok("projects", "delete", project_id)
    gone = neonctl.run("projects", "get", project_id)
    assert gone.returncode != 0
    assert f"project {project_id} not found" in gone.stderr


def test_branches_roles_databases_and_the_strings_neonctl_prints_connect(neonctl: Neonctl) -> None:
    project_id = neonctl.json("projects", "create", "--name", "cli-parts")["project"]["id"]
    in_project = ("--project-id", project_id)
    role = neonctl.json("roles", "create", *in_project, "--name", "app")
    assert role["name"] == "app"
    assert role["password"]
    database = neonctl.json("databases", "create", *in_project, "--name", "shop", "--owner-name", "app")
    assert database["owner_name"] == "app"
    assert [r["name"] for r in neonctl.json("roles", "list", *in_project)] == ["neondb_owner", "app"]
    assert [d["name"] for d in neonctl.json("databases", "list", *in_project)] == ["neondb", "shop"]

    printed = neonctl.ok(
        "connection-string", *in_project, "--database-name", "shop", "--role-name", "app"
    ).strip()
    parts = urlsplit(printed)
    assert (parts.username, parts.path) == ("app", "/shop"), "the names neonctl shows are the names used"
    assert parts.query == "sslmode=require&channel_binding=require"
    assert query(printed, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is False, (
        "TLS ends at the endpoint, as on Neon; the endpoint's own link to PostgreSQL is local"
    )
    with psycopg.connect(printed, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE item (name text)")
        conn.execute("INSERT INTO item VALUES ('lamp')")
    verified = f"{printed}&sslmode=verify-full&sslrootcert={neonctl.endpoint.ca_file}"
    assert query(verified, "SELECT name FROM item") == "lamp"
    plain = neonctl.ok(
        "cs", *in_project, "--database-name", "shop", "--role-name", "app", "--ssl", "omit"
    ).strip()
    assert "sslmode" not in plain
    assert query(plain, "SELECT count(*) FROM item") == 1

    psql = subprocess.run(
        ["psql", printed, "-tAc", "SELECT name FROM item"],
        env={**os.environ, "PGSSLROOTCERT": neonctl.endpoint.ca_file, "PGCONNECT_TIMEOUT": "10"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (psql.returncode, psql.stdout.strip()) == (0, "lamp"), psql.stderr

    branch = neonctl.json("branches", "create", *in_project, "--name", "dev")
    assert branch["branch"]["name"] == "dev"
    assert branch["endpoints"], "a branch made by neonctl gets a read-write endpoint"
    assert [b["name"] for b in neonctl.json("branches", "list", *in_project)] == ["main", "dev"]
    dev = neonctl.ok("cs", "dev", *in_project, "--database-name", "shop", "--role-name", "app").strip()
    assert urlsplit(dev).port != parts.port, "the dev branch has an endpoint of its own"
    assert query(dev, "SELECT to_regclass('item')") is None, "a sandbox branch starts with empty databases"

    neonctl.ok("databases", "delete", "shop", *in_project, "--branch", "main")
    neonctl.ok("roles", "delete", "app", *in_project, "--branch", "main")
    assert [r["name"] for r in neonctl.json("roles", "list", *in_project)] == ["neondb_owner"]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(printed, connect_timeout=10)
    neonctl.ok("branches", "delete", "dev", *in_project)
    assert [b["name"] for b in neonctl.json("branches", "list", *in_project)] == ["main"]
    neonctl.ok("projects", "delete", project_id)


def test_two_projects_both_have_neondb_owner_and_neondb(neonctl: Neonctl) -> None:
    ids = [neonctl.json("projects", "create", "--name", f"twin-{n}")["project"]["id"] for n in (1, 2)]
    strings = [neonctl.ok("cs", "--project-id", project_id).strip() for project_id in ids]
    assert all(urlsplit(s).username == "neondb_owner" and urlsplit(s).path == "/neondb" for s in strings)
    with psycopg.connect(strings[0], connect_timeout=10) as conn:
        conn.execute("CREATE TABLE only_in_first (x int)")
    assert query(strings[1], "SELECT to_regclass('only_in_first')") is None
    for project_id in ids:
        neonctl.ok("projects", "delete", project_id)


def test_errors_come_back_as_neonctl_messages(neonctl: Neonctl) -> None:
    wrong = neonctl.run("me", api_key="not-the-sandbox-key")
    assert wrong.returncode != 0
    assert "Authentication failed" in wrong.stderr
    assert "not-the-sandbox-key" not in wrong.stderr
    missing = neonctl.run("projects", "get", "no-such-project")
    assert missing.returncode != 0
    assert "project no-such-project not found" in missing.stderr
