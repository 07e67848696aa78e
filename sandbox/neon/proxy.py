"""The Neon endpoint proxy: what makes `postgresql://neondb_owner:…@<endpoint host>/neondb` log in.

Neon scopes role and database names to a branch, so two projects (or two branches of one) both
have `neondb_owner` and `neondb`. The sandbox keeps every project on one PostgreSQL cluster, where
names are cluster-wide, so each Neon role and database has a *physical* name there (pg.py). Clients
must not need to know that: the names the API shows are the names that connect.

How: every compute endpoint gets its own loopback port, and the endpoint's `host` is
`127.0.0.1:<port>`, the way each Neon endpoint has a hostname of its own. (A hostname cannot carry
the endpoint here: PostgreSQL's protocol does not send it, SNI needs TLS and resolvable names, and
branches share role passwords, so credentials cannot tell endpoints apart either.) A connection to
that port is one session of this proxy:

1. SSLRequest: answered `S` and TLS is served when the sandbox has a certificate, else `N`.
2. The startup message names a Neon role and database; the endpoint's branch maps them to the
   physical ones. An unknown role fails like a wrong password, as PostgreSQL answers.
3. The client authenticates to the proxy with SCRAM-SHA-256, or SCRAM-SHA-256-PLUS over TLS, so
   `channel_binding=require` (which Neon's connection strings carry) works: channel binding binds
   to the certificate of the TLS connection the client made, and that connection ends here.
   The password checked is the role's password the control plane keeps (Neon's store_passwords).
4. The proxy logs in to PostgreSQL as the physical role with that password (SCRAM, so PostgreSQL
   checks it too), relays the server's AuthenticationOk and everything after it, byte for byte.

What a client can still notice: `current_user` and `current_database()` answer the physical names.
A CancelRequest is passed to PostgreSQL unchanged (its keys are PostgreSQL's own).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from scramp import ScramClient  # type: ignore[import-untyped]

from sandbox.neon.scram import ScramError, ScramServer, end_point_binding

log = logging.getLogger(__name__)

PROTOCOL_3_0 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_STARTUP_BYTES = 10_000  # PostgreSQL's own limit on a startup packet
MAX_AUTH_MESSAGE_BYTES = 10_000
HANDSHAKE_SECONDS = 30.0
COPY_CHUNK = 64 * 1024


class Refusal(Exception):
    """Answered to the client as a PostgreSQL FATAL ErrorResponse with this SQLSTATE."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message


@dataclass(frozen=True)
class Login:
    """What a Neon role and database of an endpoint are on the PostgreSQL server."""

    role: str
    password: str
    database: str | None  # None: the branch has no such database (said after authentication)


# (endpoint id, Neon role, Neon database) -> Login; raises Refusal.
Resolver = Callable[[str, str, str], Login]


@dataclass(frozen=True)
class Tls:
    context: ssl.SSLContext
    certificate_pem: str  # the server certificate first (a chain may follow), for tls-server-end-point


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def error_response(sqlstate: str, text: str) -> bytes:
    fields = [b"SFATAL", b"VFATAL", b"C" + sqlstate.encode(), b"M" + text.encode()]
    return message(b"E", b"".join(f + b"\0" for f in fields) + b"\0")


def authentication(code: int, data: bytes = b"") -> bytes:
    return message(b"R", struct.pack("!I", code) + data)


async def read_message(
    reader: asyncio.StreamReader, limit: int = MAX_AUTH_MESSAGE_BYTES
) -> tuple[bytes, bytes]:
    header = await reader.readexactly(5)
    length = struct.unpack("!I", header[1:])[0]
    if not 4 <= length <= limit + 4:
        raise Refusal("08P01", f"invalid message length {length}")
    return header[:1], await reader.readexactly(length - 4)


def sasl_response(kind: bytes, body: bytes) -> str:
    if kind != b"p":
        raise Refusal("08P01", f"expected a SASL response message, got {kind!r}")
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise Refusal("08P01", "malformed SASL message") from None


def startup_parameters(body: bytes) -> dict[str, str]:
    parts = body.split(b"\0")
    if len(parts) < 2 or parts[-1] != b"" or parts[-2] != b"":
        raise Refusal("08P01", "invalid startup packet layout: expected terminator as last byte")
    pairs = parts[:-2]
    if len(pairs) % 2:
        raise Refusal("08P01", "invalid startup packet layout: a parameter has no value")
    try:
        return {pairs[i].decode(): pairs[i + 1].decode() for i in range(0, len(pairs), 2)}
    except UnicodeDecodeError:
        raise Refusal("08P01", "startup parameters must be UTF-8") from None


def startup_message(parameters: dict[str, str]) -> bytes:
    body = struct.pack("!I", PROTOCOL_3_0)
    body += b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in parameters.items()) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def without_endpoint_option(options: str) -> str:
    """Neon's clients without SNI name the endpoint in `options` (`endpoint=ep-…`); the port
    already says which endpoint, and PostgreSQL would refuse the unknown switch."""
    return " ".join(word for word in options.split() if not word.startswith("endpoint="))


class EndpointProxy:
    """One listening socket per endpoint, all served by one event loop on a thread of its own."""

    def __init__(
        self, resolve: Resolver, backend: tuple[str, int], tls: Tls | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.resolve = resolve
        self.backend = backend
        self.tls = tls
        self.host = host
        self._servers: dict[str, asyncio.Server] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle (called from the API's threads) ------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._loop is not None:
                return
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="neon-endpoint-proxy", daemon=True)
            self._thread.start()
            self._loop = loop

    def _run(self, coroutine: Any) -> Any:
        self.start()
        assert self._loop is not None
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=10)

    def listen(self, endpoint_id: str, port: int = 0) -> int:
        """Serve `endpoint_id` on `port` (0: a free one); returns the port. OSError when it is taken."""
        return int(self._run(self._listen(endpoint_id, port)))

    def close(self, endpoint_id: str) -> None:
        if self._loop is not None:
            self._run(self._close(endpoint_id))

    def port_of(self, endpoint_id: str) -> int | None:
        server = self._servers.get(endpoint_id)
        return int(server.sockets[0].getsockname()[1]) if server and server.sockets else None

    def stop(self) -> None:
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        loop.close()

    # -- on the proxy's loop ----------------------------------------------------------------------

    async def _listen(self, endpoint_id: str, port: int) -> int:
        current = self.port_of(endpoint_id)
        if current is not None and port in (0, current):
            return current
        await self._close(endpoint_id)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(endpoint_id, reader, writer)

        server = await asyncio.start_server(serve, self.host, port, reuse_address=True)
        self._servers[endpoint_id] = server
        return int(server.sockets[0].getsockname()[1])

    async def _close(self, endpoint_id: str) -> None:
        server = self._servers.pop(endpoint_id, None)
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _close_all(self) -> None:
        for endpoint_id in list(self._servers):
            await self._close(endpoint_id)

    async def _serve(
        self, endpoint_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        backend: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(HANDSHAKE_SECONDS):
                session = await self._handshake(endpoint_id, reader, writer)
            if session is None:
                return
            backend_reader, backend = session
            await asyncio.gather(self._pipe(reader, backend), self._pipe(backend_reader, writer))
        except Refusal as refusal:
            writer.write(error_response(refusal.sqlstate, refusal.message))
            await _drain_quietly(writer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass  # the client went away or never finished its handshake: nothing to tell it
        except Exception:  # a bug here must cost one connection, never the proxy
            log.exception("Neon endpoint proxy: session on %s failed", endpoint_id)
        finally:
            for stream in (backend, writer):
                if stream is not None:
                    stream.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(COPY_CHUNK):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            sink.close()

    async def _handshake(
        self, endpoint_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        over_tls = False
        while True:
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            if not 8 <= length <= MAX_STARTUP_BYTES:
                raise Refusal("08P01", f"invalid length of startup packet: {length}")
            body = await reader.readexactly(length - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code == SSL_REQUEST and self.tls is not None and not over_tls:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.tls.context)
                over_tls = True
            elif code in (SSL_REQUEST, GSSENC_REQUEST):
                writer.write(b"N")
                await writer.drain()
            elif code == CANCEL_REQUEST:
                await self._forward_cancel(struct.pack("!I", length) + body)
                return None
            elif code == PROTOCOL_3_0:
                break
            else:
                raise Refusal("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}")

        parameters = startup_parameters(body[4:])
        if "replication" in parameters:
            raise Refusal("0A000", "replication connections are not supported by the sandbox")
        user = parameters.get("user")
        if not user:
            raise Refusal("28000", "no PostgreSQL user name specified in startup packet")
        database = parameters.get("database") or user
        login = await asyncio.to_thread(self.resolve, endpoint_id, user, database)
        await self._authenticate_client(reader, writer, user, login.password, over_tls)
        if login.database is None:
            raise Refusal("3D000", f'database "{database}" does not exist')
        parameters.update(user=login.role, database=login.database)
        if "options" in parameters:
            parameters["options"] = without_endpoint_option(parameters["options"])
        backend_reader, backend_writer = await asyncio.open_connection(*self.backend)
        try:
            await self._log_in(backend_reader, backend_writer, parameters, login, writer)
        except BaseException:
            backend_writer.close()
            raise
        return backend_reader, backend_writer

    async def _authenticate_client(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        user: str,
        password: str,
        over_tls: bool,
    ) -> None:
        failed = Refusal("28P01", f'password authentication failed for user "{user}"')
        offered = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"] if over_tls else ["SCRAM-SHA-256"]
        writer.write(authentication(10, b"".join(m.encode() + b"\0" for m in offered) + b"\0"))
        await writer.drain()
        kind, body = await read_message(reader)
        name, _, rest = body.partition(b"\0")
        mechanism = name.decode(errors="replace")
        if kind != b"p" or mechanism not in offered or len(rest) < 4:
            raise Refusal("28000", f"client selected an invalid SASL authentication mechanism {mechanism!r}")
        size = struct.unpack("!i", rest[:4])[0]
        client_first = sasl_response(b"p", rest[4 : 4 + size] if size >= 0 else b"")
        binding = end_point_binding(self.tls.certificate_pem) if over_tls and self.tls else None
        try:
            server = ScramServer(mechanism, password, binding, offered_plus=over_tls)
            writer.write(authentication(11, server.first(client_first).encode()))
            await writer.drain()
            server_final = server.final(sasl_response(*await read_message(reader)))
        except ScramError:
            raise failed from None
        writer.write(authentication(12, server_final.encode()))

    async def _log_in(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parameters: dict[str, str],
        login: Login,
        client: asyncio.StreamWriter,
    ) -> None:
        """Log in to PostgreSQL as the physical role; its AuthenticationOk goes on to the client."""
        writer.write(startup_message(parameters))
        await writer.drain()
        scram: ScramClient | None = None
        while True:
            kind, body = await read_message(reader)
            if kind == b"E":
                client.write(message(kind, body))  # PostgreSQL's own refusal, passed on as it is
                await client.drain()
                raise ConnectionResetError("PostgreSQL refused the login")
            code = struct.unpack("!I", body[:4])[0] if kind == b"R" and len(body) >= 4 else -1
            if code == 0:
                client.write(message(kind, body))
                await client.drain()
                return
            if code == 3:
                reply = message(b"p", login.password.encode() + b"\0")
            elif code == 5:
                reply = message(b"p", md5_password(login.role, login.password, body[4:8]) + b"\0")
            elif code == 10:
                scram = ScramClient(["SCRAM-SHA-256"], login.role, login.password)
                first = scram.get_client_first().encode()
                reply = message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first)
            elif code == 11 and scram is not None:
                scram.set_server_first(body[4:].decode())
                reply = message(b"p", scram.get_client_final().encode())
            elif code == 12 and scram is not None:
                scram.set_server_final(body[4:].decode())
                continue
            else:
                raise Refusal(
                    "08P01",
                    f"the sandbox's PostgreSQL asked for an unsupported login (kind {kind!r}, {code})",
                )
            writer.write(reply)
            await writer.drain()

    async def _forward_cancel(self, packet: bytes) -> None:
        _, writer = await asyncio.open_connection(*self.backend)
        try:
            writer.write(packet)
            await writer.drain()
        finally:
            writer.close()


async def _drain_quietly(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
        await writer.drain()


def md5_password(role: str, password: str, salt: bytes) -> bytes:
    """PostgreSQL's legacy md5 login answer, for a server configured that way."""
    inner = hashlib.md5((password + role).encode()).hexdigest()  # noqa: S324 - the protocol defines it
    return b"md5" + hashlib.md5(inner.encode() + salt).hexdigest().encode()  # noqa: S324
