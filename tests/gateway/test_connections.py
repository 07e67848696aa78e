"""The gateway's upstream HTTP client against a raw asyncio server whose behaviour each test sets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from service.gateway.connections import UpstreamConnectionError, UpstreamPool
from tests.helpers import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def _run(handler: Handler, scenario: Callable[[str, list[int]], Awaitable[None]]) -> list[int]:
    """Serve `handler` on a free port, run `scenario(url, connections)`; returns requests per connection."""
    connections: list[int] = []

    async def main() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            index = len(connections)
            connections.append(0)
            try:
                await handler(reader, writer, index)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        port = free_port()
        server = await asyncio.start_server(serve, "127.0.0.1", port)
        async with server:
            await scenario(f"http://127.0.0.1:{port}", connections)

    asyncio.run(main())
    return connections


def _counting(reply: Callable[[bytes], bytes], close_after: int | None = None) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        served = 0
        while close_after is None or served < close_after:
            body = await _read_request(reader)
            writer.write(reply(body))
            await writer.drain()
            served += 1

    return handler


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def test_keep_alive_reuses_one_connection() -> None:
    async def scenario(url: str, connections: list[int]) -> None:
        pool = UpstreamPool()
        for n in range(5):
            response = await pool.request("POST", f"{url}/echo", {}, b"call %d" % n)
            assert (response.status, response.body) == (200, b"call %d" % n)
        assert len(connections) == 1
        pool.close()

    _run(_counting(_ok), scenario)


def test_chunked_stream_arrives_piece_by_piece() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
        )
        for word in (b"data: one\n\n", b"data: two\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(word), word))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await _read_request(reader)  # the connection is kept for another request
        writer.write(_ok(b"again"))
        await writer.drain()

    async def scenario(url: str, connections: list[int]) -> None:
        pool = UpstreamPool()
        response = await pool.request("POST", url, {}, b"{}", stream=True)
        assert response.header("content-type") == "text/event-stream"
        chunks = [chunk async for chunk in response.aiter_raw()]
        await response.aclose()
        assert chunks == [b"data: one\n\n", b"data: two\n\n"]
        assert (await pool.request("POST", url, {}, b"{}")).body == b"again"
        assert len(connections) == 1
        pool.close()

    _run(handler, scenario)


def test_a_connection_the_server_closed_while_idle_is_replaced_without_failing_the_call() -> None:
    async def scenario(url: str, connections: list[int]) -> None:
        pool = UpstreamPool()
        assert (await pool.request("POST", url, {}, b"first")).body == b"first"
        await asyncio.sleep(0.05)  # the server has closed it meanwhile
        assert (await pool.request("POST", url, {}, b"second")).body == b"second"
        assert len(connections) == 2
        pool.close()

    _run(_counting(_ok, close_after=1), scenario)


def test_connection_close_is_not_reused() -> None:
    def closing(body: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    async def scenario(url: str, connections: list[int]) -> None:
        pool = UpstreamPool()
        for _ in range(2):
            assert (await pool.request("POST", url, {}, b"x")).status == 200
        assert len(connections) == 2
        pool.close()

    _run(_counting(closing, close_after=1), scenario)


def test_read_timeout_and_refused_connection_are_connection_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    async def scenario(url: str, connections: list[int]) -> None:
        pool = UpstreamPool(read_timeout=0.2)
        with pytest.raises(UpstreamConnectionError) as slow:
            await pool.request("POST", url, {}, b"x")
        assert slow.value.timeout
        with pytest.raises(UpstreamConnectionError) as refused:
            await pool.request("POST", f"http://127.0.0.1:{free_port()}", {}, b"x")
        assert not refused.value.timeout
        pool.close()

    _run(silent, scenario)
