"""A worker on a host of its own, as far as one machine allows.

bubblewrap gives each worker its own hostname and a view of the file system in which only its own
tree is writable: the repository and everything else are read-only, and the other workers' trees
are not there at all (an empty, read-only folder in their place). The network is shared: the
workers reach PostgreSQL and the sandbox as hosts reach them over the network. A worker that
needed a file from the repository's writable state or from another worker's tree fails here.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.localca import ca_dir
from sandbox.endpoint import REPO_ROOT
from tests.service.conftest import Workers

BWRAP = "bwrap"


@dataclass(frozen=True)
class Host:
    """One worker's machine: its hostname and its own file tree (state, work, tmp)."""

    name: str
    root: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def project(self) -> Path:
        """The Pulumi project directory the worker makes in its work directory."""
        return self.work / "pulumi"

    def env(self) -> dict[str, str]:
        for folder in ("state", "work", "tmp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        return {
            "ONECLICK_STATE_DIR": str(self.root / "state"),
            "ONECLICK_WORK_DIR": str(self.work),
            "TMPDIR": str(self.root / "tmp"),  # a host's own /tmp
            # The sandbox's CA is the one thing shared: a trust anchor installed on every host.
            "ONECLICK_CA_DIR": str(ca_dir()),
        }

    def wrapper(self, others: Sequence[Host], empty: Path) -> list[str]:
        """The bwrap command line the worker runs under."""
        hidden = [arg for other in others for arg in ("--ro-bind", str(empty), str(other.root))]
        return [
            BWRAP,
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--bind", str(self.root), str(self.root),
            *hidden,
            "--unshare-uts", "--hostname", self.name,
            "--die-with-parent",
            "--chdir", str(REPO_ROOT),
            "--",
        ]  # fmt: skip


def check(host: Host, others: Sequence[Host], empty: Path) -> None:
    """The jail holds: the host writes its own tree only, and sees no other host's files."""
    mark = "jail-probe"
    script = (
        f'hostname; touch "$1/{mark}" && rm "$1/{mark}" || exit 3; '
        f'touch "$2/{mark}" 2>/dev/null && exit 4; '
        'shift 2; for other in "$@"; do [ -z "$(ls -A "$other")" ] || exit 5; done'
    )
    command = [*host.wrapper(others, empty), "sh", "-c", script, "probe", str(host.root), str(REPO_ROOT)]
    done = subprocess.run(
        [*command, *(str(o.root) for o in others)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"the jail of {host.name} leaks (exit {done.returncode}): {done.stderr}"
    assert done.stdout.strip() == host.name
    assert not (REPO_ROOT / mark).exists()


def hosts(base: Path, names: Sequence[str]) -> list[Host]:
    """Hosts with trees under `base`; skips the test where bubblewrap cannot make namespaces."""
    found = shutil.which(BWRAP)
    probe = (
        subprocess.run(
            [BWRAP, "--ro-bind", "/", "/", "--unshare-uts", "true"], capture_output=True, check=False
        )
        if found
        else None
    )
    if probe is None or probe.returncode != 0:
        detail = probe.stderr.decode(errors="replace").strip() if probe is not None else "not installed"
        pytest.skip(f"needs bubblewrap with namespaces (apt-get install bubblewrap): {detail}")
    return [Host(name, base / name) for name in names]


def start_workers(workers: Workers, hosts: Sequence[Host], logs: Path) -> dict[str, subprocess.Popen[bytes]]:
    """One worker per host, each in its jail (checked first); by host name."""
    empty = logs / "empty"
    empty.mkdir(exist_ok=True)
    envs = {host.name: host.env() for host in hosts}  # every tree exists before any jail hides it
    started = {}
    for host in hosts:
        others = [h for h in hosts if h is not host]
        check(host, others, empty)
        started[host.name] = workers.start(
            logs, heartbeat=0.5, stalled_after=3, env=envs[host.name], wrapper=host.wrapper(others, empty)
        )
    return started
