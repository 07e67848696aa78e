"""The environment every Pulumi CLI run gets: tools on PATH, backend, secrets passphrase."""

from __future__ import annotations

import os
from pathlib import Path

from components.paths import REPO_ROOT, state_root
from components.targets import SANDBOX_PASSPHRASE, TargetError, passphrase_problem

TOOLS_DIR = REPO_ROOT / ".tools"
TOOLS_BIN = TOOLS_DIR / "bin"


def backend_url() -> str:
    """PULUMI_BACKEND_URL if set (s3://…, Pulumi Cloud…), else the DIY file backend under .state/."""
    url = os.environ.get("PULUMI_BACKEND_URL", "").strip()
    if url:
        return url
    directory = state_root() / "pulumi"
    directory.mkdir(parents=True, exist_ok=True)
    return f"file://{directory}"


def work_dir() -> Path:
    """Where a worker unpacks uploads: ONECLICK_WORK_DIR, else .state/work."""
    given = os.environ.get("ONECLICK_WORK_DIR", "").strip()
    return Path(given).resolve() if given else state_root() / "work"


def passphrase_env(target_is_sandbox: bool) -> dict[str, str]:
    """The passphrase variables for a stack; the fixed one only ever for sandbox stacks."""
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return {}
    given = os.environ.get("PULUMI_CONFIG_PASSPHRASE")
    problem = passphrase_problem(target_is_sandbox, given)
    if problem:
        raise TargetError(problem)
    return {"PULUMI_CONFIG_PASSPHRASE": given if given else SANDBOX_PASSPHRASE}


def pulumi_env(target_is_sandbox: bool) -> dict[str, str]:
    return {
        "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_BACKEND_URL": backend_url(),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        **passphrase_env(target_is_sandbox),
    }


def stack_config_path(app_id: str) -> Path:
    return REPO_ROOT / "stacks" / f"Pulumi.{app_id}.yaml"
