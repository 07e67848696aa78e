"""A small HTTP/1.1 load generator on asyncio streams (uvloop when present), run in its own process.

- `fixed_rate`: open loop. Request i is due at start + i/rate whatever happened before, and its
  latency is measured from that due time, so a stall shows up in the percentiles instead of
  quietly lowering the rate (no coordinated omission).
- `max_rate`: closed loop. `concurrency` connections send back to back for a while; the rate of
  successful answers is the highest rate the target sustains.

Each request is one keep-alive POST with a JSON body; a response is read by Content-Length (or
chunked). Output: one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @staticmethod
    async def open(host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return Connection(reader, writer)

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length > 0:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def build_request(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def fixed_rate(
    host: str, port: int, request: bytes, rate: float, seconds: float, warmup: float
) -> dict[str, Any]:
    idle: list[Connection] = []
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    pending: set[asyncio.Task[None]] = set()
    total = int(rate * (seconds + warmup))
    measured_from = int(rate * warmup)

    async def one(index: int, due: float) -> None:
        try:
            status = await send(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
            return
        elapsed = time.perf_counter() - due
        if index >= measured_from:
            if status == 200:
                latencies.append(elapsed * 1000)
            else:
                kinds[str(status)] = kinds.get(str(status), 0) + 1

    async def send(request: bytes) -> int:
        # A kept-alive connection the server closed while it sat idle is replaced, as clients do.
        while idle:
            connection = idle.pop()
            try:
                status = await connection.exchange(request)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                connection.close()
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
                continue
            idle.append(connection)
            return status
        connection = await Connection.open(host, port)
        status = await connection.exchange(request)
        idle.append(connection)
        return status

    start = time.perf_counter() + 0.05
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(index, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    for connection in idle:
        connection.close()
    achieved = len(latencies) / seconds
    return {
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "ok": len(latencies),
        "errors": sum(kinds.values()),
        "error_kinds": kinds,
        "achieved_rps": achieved,
    }


async def max_rate(host: str, port: int, request: bytes, concurrency: int, seconds: float) -> dict[str, Any]:
    ok = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal ok, errors
        connection = await Connection.open(host, port)
        while time.perf_counter() < deadline:
            try:
                status = await connection.exchange(request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                connection.close()
                connection = await Connection.open(host, port)
                continue
            if status == 200:
                ok += 1
            else:
                errors += 1
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"max_rps": ok / (time.perf_counter() - started), "ok": ok, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["fixed", "max"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--body", required=True)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    headers.setdefault("Content-Type", "application/json")
    request = build_request("127.0.0.1", args.port, args.path, headers, args.body.encode())
    if args.mode == "fixed":
        job = fixed_rate("127.0.0.1", args.port, request, args.rate, args.seconds, args.warmup)
    else:
        job = max_rate("127.0.0.1", args.port, request, args.concurrency, args.seconds)
    try:
        import uvloop

        result = uvloop.run(job)
    except ImportError:
        result = asyncio.run(job)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
