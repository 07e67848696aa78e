"""Benchmark: the latency our gateway adds over calling the upstream directly, and its highest rate,
next to LiteLLM's proxy and Portkey's gateway against the same upstream, all on this machine.

    .venv/bin/python bench/gateway/run.py [--rate 500] [--seconds 10] [--skip-litellm] [--skip-portkey]

Processes: a private PostgreSQL cluster (its own data directory in a temporary folder, on a free
port), an OpenAI-compatible stand-in upstream (sandbox/upstreams.py), our gateway (`oneclick
gateway`, with key auth, spend limits (budget leases) and metering on), LiteLLM's proxy (installed on
first run into .tools/litellm-venv, never into the project's own environment), Portkey's gateway
(`@portkey-ai/gateway`, pinned, installed on first run into .tools/portkey with npm, run by Node),
and a load generator (bench/gateway/loadgen.py) in its own process. Each target first gets a fixed
rate (open loop, `--rate` requests/s for `--seconds`, after a warm-up), then a closed loop for its
highest rate. "Added" latency is the target's percentile minus the direct call's.

LiteLLM runs with its master key (auth) but without a database: its spend tracking needs Prisma
engines that it downloads at start, which this machine cannot. Portkey's open-source gateway has
no auth, keys or spend tracking of its own: it forwards with the caller's provider key. If either
cannot be installed or started, its figures print as n/a with the reason. The last line is:

    gateway: ours_p50_ms=<n> ours_p99_ms=<n> ours_max_rps=<n>
             litellm_p50_ms=<n> litellm_p99_ms=<n> litellm_max_rps=<n>
             portkey_p50_ms=<n> portkey_p99_ms=<n> portkey_max_rps=<n>   (on one line)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.helpers import free_port  # noqa: E402

PYTHON = sys.executable
LOADGEN = str(Path(__file__).with_name("loadgen.py"))
LITELLM_VENV = REPO / ".tools" / "litellm-venv"
LITELLM_REQUIREMENT = "litellm[proxy]>=1.50,<2"
PORTKEY_DIR = REPO / ".tools" / "portkey"
PORTKEY_PACKAGE = "@portkey-ai/gateway@1.15.2"
UPSTREAM_KEY = "sk-bench-upstream-key-0123456789"
LITELLM_MASTER_KEY = "sk-bench-litellm-master-0123456789"
BODY = json.dumps(
    {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 5}
)


def wait_http(
    port: int, path: str, process: subprocess.Popen[bytes], seconds: float, method: str = "GET"
) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode}")
        try:
            httpx.request(method, f"http://127.0.0.1:{port}{path}", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"not answering on port {port} after {seconds:.0f}s")


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> Iterator[Any]:
    out = log.open("wb") if log else subprocess.DEVNULL
    child = subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
        if log:
            out.close()  # type: ignore[union-attr]


def serve_upstream(port: int) -> None:
    import uvicorn

    from sandbox.upstreams import UpstreamStandIn

    app = UpstreamStandIn(keys={"openai": {UPSTREAM_KEY}}, record=False).app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextlib.contextmanager
def database(workdir: Path) -> Iterator[str]:
    """A private cluster on a free port, so a cluster already on the default port is left alone."""
    import psycopg

    from automation.localpg import LocalPostgres

    workdir.chmod(0o755)  # the server runs as the postgres user and must reach its directory
    cluster = LocalPostgres(workdir / "postgres", free_port())
    server = cluster.start()
    try:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(b"CREATE DATABASE bench_gateway")
        yield server.rsplit("/", 1)[0] + "/bench_gateway"
    finally:
        cluster.stop()


def prepare_account(url: str) -> str:
    import psycopg

    from service.gateway.keys import create_key
    from service.migrate import apply_migrations

    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO user_subscriptions (user_id, status, spend_limit_cents, stripe_customer_id, "
            "stripe_subscription_id) VALUES ('bench-user', 'active', 100000000, 'cus_bench', 'sub_bench')"
        )
        return create_key(conn, "bench-user", "bench-app")


def ensure_litellm() -> tuple[Path | None, str]:
    """The litellm executable in its own venv (installed on first use), or None and why not."""
    executable = LITELLM_VENV / "bin" / "litellm"
    if executable.exists():
        return executable, "installed"
    print(
        f"installing {LITELLM_REQUIREMENT} into {LITELLM_VENV.relative_to(REPO)} (first run only) …",
        flush=True,
    )
    try:
        subprocess.run(
            [PYTHON, "-m", "venv", str(LITELLM_VENV)], check=True, capture_output=True, timeout=300
        )
        pip = [str(LITELLM_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", LITELLM_REQUIREMENT]
        done = subprocess.run(pip, capture_output=True, text=True, timeout=1200)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not install LiteLLM ({type(exc).__name__})"
    if done.returncode != 0 or not executable.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"could not install LiteLLM: {tail[0][:200]}"
    return executable, "installed now"


def ensure_portkey() -> tuple[Path | None, str]:
    """Portkey's server script in .tools/portkey (installed with npm on first use), or None and why."""
    script = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    if script.exists():
        return script, "installed"
    print(f"installing {PORTKEY_PACKAGE} into {PORTKEY_DIR.relative_to(REPO)} (first run only) …", flush=True)
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    manifest = PORTKEY_DIR / "package.json"
    if not manifest.exists():
        manifest.write_text('{"name": "oneclick-bench-portkey", "private": true}\n')
    try:
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--save-exact", PORTKEY_PACKAGE],
            cwd=PORTKEY_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not install Portkey ({type(exc).__name__})"
    if done.returncode != 0 or not script.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"could not install Portkey: {tail[0][:200]}"
    return script, "installed now"


@contextlib.contextmanager
def portkey(script: Path, workdir: Path) -> Iterator[int]:
    port = free_port()
    # Its custom-host check refuses loopback addresses unless they are trusted.
    env = {"TRUSTED_CUSTOM_HOSTS": "localhost,127.0.0.1", "NODE_ENV": "production"}
    log = workdir / "portkey.log"
    with process(["node", str(script), f"--port={port}", "--headless"], env, log) as child:
        try:
            wait_http(port, "/", child, 60)
        except RuntimeError as exc:
            raise RuntimeError(f"Portkey did not start ({exc})") from None
        yield port


@contextlib.contextmanager
def litellm(executable: Path, upstream_port: int, workdir: Path) -> Iterator[int]:
    port = free_port()
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o\n"
        f"      api_base: http://127.0.0.1:{upstream_port}/v1\n"
        f"      api_key: {UPSTREAM_KEY}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_MASTER_KEY}\n"
    )
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
    log = workdir / "litellm.log"
    with process(
        [str(executable), "--config", str(config), "--port", str(port), "--host", "127.0.0.1"], env, log
    ) as child:
        try:
            wait_http(port, "/health/liveliness", child, 180)
        except RuntimeError as exc:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"LiteLLM did not start ({exc}): {tail[0][:200]}") from None
        yield port


def load(
    mode: str, port: int, path: str, headers: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    command = [PYTHON, LOADGEN, mode, "--port", str(port), "--path", path, "--body", BODY]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    if mode == "fixed":
        command += ["--rate", str(args.rate), "--seconds", str(args.seconds), "--warmup", str(args.warmup)]
    else:
        command += ["--seconds", str(args.max_seconds), "--concurrency", str(args.concurrency)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(
    name: str, port: int, path: str, headers: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    fixed = load("fixed", port, path, headers, args)
    top = load("max", port, path, headers, args)
    print(
        f"{name:>8}: p50 {fixed['p50_ms']:.3f} ms  p99 {fixed['p99_ms']:.3f} ms  "
        f"at {fixed['achieved_rps']:.0f} rps ({fixed['ok']} ok, {fixed['errors']} errors); "
        f"max {top['max_rps']:.0f} rps ({top['errors']} errors)"
        + (f"; errors by kind: {fixed['error_kinds']}" if fixed["errors"] else ""),
        flush=True,
    )
    return {**fixed, "max_rps": top["max_rps"]}


def number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=500, help="fixed rate, requests/s (default 500)")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds at the fixed rate")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds first")
    parser.add_argument("--max-seconds", type=float, default=5, help="seconds of the closed loop")
    parser.add_argument("--concurrency", type=int, default=32, help="connections of the closed loop")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-portkey", action="store_true")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return

    litellm_reason = "skipped (--skip-litellm)"
    executable: Path | None = None
    if not args.skip_litellm:
        executable, litellm_reason = ensure_litellm()
    portkey_reason = "skipped (--skip-portkey)"
    portkey_script: Path | None = None
    if not args.skip_portkey:
        portkey_script, portkey_reason = ensure_portkey()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        db = stack.enter_context(database(workdir))
        key = prepare_account(db)
        upstream_port = free_port()
        upstream = stack.enter_context(process([PYTHON, __file__, "--serve-upstream", str(upstream_port)]))
        wait_http(upstream_port, "/", upstream, 30)
        ours_port = free_port()
        gateway_env = {
            "PLATFORM_OPENAI_KEY": UPSTREAM_KEY,
            "ONECLICK_OPENAI_URL": f"http://127.0.0.1:{upstream_port}",
        }
        oneclick = str(Path(PYTHON).parent / "oneclick")
        gateway = stack.enter_context(
            process(
                [
                    oneclick,
                    "gateway",
                    "--port",
                    str(ours_port),
                    "--database-url",
                    db,
                    "--journal-dir",
                    str(workdir / "journal"),
                    "--no-migrate",
                ],
                gateway_env,
                workdir / "gateway.log",
            )
        )
        wait_http(ours_port, "/healthz", gateway, 30)
        litellm_port = None
        if executable is not None:
            try:
                litellm_port = stack.enter_context(litellm(executable, upstream_port, workdir))
            except RuntimeError as exc:
                litellm_reason = str(exc)
        portkey_port = None
        if portkey_script is not None:
            try:
                portkey_port = stack.enter_context(portkey(portkey_script, workdir))
            except RuntimeError as exc:
                portkey_reason = str(exc)

        print(f"fixed rate {args.rate:.0f} rps for {args.seconds:.0f}s; max: {args.concurrency} connections")
        direct = measure(
            "direct", upstream_port, "/v1/chat/completions", {"Authorization": f"Bearer {UPSTREAM_KEY}"}, args
        )
        ours = measure(
            "ours",
            ours_port,
            "/api/proxy/openai/v1/chat/completions",
            {"Authorization": f"Bearer {key}"},
            args,
        )
        theirs = None
        if litellm_port is not None:
            theirs = measure(
                "litellm",
                litellm_port,
                "/v1/chat/completions",
                {"Authorization": f"Bearer {LITELLM_MASTER_KEY}"},
                args,
            )
        peer = None
        if portkey_port is not None:
            peer = measure(
                "portkey",
                portkey_port,
                "/v1/chat/completions",
                {
                    "Authorization": f"Bearer {UPSTREAM_KEY}",
                    "x-portkey-provider": "openai",
                    "x-portkey-custom-host": f"http://127.0.0.1:{upstream_port}/v1",
                },
                args,
            )
        metered = _metered_calls(db)
        print(f"our gateway metered {metered} calls in PostgreSQL during the run")

    def added(result: dict[str, Any] | None, field: str) -> float | None:
        return None if result is None else result[field] - direct[field]

    if theirs is None:
        print(f"litellm: no figures: {litellm_reason}")
    else:
        print(
            "litellm: master-key auth on; no database, so no spend tracking (Prisma engines need a download)"
        )
    if peer is None:
        print(f"portkey: no figures: {portkey_reason}")
    else:
        print(f"portkey: {PORTKEY_PACKAGE} on Node {_node_version()}; no auth, keys or metering of its own")
    print(
        f"gateway: ours_p50_ms={number(added(ours, 'p50_ms'))} ours_p99_ms={number(added(ours, 'p99_ms'))} "
        f"ours_max_rps={number(ours['max_rps'], 0)} litellm_p50_ms={number(added(theirs, 'p50_ms'))} "
        f"litellm_p99_ms={number(added(theirs, 'p99_ms'))} "
        f"litellm_max_rps={number(None if theirs is None else theirs['max_rps'], 0)} "
        f"portkey_p50_ms={number(added(peer, 'p50_ms'))} portkey_p99_ms={number(added(peer, 'p99_ms'))} "
        f"portkey_max_rps={number(None if peer is None else peer['max_rps'], 0)}"
    )


def _node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def _metered_calls(url: str) -> int:
    import psycopg

    time.sleep(0.5)  # the last batch
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM api_usage").fetchone()
    return int(row[0]) if row else 0


if __name__ == "__main__":
    main()
