"""The sandbox's side of discovery: its default port, plus the record and paths the product defines."""

from __future__ import annotations

from components.paths import REPO_ROOT, state_root
from components.sandbox_target import CLOUDFLARE_ACCOUNT_ID, TURSO_ORG, SandboxEndpoint, sandbox_dir
from core.settings import Local

# The ports `oneclick sandbox start` and `python -m sandbox` bind unless told otherwise: plain HTTP,
# and TLS (which the libSQL hostnames carry, so keep it stable: deployed apps keep their URLs).
DEFAULT_PORT = Local.sandbox_port  # 8787
DEFAULT_TLS_PORT = Local.sandbox_tls_port  # 8443 (8788 and 8789 are the gateway's and the service's)

__all__ = [
    "CLOUDFLARE_ACCOUNT_ID",
    "DEFAULT_PORT",
    "DEFAULT_TLS_PORT",
    "REPO_ROOT",
    "TURSO_ORG",
    "SandboxEndpoint",
    "sandbox_dir",
    "state_root",
]
