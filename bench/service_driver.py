"""What the benchmarks that drive the deploy service share: its environment and database, the example
spec and its uploads, and the `oneclick service` processes they start and stop. Import it after
bench.private.private_state()."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.private import REPO, tools_on_path
from service.archives import pack_folder
from service.auth import create_token
from service.store import migrate
from service.vault import generate_key

SHOP = REPO / "examples" / "shop"
STATIC_SITE = REPO / "tests" / "fixtures" / "static-site"
ONECLICK = [sys.executable, "-c", "from cli.main import main; main()"]


def service_environment() -> None:
    """The tools on PATH, a fresh encryption key, and a Pulumi passphrase of the run's own (service
    workers encrypt their stacks with their own passphrase, never the sandbox one)."""
    tools_on_path()
    os.environ["CREDENTIALS_ENCRYPTION_KEY"] = generate_key(f"bench-{uuid.uuid4().hex[:6]}")
    os.environ["PULUMI_CONFIG_PASSPHRASE"] = secrets.token_urlsafe(32)


def service_database(server_url: str, name: str, user: str) -> tuple[str, str]:
    """Database `name` on the server at `server_url`, migrated, with `user` on the enterprise tier:
    (its URL, an API token of `user`)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    database = server_url.rsplit("/", 1)[0] + f"/{name}"
    migrate(database)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO user_subscriptions (user_id, tier, status) VALUES (%s, 'enterprise', 'active')",
            [user],
        )
        return database, create_token(conn, user, "bench")


def upload_example(http: httpx.Client) -> dict[str, str]:
    """The example's schema, migrations, preview data and static site as uploads, for spec()."""
    return {
        "schema": upload(http, SHOP / "prisma" / "schema.prisma"),
        "migrations": upload(http, SHOP / "prisma" / "migrations"),
        "preview": upload(http, SHOP / "prisma" / "preview.sql"),
        "site": upload(http, STATIC_SITE),
    }


def upload(http: httpx.Client, path: Path) -> str:
    """The service takes files as uploads (never host paths): a folder goes as a tar.gz."""
    content = pack_folder(path) if path.is_dir() else path.read_bytes()
    name = f"{path.name}.tar.gz" if path.is_dir() else path.name
    response = http.post("/api/uploads", params={"name": name}, content=content)
    response.raise_for_status()
    return str(response.json()["upload"])


def spec(app: str, files: dict[str, str], *, web: bool = True) -> dict[str, Any]:
    """The example app under its own id (a Turso database with the shop's schema and preview data),
    with its static site unless `web` is false. `files` holds the upload references."""
    body: dict[str, Any] = {
        "id": app,
        "database": {
            "provider": "turso",
            "prismaSchema": files["schema"],
            "migrations": files["migrations"],
            "previewData": files["preview"],
        },
    }
    if web:
        body["web"] = {"buildDir": files["site"], "env": {"NEXT_PUBLIC_APP_NAME": "Shop"}}
    return body


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`oneclick <args>` in its own session (so it and its children can be signalled together)."""
    return subprocess.Popen(
        [*ONECLICK, *args], cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the deploy API exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the deploy API did not start in 60 s")
