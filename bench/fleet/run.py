"""bench/fleet: a fleet deployed through the deploy API with state in PostgreSQL, then drift as jobs.

In one run, with everything private to the run (state directory, PostgreSQL, sandbox):
`oneclick service serve` and W `oneclick service worker` processes on one database, which also
holds the Pulumi state (the service's default backend). --apps distinct apps built from the example
spec are POSTed at once, alternately database only (/api/deploy/database) and web (/api/deploy/web:
database, schema, preview data, the 48-file site, health check), then polled until all finish. The
workers are then stopped and their CPU time (with every process they waited for: deploy processes,
the Pulumi CLI, language and provider hosts) read from wait4. Fresh workers (--drift-concurrency
jobs each) then run `oneclick drift --all --jobs`.
  deploy_apps_per_min   finished deploys per minute, first submission to last finish
  cpu_s_per_deploy      worker CPU seconds (user + system) per deploy
  drift_stacks_per_min  stacks checked per minute by `drift --all --jobs`
Last line: `fleet: apps=<n> failed=<n> deploy_apps_per_min=<n> cpu_s_per_deploy=<n>
drift_stacks_per_min=<n> backend=postgres`
Run: .venv/bin/python bench/fleet/run.py [--apps 20] [--workers 2]   (the plan's scale: --apps 500)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.private import REPO, arguments, forget_stacks, free_port, private_state

STATE = private_state("fleet")

import httpx  # noqa: E402

from automation.localpg import LocalPostgres  # noqa: E402
from bench.service_driver import (  # noqa: E402
    ONECLICK,
    service_database,
    service_environment,
    spec,
    start,
    upload_example,
    wait_until_up,
)
from sandbox import server  # noqa: E402
from sandbox.endpoint import sandbox_dir  # noqa: E402


def stop_counting_cpu(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM, then reap with wait4: CPU seconds of the process and every descendant it waited for."""
    if process.poll() is not None:
        return 0.0  # already reaped by Popen: its usage is lost, counted as none
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pid, _status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = 0
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    _pid, _status, usage = os.wait4(process.pid, 0)
    process.returncode = -9
    return usage.ru_utime + usage.ru_stime


def deploy_all(http: httpx.Client, apps: list[str]) -> tuple[float, int]:
    files = upload_example(http)
    began = time.monotonic()
    pending: set[str] = set()
    for n, app in enumerate(apps):
        web = n % 2 == 0  # every other app is database only
        response = http.post(f"/api/deploy/{'web' if web else 'database'}", json=spec(app, files, web=web))
        response.raise_for_status()
        pending.add(response.json()["deploymentId"])
    print(f"submitted {len(apps)} deploys in {time.monotonic() - began:.1f}s", flush=True)
    failed, ended = 0, began
    deadline = time.monotonic() + 6 * 60 * 60
    while pending and time.monotonic() < deadline:
        for deployment_id in sorted(pending):
            status = http.get(f"/api/deploy/status/{deployment_id}").json()
            if status["status"] in ("succeeded", "failed"):
                pending.discard(deployment_id)
                ended = time.monotonic()
                if status["status"] == "failed":
                    failed += 1
                    print(f"failed: {status['appId']}: {status['error']}", flush=True)
        time.sleep(0.5)
    return ended - began, failed + len(pending)


def run(count: int, workers: int, drift_concurrency: int) -> dict[str, float]:
    postgres = LocalPostgres.default()
    base = postgres.start()
    database, token = service_database(base, "bench_fleet", "bench")
    server.start(sandbox_dir(), port=0, postgres_url=base)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = STATE / "logs"
    logs.mkdir()
    api = start(["service", "serve", "--port", str(port), "--database-url", database], logs / "api.log")
    apps = [f"fleet-{n}-{secrets.token_hex(3)}" for n in range(count)]
    pool: list[subprocess.Popen[bytes]] = []
    try:
        wait_until_up(url, api, logs / "api.log")
        worker_args = ["service", "worker", "--database-url", database]
        pool = [start(worker_args, logs / f"worker-{n}.log") for n in range(workers)]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            seconds, failed = deploy_all(http, apps)
        cpu = sum(stop_counting_cpu(p) for p in pool)
        # A drift check is mostly waiting on the engine and the vendor: several per worker.
        drift_args = [*worker_args, "--concurrency", str(drift_concurrency)]
        pool = [start(drift_args, logs / f"drift-worker-{n}.log") for n in range(workers)]
        began = time.monotonic()
        drift = subprocess.run(
            [*ONECLICK, "drift", "--all", "--jobs", "--json", "--database-url", database],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        drift_seconds = time.monotonic() - began
        checked = json.loads(drift.stdout)["stacks"] if drift.stdout.strip().startswith("{") else []
        if drift.returncode != 0:
            print(f"drift exit {drift.returncode}: {drift.stderr[-2000:]}", flush=True)
        return {
            "failed": failed,
            "deploy_apps_per_min": count / seconds * 60,
            "cpu_s_per_deploy": cpu / count,
            "drift_stacks_per_min": len(checked) / drift_seconds * 60,
        }
    finally:
        for process in [*pool, api]:
            stop_counting_cpu(process)
        server.stop(sandbox_dir())
        postgres.stop()
        forget_stacks(apps)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument(
        "--apps", type=int, default=20, help="distinct apps to deploy (the plan's scale: 500)"
    )
    parser.add_argument("--workers", type=int, default=2, help="`oneclick service worker` processes")
    parser.add_argument(
        "--drift-concurrency", type=int, default=1, help="drift jobs each worker runs at once"
    )
    args = parser.parse_args()
    service_environment()
    try:
        figures = run(args.apps, args.workers, args.drift_concurrency)
    finally:
        shutil.rmtree(STATE, ignore_errors=True)
    print(
        f"fleet: apps={args.apps} failed={figures['failed']:.0f} "
        f"deploy_apps_per_min={figures['deploy_apps_per_min']:.1f} "
        f"cpu_s_per_deploy={figures['cpu_s_per_deploy']:.2f} "
        f"drift_stacks_per_min={figures['drift_stacks_per_min']:.1f} backend=postgres"
    )


if __name__ == "__main__":
    main()
