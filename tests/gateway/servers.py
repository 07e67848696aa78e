"""Running ASGI apps and stripe-mock on free loopback ports for the gateway's tests."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from sandbox.endpoint import REPO_ROOT
from tests.helpers import free_port


class ServerThread:
    """uvicorn serving `app` in a background thread (its own event loop), with lifespan."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class StripeMock:
    url: str
    process: subprocess.Popen[bytes]

    @staticmethod
    def binary() -> Path | None:
        local = REPO_ROOT / ".tools" / "bin" / "stripe-mock"
        if local.exists():
            return local
        found = shutil.which("stripe-mock")
        return Path(found) if found else None

    @staticmethod
    def start() -> StripeMock:
        binary = StripeMock.binary()
        if binary is None:
            raise RuntimeError("stripe-mock is not built: run ./scripts/setup")
        http_port, https_port = free_port(), free_port()
        process = subprocess.Popen(
            [str(binary), "-http-addr", f"127.0.0.1:{http_port}", "-https-addr", f"127.0.0.1:{https_port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/v1/customers", auth=("sk_test_123", ""), timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError("stripe-mock did not start") from None
                time.sleep(0.05)
        return StripeMock(url, process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
