"""bench/fleet/profile: where one deploy's CPU goes, per process kind (the CLI, the engine, hosts).

Deploys the example app (database, schema, preview data, the 48-file site) once with
`oneclick deploy` into a private sandbox, state in a private PostgreSQL, while sampling /proc every
20 ms for every process of the deploy's session; each process's last seen user+system CPU is summed
by its kind. Processes shorter than one sample are missed, so the total is a lower bound; the
`total` line (getrusage of the reaped deploy) is exact.
Run: .venv/bin/python bench/fleet/profile.py [--web/--no-web]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.helpers import free_port  # noqa: E402

STATE = Path(tempfile.mkdtemp(prefix="oneclick-bench-profile-"))
STATE.chmod(0o755)
os.environ["ONECLICK_STATE_DIR"] = str(STATE)
os.environ["ONECLICK_SANDBOX_DIR"] = str(STATE / "sandbox")
os.environ.pop("ONECLICK_PG_DIR", None)
os.environ["ONECLICK_PG_PORT"] = str(free_port())
for variable in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
    os.environ.pop(variable, None)

from automation.environment import TOOLS_BIN, service_backend_url  # noqa: E402
from automation.localpg import LocalPostgres  # noqa: E402
from core.settings import export  # noqa: E402
from sandbox import server  # noqa: E402
from sandbox.endpoint import sandbox_dir  # noqa: E402

SHOP = REPO / "examples" / "shop"
SITE = REPO / "tests" / "fixtures" / "static-site"
TICKS = os.sysconf("SC_CLK_TCK")


def kind(pid: int) -> str:
    """What a process is, from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in argv if a)
    for marker, name in (
        ("pulumi-language-python-exec", "program (python __main__)"),
        ("pulumi-language-python", "language host (go)"),
        ("pulumi-resource-pulumi-python", "dynamic provider host (python)"),
        ("dynamic_provider", "dynamic provider host (python)"),
        ("pulumi-resource", "resource plugin"),
        ("bin/pulumi ", "pulumi CLI / engine (go)"),
        ("from cli.main import main", "oneclick CLI (python)"),
    ):
        if marker in text:
            return name
    return Path(argv[0].decode(errors="replace")).name or "?"


def cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return -1.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--web", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    os.environ["PATH"] = f"{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"
    export({"PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(32)})  # read here too, not only by children
    postgres = LocalPostgres.default()
    app = f"profile-{secrets.token_hex(3)}"
    try:
        base = postgres.start()
        export({"PULUMI_BACKEND_URL": service_backend_url(base)})
        server.start(sandbox_dir(), port=0, postgres_url=base)
        spec = {
            "id": app,
            "database": {
                "provider": "turso",
                "prismaSchema": str(SHOP / "prisma" / "schema.prisma"),
                "migrations": str(SHOP / "prisma" / "migrations"),
                "previewData": str(SHOP / "prisma" / "preview.sql"),
            },
        }
        if args.web:
            spec["web"] = {"buildDir": str(SITE)}
        spec_file = STATE / "spec.json"
        spec_file.write_text(json.dumps(spec))
        seen: dict[int, tuple[str, float]] = {}
        began = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen(
            [sys.executable, "-c", "from cli.main import main; main()", "deploy", str(spec_file)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        while process.poll() is None:
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    pid = int(entry.name)
                    try:
                        if os.getsid(pid) != process.pid:
                            continue
                    except OSError:
                        continue
                    used = cpu(pid)
                    if used >= 0:
                        seen[pid] = (seen[pid][0] if pid in seen else kind(pid), used)
            time.sleep(0.02)
        wall = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        exact = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        by_kind: dict[str, float] = defaultdict(float)
        for name, used in seen.values():
            by_kind[name] += used
        for name, used in sorted(by_kind.items(), key=lambda item: -item[1]):
            print(f"{used:7.2f}s  {name}")
        print(f"{sum(by_kind.values()):7.2f}s  sampled total over {len(seen)} processes; wall {wall:.1f}s")
        print(f"{exact:7.2f}s  total (everything the deploy waited for, from getrusage)")
        print(f"deploy exit {process.returncode}")
    finally:
        server.stop(sandbox_dir())
        postgres.stop()
        shutil.rmtree(STATE, ignore_errors=True)
        (REPO / "stacks" / f"Pulumi.{app}.yaml").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
