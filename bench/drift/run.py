"""bench/drift: `oneclick drift --all` over many app stacks at --parallel 1, 2 and 4.

In one run, on this machine, into a private sandbox and state directory:
  deploy   N small app stacks (a Turso database each), several at a time;
  drift    `oneclick drift --all --json` as a subprocess at --parallel 1, 2 and 4, timed end to end
           (every stack must come back clean, each checked in the drift process: `"via": "direct"`;
           with --engine, `drift --engine`: a Pulumi refresh preview per stack);
  profile  where one engine check spends its time, from the engine's event stream: starting the
           CLI and engine (backend, config, state), starting the dynamic provider host and reading
           the resource (the vendor API call itself is timed directly), and finishing up.
The last line is:
  drift: stacks=<n> p1_stacks_per_min=<n> p2_stacks_per_min=<n> p4_stacks_per_min=<n> via=direct|engine
Run: .venv/bin/python bench/drift/run.py [--stacks N] [--engine]
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.private import REPO, arguments, forget_stacks, private_state, timed, tools_on_path

STATE = private_state("drift")

from pulumi.automation import events  # noqa: E402

from automation import operations  # noqa: E402
from automation.fleet import all_app_ids  # noqa: E402
from automation.listed_stacks import open_listed_stack  # noqa: E402
from automation.parallel import run_bounded  # noqa: E402
from components.spec import AppSpec  # noqa: E402
from components.turso.client import TursoClient  # noqa: E402
from sandbox import server  # noqa: E402
from sandbox.endpoint import TURSO_ORG, SandboxEndpoint, sandbox_dir  # noqa: E402

SETTINGS = (1, 2, 4)
VIA = {False: "direct", True: "engine"}  # how drift checks each stack, by --engine
CLI = [sys.executable, "-c", "from cli.main import main; main()"]
# What `python -m pulumi.dynamic` (the dynamic provider host) imports before it serves, and the
# provider module it unpickles (importing pulumi.dynamic.__main__ itself would start serving).
HOST_IMPORTS = "import dill, grpc, pulumi.runtime, pulumi.dynamic, components.turso.provider"


def deploy_all(apps: list[str], parallel: int) -> None:
    def one(app: str) -> None:
        operations.deploy(AppSpec.parse({"id": app}), health_check=False)

    started = time.perf_counter()
    run_bounded(apps, one, parallel)
    print(f"deployed {len(apps)} stacks in {time.perf_counter() - started:.1f}s", flush=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def drift_all(parallel: int, expected: int, engine: bool) -> tuple[float, float]:
    """Seconds for `oneclick drift --all` to check every stack (all must be clean, each by the
    path asked for), and the CPU seconds it used (the CLI, the engines and the provider hosts)."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [*CLI, "drift", "--all", "--json", "--parallel", str(parallel), *(["--engine"] if engine else [])],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    cpu = children_cpu() - cpu
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    summary = report.get("summary") or {}
    paths = {s["via"] for s in report.get("stacks") or []}
    if done.returncode != 0 or summary.get("clean") != expected or paths != {VIA[engine]}:
        raise SystemExit(
            f"drift --parallel {parallel} failed ({done.returncode}): {summary} via {sorted(paths)} "
            f"{done.stderr[-2000:]}"
        )
    return seconds, cpu


def python_run(code: str) -> float:
    return timed(
        lambda: subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, check=True)
    )


def profile(apps: list[str], sandbox: SandboxEndpoint) -> dict[str, float]:
    """Median seconds of each part of one stack's check as `drift` runs it, one stack at a time."""
    parts: dict[str, list[float]] = {
        k: [] for k in ("open", "engine_start", "until_read", "read", "finish", "total", "api")
    }
    for app in apps:
        marks: dict[str, float] = {}

        def on_event(event: events.EngineEvent, marks: dict[str, float] = marks) -> None:
            now = time.perf_counter()
            marks.setdefault("first_event", now)
            pre, out = event.resource_pre_event, event.res_outputs_event
            if pre is not None and "pulumi-python:dynamic" in pre.metadata.urn:
                marks.setdefault("read_start", now)
            if out is not None and "pulumi-python:dynamic" in out.metadata.urn:
                marks["read_end"] = now

        t0 = time.perf_counter()
        stack = open_listed_stack(app)
        t1 = time.perf_counter()
        stack.preview_refresh(on_event=on_event, color="never", suppress_progress=True)
        t2 = time.perf_counter()
        with TursoClient(sandbox.api_token, TURSO_ORG, base_url=sandbox.url) as turso:
            parts["api"].append(timed(functools.partial(turso.get_database, app)))
        parts["open"].append(t1 - t0)
        parts["engine_start"].append(marks["first_event"] - t1)
        parts["until_read"].append(marks["read_start"] - marks["first_event"])
        parts["read"].append(marks["read_end"] - marks["read_start"])
        parts["finish"].append(t2 - marks["read_end"])
        parts["total"].append(t2 - t0)
    return {k: statistics.median(v) for k, v in parts.items()}


def once_per_run() -> dict[str, float]:
    """What a run pays once or per stack outside the engine's event stream."""
    return {
        "cli_start": python_run("from cli.main import main"),
        "list_stacks": timed(lambda: all_app_ids()),
        # The dynamic provider host is a Python process importing the SDK and unpickling the provider.
        "provider_host_imports": statistics.median(python_run(HOST_IMPORTS) for _ in range(3)),
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--stacks", type=int, default=60, help="app stacks to deploy and check")
    parser.add_argument("--deploy-parallel", type=int, default=4, help="stacks deployed at once")
    parser.add_argument(
        "--engine", action="store_true", help="check through Pulumi refresh previews (drift --engine)"
    )
    args = parser.parse_args()
    tools_on_path()
    sandbox = server.start(sandbox_dir(), port=0)
    apps = [f"bench-drift-{i:03d}" for i in range(args.stacks)]
    rates: dict[int, float] = {}
    try:
        deploy_all(apps, args.deploy_parallel)
        for parallel in SETTINGS:
            seconds, cpu = drift_all(parallel, len(apps), args.engine)
            rates[parallel] = len(apps) / seconds * 60
            print(
                f"drift --all --parallel {parallel}: {seconds:.1f}s, {rates[parallel]:.0f} stacks/min, "
                f"{cpu / len(apps):.2f} CPU s per stack, load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        parts = profile(apps[:8], sandbox)
        print(
            "one stack's check (median s): " + " ".join(f"{k}={v:.3f}" for k, v in parts.items()), flush=True
        )
        print(
            "outside the checks (s): " + " ".join(f"{k}={v:.3f}" for k, v in once_per_run().items()),
            flush=True,
        )
    finally:
        server.stop(sandbox_dir())
        forget_stacks(apps)
        shutil.rmtree(STATE, ignore_errors=True)
    rated = " ".join(f"p{p}_stacks_per_min={rates[p]:.0f}" for p in SETTINGS)
    print(f"drift: stacks={len(apps)} {rated} via={VIA[args.engine]}")


if __name__ == "__main__":
    main()
