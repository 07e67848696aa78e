"""Run the sandbox in the foreground: python -m sandbox --dir DIR --port PORT."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn

from sandbox.app import create_app
from sandbox.endpoint import DEFAULT_PORT, sandbox_dir


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument(
        "--dir", type=Path, default=sandbox_dir(), help="state directory (kept across restarts)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ONECLICK_SANDBOX_PG_URL"),
        help="superuser URL of the PostgreSQL server that hosts sandbox Neon projects",
    )
    args = parser.parse_args()
    app = create_app(args.dir, port=args.port, postgres_url=args.postgres_url)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
