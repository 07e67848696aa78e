"""Gateways as real `oneclick gateway` processes (for crashes, and for several processes at once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.gateway.conftest import OPENAI_KEY
from tests.helpers import free_port


class GatewayProcess:
    """`oneclick gateway` on a free port; its output goes to a file (a pipe nobody reads would fill
    and stall a busy gateway)."""

    def __init__(self, db: str, upstream_url: str, journal: Path, **env: str) -> None:
        self.port = free_port()
        environment = {
            **os.environ,
            "ONECLICK_OPENAI_URL": upstream_url,
            "PLATFORM_OPENAI_KEY": OPENAI_KEY,
            **env,
        }
        command = [
            str(Path(sys.executable).parent / "oneclick"),
            "gateway",
            "--port",
            str(self.port),
            "--database-url",
            db,
            "--journal-dir",
            str(journal),
            "--no-migrate",
        ]
        self._output = tempfile.TemporaryFile()  # noqa: SIM115  # lives as long as the process
        self.process = subprocess.Popen(
            command, env=environment, stdout=self._output, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                self.process.wait(timeout=10)
                raise RuntimeError(f"gateway did not start: {self.output()[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        return self.output()

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode(errors="replace")
