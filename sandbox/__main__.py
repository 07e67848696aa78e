"""Run the sandbox in the foreground: python -m sandbox --dir DIR --port PORT [--tls-port PORT].

One process, one app and one state serve two ports: plain HTTP on `--port` (the APIs, and what the
Workers runtime's egress forwards `*.localhost` requests to) and TLS on `--tls-port` with the local
CA's certificates (what `libsql://` URLs name, as every official client reads them as TLS).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Generator
from pathlib import Path

import uvicorn

from core.localca import LocalCA
from core.settings import settings
from sandbox.app import create_app
from sandbox.endpoint import DEFAULT_PORT, DEFAULT_TLS_PORT, sandbox_dir
from sandbox.tls import ServerCertificates

# Hrana over WebSocket; the sans-I/O implementation is the one current `websockets` supports.
WS_PROTOCOL = "websockets-sansio"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve`, which stops both servers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(servers: list[uvicorn.Server]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    tasks = [asyncio.ensure_future(server.serve()) for server in servers]
    # One failing to start (its port taken) stops the other, so start-up fails as a whole.
    for done in asyncio.as_completed(tasks):
        await done
        stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument(
        "--dir", type=Path, default=sandbox_dir(), help="state directory (kept across restarts)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port for plain HTTP")
    parser.add_argument("--tls-port", type=int, default=DEFAULT_TLS_PORT, help="TCP port for TLS (0: no TLS)")
    parser.add_argument(
        "--postgres-url",
        default=settings().local.sandbox_postgres_url,
        help="superuser URL of the PostgreSQL server that hosts sandbox Neon projects",
    )
    args = parser.parse_args()
    app = create_app(args.dir, port=args.port, postgres_url=args.postgres_url, tls_port=args.tls_port)
    common = {"host": args.host, "log_level": "warning", "ws": WS_PROTOCOL}
    servers: list[uvicorn.Server] = [_Server(uvicorn.Config(app, port=args.port, **common))]
    if args.tls_port:
        ca = LocalCA.default()
        certs = ServerCertificates(ca, args.dir / "tls")
        config = uvicorn.Config(
            app,
            port=args.tls_port,
            ssl_certfile=str(ca.server_cert_file),
            ssl_keyfile=str(ca.server_key_file),
            lifespan="off",  # the plain server runs the app's lifespan once
            **common,
        )
        config.load()
        config.ssl = certs.context  # with the SNI callback that signs names the wildcards miss
        servers.append(_Server(config))
    asyncio.run(serve(servers))


if __name__ == "__main__":
    main()
