"""The sandbox's durable state: one JSON document written atomically, kept across restarts."""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path
from typing import Any


class SandboxStore:
    """Thread-safe JSON state in `directory/state.json`, plus the API token the sandbox accepts."""

    def __init__(
        self, directory: Path, port: int = 0, postgres_url: str | None = None, tls_port: int = 0
    ) -> None:
        self.directory = directory
        # The port the sandbox listens on: hostnames it hands out (`*.localhost:<port>`) carry it.
        self.port = port
        # Its TLS port (0: none): libSQL hostnames carry it, as `libsql://` means TLS to every client.
        self.tls_port = tls_port
        # Superuser URL of the PostgreSQL server behind sandbox Neon projects (None: Neon is off).
        self.postgres_url = postgres_url
        self.directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / "state.json"
        self._lock = threading.RLock()
        self.data: dict[str, Any] = self._read()
        self.api_token = self._api_token()

    def _read(self) -> dict[str, Any]:
        if self._path.exists():
            loaded: dict[str, Any] = json.loads(self._path.read_text())
            return loaded
        return {}

    def _api_token(self) -> str:
        # One token per sandbox directory, so sandbox deploys exercise real bearer auth.
        path = self.directory / "api-token"
        if not path.exists():
            path.write_text("sbx_" + secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def section(self, *keys: str) -> dict[str, Any]:
        """The nested dict at `keys`, created on first use. Call with the lock held."""
        node = self.data
        for key in keys:
            node = node.setdefault(key, {})
        return node

    def save(self) -> None:
        with self._lock:
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            tmp.replace(self._path)
