"""Where our gateway's time goes: CPU per call under load, and a profile of the calls' code.

    .venv/bin/python bench/gateway/cpu_profile.py [--seconds 8] [--concurrency 16] [--top 30] [--no-profile]

Same processes as run.py (a private PostgreSQL on a free port, the stand-in upstream, the load
generator in its own process), with our gateway run in-process under cProfile (unless
`--no-profile`). Prints the gateway process's CPU milliseconds per call (user + system, from
/proc, so other load on the machine does not count) and the functions with the most own time.
CPU per call bounds the rate one gateway process can reach: 1000 / ms_per_call calls per second.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import shutil
import signal
import tempfile
import time
from pathlib import Path

import run  # bench/gateway/run.py: the shared process plumbing

from tests.helpers import free_port


def serve_profiled(port: int, database_url: str, journal: Path, output: Path | None) -> None:
    import uvicorn

    from service.gateway.app import create_app
    from service.gateway.settings import GatewaySettings

    app = create_app(GatewaySettings.from_env(database_url, journal))
    profiler = cProfile.Profile(time.process_time)  # CPU, not wall time: other load does not count

    def stop(signum: int, frame: object) -> None:
        # uvicorn shuts down on SIGTERM, puts this handler back and raises the signal again.
        profiler.disable()
        if output:
            profiler.dump_stats(str(output))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    if output:
        profiler.enable()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--keep", type=Path, help="copy the cProfile stats file here (for pstats, snakeviz)")
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)  # port, db, journal, stats file
    args = parser.parse_args()
    if args.serve:
        port, db, journal, stats = args.serve
        serve_profiled(int(port), db, Path(journal), Path(stats) if stats != "-" else None)
        return
    with tempfile.TemporaryDirectory(prefix="bench-gateway-profile-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        db = stack.enter_context(run.database(workdir))
        key = run.prepare_account(db)
        upstream_port = free_port()
        upstream = stack.enter_context(
            run.process([run.PYTHON, run.__file__, "--serve-upstream", str(upstream_port)])
        )
        run.wait_http(upstream_port, "/", upstream, 30)
        port = free_port()
        stats = workdir / "gateway.prof"
        env = {
            "PLATFORM_OPENAI_KEY": run.UPSTREAM_KEY,
            "ONECLICK_OPENAI_URL": f"http://127.0.0.1:{upstream_port}",
        }
        command = [run.PYTHON, __file__, "--serve", str(port), db, str(workdir / "journal")]
        command.append("-" if args.no_profile else str(stats))
        gateway = stack.enter_context(run.process(command, env, workdir / "gateway.log"))
        run.wait_http(port, "/healthz", gateway, 30)
        load = argparse.Namespace(max_seconds=args.seconds, concurrency=args.concurrency)
        path = "/api/proxy/openai/v1/chat/completions"
        run.load("max", port, path, {"Authorization": f"Bearer {key}"}, load)  # warm-up
        before = cpu_seconds(gateway.pid)
        result = run.load("max", port, path, {"Authorization": f"Bearer {key}"}, load)
        used = cpu_seconds(gateway.pid) - before
        gateway.send_signal(signal.SIGTERM)  # uvicorn stops cleanly, then the profile is written
        gateway.wait(timeout=60)
        calls = result["ok"]
        print(
            f"{calls} calls in {args.seconds:.0f}s at {result['max_rps']:.0f} calls/s "
            f"({result['errors']} errors); "
            f"gateway CPU {used * 1000 / max(calls, 1):.3f} ms per call"
            + (" (under cProfile)" if not args.no_profile else "")
        )
        if not args.no_profile and stats.exists():
            out = io.StringIO()
            profile = pstats.Stats(str(stats), stream=out)
            print(by_area(profile))
            profile.sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())
            if args.keep:
                shutil.copyfile(stats, args.keep)


AREAS = (
    ("psycopg", ("/psycopg/", "/psycopg_pool/")),
    ("uvicorn (server HTTP)", ("/uvicorn/", "httptools")),
    ("starlette", ("/starlette/",)),
    ("gateway: upstream client", ("service/gateway/connections.py", "service/gateway/upstreams.py")),
    (
        "gateway: leases, metering, journal",
        (
            "service/gateway/leases.py",
            "service/gateway/spend.py",
            "service/gateway/metering.py",
            "service/gateway/journal.py",
        ),
    ),
    ("gateway: the rest", ("service/gateway/",)),
    ("asyncio, uvloop", ("/asyncio/", "uvloop")),
    ("json", ("/json/", "json.")),
)


def by_area(profile: pstats.Stats) -> str:
    """Own CPU time summed by the code it was spent in (the first area whose marker a function's
    file or name holds)."""
    totals: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, own, _cum, _callers) in profile.stats.items():  # type: ignore[attr-defined]
        where = f"{filename}:{name}"
        area = next((label for label, marks in AREAS if any(m in where for m in marks)), "other")
        totals[area] = totals.get(area, 0.0) + own
    whole = sum(totals.values()) or 1.0
    lines = [
        f"{area:>36}: {seconds * 1000:8.1f} ms  {seconds * 100 / whole:5.1f}%"
        for area, seconds in sorted(totals.items(), key=lambda item: -item[1])
    ]
    return "own CPU time by area (whole run, warm-up included):\n" + "\n".join(lines)


if __name__ == "__main__":
    main()
