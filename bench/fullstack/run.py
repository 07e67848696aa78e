"""bench/fullstack: the example Next.js shop deployed from source into a private sandbox, then loaded.

In one run, on this machine, into a private sandbox and state directory (an empty build cache):
  cold     `automation.deploy(spec)` of examples/shop with `web.source`: npm ci + the OpenNext build,
           database, schema, preview data, Pages upload with the server half, health check;
  noop     the same deploy again: no rebuild (the cached build), no new deployment;
  change   one API route changed (the health route answers one more field): rebuild, upload of what
           changed, a new deployment;
  load     GET /api/health and GET /api/products one at a time (p50 latency), then GET /api/products
           from --clients concurrent clients for --seconds (requests per second, errors).
The last line is:
  fullstack: cold_s=… noop_s=… change_s=… health_p50_ms=… products_p50_ms=… products_rps=… rows_from_app=…
Run: .venv/bin/python bench/fullstack/run.py [--samples N] [--clients N] [--seconds S]
"""

from __future__ import annotations

import secrets
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.private import arguments, forget_stacks, private_state, timed, tools_on_path

STATE = private_state("fullstack")

import httpx  # noqa: E402

from automation import operations  # noqa: E402
from components.spec import AppSpec  # noqa: E402
from core.localhost import LoopbackTransport  # noqa: E402
from sandbox import server  # noqa: E402
from sandbox.endpoint import sandbox_dir  # noqa: E402
from tests.helpers import SHOP, shop_database  # noqa: E402

# Never copied into the bench's source: installs and build output of a developer's own runs.
LEFT_OUT = shutil.ignore_patterns("node_modules", ".next", ".open-next", ".wrangler", "generated")
HEALTH_ROUTE = Path("app") / "api" / "health" / "route.ts"


def bench_spec(app: str, source: Path) -> AppSpec:
    return AppSpec.parse(
        {
            "id": app,
            "database": shop_database(),
            "web": {
                "source": str(source),
                "framework": "nextjs",
                "secretEnv": {"SHOP_ADMIN_PASSWORD": secrets.token_urlsafe(12)},
            },
        }
    )


def change_one_route(source: Path) -> None:
    """The health route answers one more field: a server-side change, no static file changes."""
    route = source / HEALTH_ROUTE
    text = route.read_text()
    marker = 'status: "ok", '
    if marker not in text:
        raise SystemExit(f"{HEALTH_ROUTE} no longer has {marker!r}; update the bench's change step")
    route.write_text(text.replace(marker, marker + 'bench: "changed", ', 1))


def latencies_ms(http: httpx.Client, url: str, samples: int) -> list[float]:
    times: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        response = http.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return times


def load(url: str, clients: int, seconds: float) -> tuple[int, int, float]:
    """(requests, errors, elapsed) of `clients` threads each sending GETs for `seconds`."""
    counts = [0] * clients
    errors = [0] * clients
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        with httpx.Client(transport=LoopbackTransport(), timeout=30) as http:
            while time.perf_counter() < deadline:
                try:
                    ok = http.get(url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                counts[index] += 1
                errors[index] += 0 if ok else 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), sum(errors), time.perf_counter() - started


def rows_from_app(http: httpx.Client, url: str) -> int:
    body: Any = http.get(url + "/api/products", params={"limit": 500}).json()
    products = body.get("products") if isinstance(body, dict) else body
    if not isinstance(products, list):
        raise SystemExit(f"GET /api/products answered {str(body)[:300]}")
    return len(products)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--samples", type=int, default=200, help="sequential requests per latency figure")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients for the load")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the load")
    args = parser.parse_args()
    tools_on_path()
    server.start(sandbox_dir(), port=0)
    app = f"bench-fs-{secrets.token_hex(3)}"
    source = Path(shutil.copytree(SHOP, STATE / "shop", ignore=LEFT_OUT))
    try:
        spec = bench_spec(app, source)
        cold_s = timed(lambda: operations.deploy(spec))
        print(f"cold   {cold_s:.2f}s", flush=True)
        noop = operations.deploy(spec)
        noop_s = noop.seconds
        if noop.changed:
            raise SystemExit(f"the unchanged redeploy changed {noop.changes}")
        print(f"noop   {noop_s:.2f}s", flush=True)
        change_one_route(source)
        changed = operations.deploy(spec)
        change_s = changed.seconds
        print(f"change {change_s:.2f}s ({changed.outputs.get('uploadedFiles')} files uploaded)", flush=True)
        url = str(changed.outputs["url"])
        with httpx.Client(transport=LoopbackTransport(), timeout=30) as http:
            if "changed" not in http.get(url + "/api/health").text:
                raise SystemExit("the changed route is not what the app serves")
            rows = rows_from_app(http, url)
            health = latencies_ms(http, url + "/api/health", args.samples)
            products = latencies_ms(http, url + "/api/products", args.samples)
        requests, errors, elapsed = load(url + "/api/products", args.clients, args.seconds)
        print(
            f"load   {requests} requests from {args.clients} clients in {elapsed:.1f}s, {errors} errors",
            flush=True,
        )
        if errors:
            raise SystemExit(f"{errors} of {requests} requests failed under {args.clients} clients")
        operations.destroy(app)
    finally:
        forget_stacks([app])
        server.stop(sandbox_dir())
        shutil.rmtree(STATE, ignore_errors=True)
    print(
        f"fullstack: cold_s={cold_s:.2f} noop_s={noop_s:.2f} change_s={change_s:.2f} "
        f"health_p50_ms={statistics.median(health):.1f} products_p50_ms={statistics.median(products):.1f} "
        f"products_rps={requests / elapsed:.1f} rows_from_app={rows}"
    )


if __name__ == "__main__":
    main()
