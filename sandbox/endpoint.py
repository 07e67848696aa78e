"""The sandbox's side of discovery: its default port, plus the record and paths the product defines."""

from __future__ import annotations

from components.paths import REPO_ROOT, state_root
from components.sandbox_target import CLOUDFLARE_ACCOUNT_ID, TURSO_ORG, SandboxEndpoint, sandbox_dir

# The port `oneclick sandbox start` and `python -m sandbox` bind unless told otherwise.
DEFAULT_PORT = 8787

__all__ = [
    "CLOUDFLARE_ACCOUNT_ID",
    "DEFAULT_PORT",
    "REPO_ROOT",
    "TURSO_ORG",
    "SandboxEndpoint",
    "sandbox_dir",
    "state_root",
]
