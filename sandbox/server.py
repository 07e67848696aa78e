"""Start, stop and inspect the sandbox as a background process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.errors import OneclickError
from core.localca import LocalCA, ca_dir
from sandbox.endpoint import DEFAULT_PORT, DEFAULT_TLS_PORT, SandboxEndpoint
from sandbox.store import SandboxStore


class SandboxError(OneclickError, RuntimeError):
    """The sandbox could not be started or reached; the message says what to do."""


@dataclass(frozen=True)
class SandboxStatus:
    running: bool
    directory: Path
    endpoint: SandboxEndpoint | None


def _alive(pid: int) -> bool:
    try:  # reap it first if it is our own exited child, or it would linger as a zombie
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _healthy(url: str, verify: ssl.SSLContext | bool = True) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def status(directory: Path) -> SandboxStatus:
    endpoint = SandboxEndpoint.load(directory)
    running = endpoint is not None and _alive(endpoint.pid) and _healthy(endpoint.url)
    return SandboxStatus(running=running, directory=directory, endpoint=endpoint if running else None)


def _pick_port(host: str, port: int, option: str) -> int:
    if port == 0:
        return _free_port(host)
    if _port_in_use(host, port):
        raise SandboxError(
            f"port {port} on {host} is already in use by another program; choose another with {option}"
        )
    return port


def start(
    directory: Path,
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    postgres_url: str | None = None,
    tls_port: int | None = None,
) -> SandboxEndpoint:
    """Start the sandbox unless it already runs for `directory`; `port=0` picks a free port.

    `tls_port` is where it serves TLS with the local CA's certificates (made now if missing): None
    means a free port when `port` is 0, else DEFAULT_TLS_PORT; 0 picks a free port.
    `postgres_url` is a superuser URL of the PostgreSQL server that hosts sandbox Neon projects.
    """
    current = status(directory)
    if current.running and current.endpoint is not None:
        return current.endpoint
    directory.mkdir(parents=True, exist_ok=True)
    port = _pick_port(host, port, "--port (or ONECLICK_SANDBOX_PORT)")
    if tls_port is None:
        tls_port = 0 if port != DEFAULT_PORT else DEFAULT_TLS_PORT
    tls_port = _pick_port(host, tls_port, "--tls-port (or ONECLICK_SANDBOX_TLS_PORT)")
    if tls_port == port:
        raise SandboxError(f"the TLS port must differ from the HTTP port ({port}); choose another --tls-port")
    try:
        from core import certificates  # cryptography is the sandbox extra's: loaded only to start it

        ca = certificates.ensure(LocalCA.default())
    except OSError as exc:
        raise SandboxError(f"cannot create the local CA in {ca_dir()}: {exc.strerror}") from None
    api_token = SandboxStore(directory).api_token
    log = (directory / "sandbox.log").open("ab")
    command = [sys.executable, "-m", "sandbox", "--dir", str(directory), "--host", host]
    command += ["--port", str(port), "--tls-port", str(tls_port)]
    env = dict(os.environ)
    if postgres_url:
        # Through the environment, not argv: the URL holds the superuser's password.
        env["ONECLICK_SANDBOX_PG_URL"] = postgres_url
    process = subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # outlives the command that started it
    )
    url = f"http://{host}:{port}"
    trust = ca.trust_context()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SandboxError(f"the sandbox exited during start-up; see {directory / 'sandbox.log'}")
        if _healthy(url) and _healthy(f"https://{host}:{tls_port}", trust):
            endpoint = SandboxEndpoint(
                url=url, api_token=api_token, pid=process.pid, tls_port=tls_port, ca_file=str(ca.cert_file)
            )
            endpoint.save(directory)
            return endpoint
        time.sleep(0.1)
    process.kill()
    raise SandboxError(f"the sandbox did not answer within {timeout:.0f}s; see {directory / 'sandbox.log'}")


def stop(directory: Path, timeout: float = 10.0) -> bool:
    """Stop the sandbox for `directory`; returns False if it was not running. State is kept."""
    endpoint = SandboxEndpoint.load(directory)
    if endpoint is None or not _alive(endpoint.pid):
        SandboxEndpoint.remove(directory)
        return False
    os.kill(endpoint.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(endpoint.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(endpoint.pid):
        os.kill(endpoint.pid, signal.SIGKILL)
    SandboxEndpoint.remove(directory)
    return True
