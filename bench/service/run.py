"""bench/service: deploys of distinct apps submitted through the deploy API, run by N workers.

In one run, on this machine, with everything private to the run (state directory, PostgreSQL,
sandbox): `oneclick service serve` and N `oneclick service worker` processes on one database;
--apps web deploys of the example app (database, schema, preview data, 48-file site, health check),
each under its own app id, are POSTed to /api/deploy/web at once, then polled until all finish.
  apps_per_min  finished deploys per minute, from the first submission to the last finish
  p50_s, p95_s  submission-to-finish latency of one deploy (queueing included)
  failed        deploys that did not succeed (must be 0)
Last line: `service: apps_per_min=<n> p50_s=<n> p95_s=<n> failed=<n>`
Run: .venv/bin/python bench/service/run.py [--apps 40] [--workers 2]
"""

from __future__ import annotations

import secrets
import shutil
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.private import arguments, forget_stacks, free_port, private_state

STATE = private_state("service")

import httpx  # noqa: E402

from automation.localpg import LocalPostgres  # noqa: E402
from bench.service_driver import (  # noqa: E402
    service_database,
    service_environment,
    spec,
    start,
    stop,
    upload_example,
    wait_until_up,
)
from sandbox import server  # noqa: E402
from sandbox.endpoint import sandbox_dir  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def run(apps: int, workers: int) -> tuple[float, float, float, int]:
    postgres = LocalPostgres.default()
    base = postgres.start()
    database, token = service_database(base, "bench_service", "bench-user")
    server.start(sandbox_dir(), port=0, postgres_url=base)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = STATE / "logs"
    logs.mkdir()
    processes = [
        start(["service", "serve", "--port", str(port), "--database-url", database], logs / "api.log")
    ]
    app_ids: list[str] = []
    try:
        wait_until_up(url, processes[0], logs / "api.log")
        for n in range(workers):
            processes.append(
                start(["service", "worker", "--database-url", database], logs / f"worker-{n}.log")
            )
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            submitted: dict[str, float] = {}
            files = upload_example(http)
            began = time.monotonic()
            for n in range(apps):
                app = f"bench-{n}-{secrets.token_hex(3)}"
                app_ids.append(app)
                response = http.post("/api/deploy/web", json=spec(app, files))
                response.raise_for_status()
                submitted[response.json()["deploymentId"]] = time.monotonic()
            print(f"submitted {apps} deploys in {time.monotonic() - began:.2f}s", flush=True)
            finished: dict[str, tuple[float, str]] = {}
            runs: list[float] = []  # one attempt's own time, queueing excluded
            deadline = time.monotonic() + 60 * 60
            while len(finished) < apps and time.monotonic() < deadline:
                for deployment_id in submitted.keys() - finished.keys():
                    status = http.get(f"/api/deploy/status/{deployment_id}").json()
                    if status["status"] in ("succeeded", "failed"):
                        finished[deployment_id] = (time.monotonic(), status["status"])
                        if status["startedAt"] and status["finishedAt"]:
                            start_at, end_at = (
                                datetime.fromisoformat(status[k]) for k in ("startedAt", "finishedAt")
                            )
                            runs.append((end_at - start_at).total_seconds())
                        if status["status"] == "failed":
                            print(f"failed: {status['appId']}: {status['error']}", flush=True)
                time.sleep(0.25)
            ended = max((t for t, _ in finished.values()), default=time.monotonic())
            latencies = [finished[d][0] - submitted[d] for d in finished]
            failed = apps - sum(1 for _, s in finished.values() if s == "succeeded")
        seconds = ended - began
        print(
            f"{apps} deploys, {workers} workers: {seconds:.1f}s in all; "
            f"one deploy on a worker: median {statistics.median(runs) if runs else 0:.1f}s",
            flush=True,
        )
        return apps / seconds * 60, percentile(latencies, 0.5), percentile(latencies, 0.95), failed
    finally:
        for process in reversed(processes):
            stop(process)
        server.stop(sandbox_dir())
        postgres.stop()
        forget_stacks(app_ids)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--apps", type=int, default=40, help="deploys of distinct apps to submit")
    parser.add_argument("--workers", type=int, default=2, help="`oneclick service worker` processes")
    args = parser.parse_args()
    service_environment()
    try:
        per_min, p50, p95, failed = run(args.apps, args.workers)
    finally:
        shutil.rmtree(STATE, ignore_errors=True)
    print(f"service: apps_per_min={per_min:.1f} p50_s={p50:.1f} p95_s={p95:.1f} failed={failed}")


if __name__ == "__main__":
    main()
