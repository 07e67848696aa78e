"""How the product finds a running sandbox: the discovery record it writes and its fixed accounts.

The sandbox writes `endpoint.json` into its state directory when it starts and removes it when it
stops; the product only reads that record, so nothing outside `sandbox/` imports the emulator.
Standard library only (and core.settings): the Pulumi program reads it too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from core.settings import settings

# The sandbox's one Turso organization: every sandbox database belongs to it.
TURSO_ORG = "sandbox"
# The one Cloudflare account the sandbox has: every Pages project and zone belongs to it.
CLOUDFLARE_ACCOUNT_ID = "sandbox-account"
RECORD_NAME = "endpoint.json"


def sandbox_dir() -> Path:
    """The sandbox's state directory, which holds the discovery record."""
    return settings().paths.sandbox_dir


@dataclass(frozen=True)
class SandboxEndpoint:
    """How to reach a running sandbox: its base URL and the API token it accepts.

    `tls_port` is the port the same sandbox serves TLS on (0: none): the libSQL hostnames its Turso
    API hands out carry it. `ca_file` is the local CA certificate its TLS certificates chain to:
    clients trust it through NODE_EXTRA_CA_CERTS, SSL_CERT_FILE or PGSSLROOTCERT."""

    url: str
    api_token: str
    pid: int
    tls_port: int = 0
    ca_file: str = ""

    @property
    def tls_url(self) -> str:
        """`https://localhost:<tls_port>`, or "" without TLS."""
        return f"https://localhost:{self.tls_port}" if self.tls_port else ""

    def save(self, directory: Path) -> None:
        path = directory / RECORD_NAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.chmod(0o600)
        tmp.replace(path)

    @staticmethod
    def load(directory: Path | None = None) -> SandboxEndpoint | None:
        path = (directory or sandbox_dir()) / RECORD_NAME
        try:
            data = json.loads(path.read_text())
            return SandboxEndpoint(
                url=str(data["url"]),
                api_token=str(data["api_token"]),
                pid=int(data["pid"]),
                tls_port=int(data.get("tls_port") or 0),
                ca_file=str(data.get("ca_file") or ""),
            )
        except (OSError, ValueError, KeyError):
            return None

    @staticmethod
    def remove(directory: Path) -> None:
        (directory / RECORD_NAME).unlink(missing_ok=True)
