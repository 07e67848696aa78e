"""Where a running sandbox can be found. Standard library only: the Pulumi program reads it too."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8787
TURSO_ORG = "sandbox"
# The one Cloudflare account the sandbox has: every Pages project and zone belongs to it.
CLOUDFLARE_ACCOUNT_ID = "sandbox-account"


def state_root() -> Path:
    """The git-ignored directory that holds local state (Pulumi backend, sandbox, PostgreSQL)."""
    return Path(os.environ.get("ONECLICK_STATE_DIR", REPO_ROOT / ".state")).resolve()


def sandbox_dir() -> Path:
    return Path(os.environ.get("ONECLICK_SANDBOX_DIR", state_root() / "sandbox")).resolve()


@dataclass(frozen=True)
class SandboxEndpoint:
    """How to reach a running sandbox: its base URL and the API token it accepts."""

    url: str
    api_token: str
    pid: int

    def save(self, directory: Path) -> None:
        path = directory / "endpoint.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.chmod(0o600)
        tmp.replace(path)

    @staticmethod
    def load(directory: Path | None = None) -> SandboxEndpoint | None:
        path = (directory or sandbox_dir()) / "endpoint.json"
        try:
            data = json.loads(path.read_text())
            return SandboxEndpoint(
                url=str(data["url"]), api_token=str(data["api_token"]), pid=int(data["pid"])
            )
        except (OSError, ValueError, KeyError):
            return None

    @staticmethod
    def remove(directory: Path) -> None:
        (directory / "endpoint.json").unlink(missing_ok=True)
