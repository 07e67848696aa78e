"""Hrana over WebSocket for the sandbox's databases: `wss://<name>-<org>.turso.localhost:<port>` (and ws://).

What `@libsql/client` uses for `wss://`/`ws://` URLs and for interactive transactions there. The
client offers subprotocols `hrana3`, `hrana2`, `hrana1` (JSON; the `-protobuf` variant is not
served), sends `hello` with its token, then `request` messages that each get `response_ok` or
`response_error` with the same `request_id`. One connection multiplexes streams (one SQLite
connection each, opened by `open_stream`); SQL texts stored with `store_sql` belong to the
connection and every stream can run them by `sql_id`. Version 3 adds `get_autocommit` and cursors
(`open_cursor`/`fetch_cursor`/`close_cursor`) over a batch's results.

Requests run in order, one at a time. A message that is not a Hrana message closes the
connection with code 1002 (1003 for binary frames); a bad request only fails that request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import apsw
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from sandbox.hosts import request_host
from sandbox.turso import hrana, state
from sandbox.turso.plane import HttpError, LibsqlPlane, cursor_entries, dumps

SUBPROTOCOLS = {"hrana3": 3, "hrana2": 2, "hrana1": 1}  # preferred first
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
MAX_STREAMS = 128  # per connection, as a bound on open SQLite connections a client can hold
# Requests each version knows; stream requests carry a `stream_id`.
SINCE = {
    "open_stream": 1,
    "close_stream": 1,
    "execute": 1,
    "batch": 1,
    "sequence": 2,
    "describe": 2,
    "store_sql": 2,
    "close_sql": 2,
    "get_autocommit": 3,
    "open_cursor": 3,
    "fetch_cursor": 3,
    "close_cursor": 3,
}
STREAM_REQUESTS = ("execute", "batch", "sequence", "describe", "get_autocommit")


class Fatal(Exception):
    """The peer broke the protocol: close the connection with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason[:120]  # a close reason is at most 123 bytes


class RequestFailed(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.error = {"message": message, "code": code}


@dataclass
class Cursor:
    entries: list[dict[str, Any]]
    position: int = 0


@dataclass
class Connection:
    """One WebSocket's state: who it is (after `hello`), its streams, cursors and stored SQL."""

    plane: LibsqlPlane
    host: str
    version: int
    ref: state.DatabaseRef | None = None
    access: state.Access = "read-only"
    streams: dict[int, hrana.Session] = field(default_factory=dict)
    cursors: dict[int, Cursor] = field(default_factory=dict)
    sqls: dict[int, str] = field(default_factory=dict)
    greeted: bool = False

    def close(self) -> None:
        for session in self.streams.values():
            session.close()  # rolls back whatever a stream left open
        self.streams.clear()
        self.cursors.clear()

    # --- messages -------------------------------------------------------------------------------

    def hello(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.greeted and self.version < 2:
            raise Fatal(PROTOCOL_ERROR, "hrana1 allows one hello per connection")
        jwt = message.get("jwt")
        if jwt is not None and not isinstance(jwt, str):
            raise Fatal(PROTOCOL_ERROR, "hello: `jwt` must be a string or null")
        try:
            ref = self.plane.database(self.host)
            _, access = self.plane.authenticate(ref, f"Bearer {jwt or ''}")
        except HttpError as exc:
            return {"type": "hello_error", "error": {"message": exc.message, "code": exc.code}}
        self.ref, self.access, self.greeted = ref, access, True
        return {"type": "hello_ok"}

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        request_id = message.get("request_id")
        request = message.get("request")
        if not isinstance(request_id, int) or isinstance(request_id, bool) or not isinstance(request, dict):
            raise Fatal(PROTOCOL_ERROR, "a request message needs an integer `request_id` and a `request`")
        try:
            response = self._respond(request)
        except RequestFailed as exc:
            error = exc.error
        except hrana.StmtError as exc:
            error = exc.as_json()
        except hrana.ProtocolError as exc:
            error = _error(exc.message, exc.code)
        except hrana.Forbidden as exc:
            error = _error(exc.message, "FORBIDDEN")
        else:
            return {"type": "response_ok", "request_id": request_id, "response": response}
        return {"type": "response_error", "request_id": request_id, "error": error}

    # --- requests -------------------------------------------------------------------------------

    def _respond(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.ref is None:
            raise Fatal(POLICY_VIOLATION, "send a hello with a valid token before any request")
        kind = request.get("type")
        if not isinstance(kind, str) or SINCE.get(kind, 99) > self.version:
            raise RequestFailed(f"unknown request type {kind!r} in hrana{self.version}", "PROTOCOL_ERROR")
        if kind == "open_stream":
            stream_id = _int(request, "stream_id")
            if stream_id in self.streams:
                raise RequestFailed(f"stream {stream_id} is already open", "STREAM_EXISTS")
            if len(self.streams) >= MAX_STREAMS:
                raise RequestFailed(f"at most {MAX_STREAMS} streams per connection", "STREAM_TOO_MANY")
            self.streams[stream_id] = self._open_session(self.ref)
            return {"type": kind}
        if kind == "close_stream":
            session = self.streams.pop(_int(request, "stream_id"), None)
            if session is not None:
                session.close()
            return {"type": kind}
        if kind == "store_sql":
            sql_id, sql = _int(request, "sql_id"), request.get("sql")
            if not isinstance(sql, str):
                raise RequestFailed("`store_sql` needs a string `sql`", "PROTOCOL_ERROR")
            if sql_id in self.sqls:
                raise RequestFailed(f"an SQL text is already stored with id {sql_id}", "SQL_EXISTS")
            if len(self.sqls) >= hrana.MAX_STORED_SQL:
                raise RequestFailed(f"at most {hrana.MAX_STORED_SQL} stored SQL texts", "SQL_STORE_TOO_MANY")
            self.sqls[sql_id] = sql
            return {"type": kind}
        if kind == "close_sql":
            self.sqls.pop(_int(request, "sql_id"), None)
            return {"type": kind}
        if kind == "open_cursor":
            cursor_id = _int(request, "cursor_id")
            if cursor_id in self.cursors:
                raise RequestFailed(f"cursor {cursor_id} is already open", "CURSOR_EXISTS")
            result = self._stream(request).batch(request.get("batch"), self.version)
            self.cursors[cursor_id] = Cursor(cursor_entries(result))
            return {"type": kind}
        if kind == "fetch_cursor":
            cursor = self.cursors.get(_int(request, "cursor_id"))
            max_count = _int(request, "max_count")
            if cursor is None:
                raise RequestFailed("no cursor is open with that id", "CURSOR_NOT_FOUND")
            entries = cursor.entries[cursor.position : cursor.position + max(max_count, 0)]
            cursor.position += len(entries)
            return {"type": kind, "entries": entries, "done": cursor.position >= len(cursor.entries)}
        if kind == "close_cursor":
            self.cursors.pop(_int(request, "cursor_id"), None)
            return {"type": kind}
        assert kind in STREAM_REQUESTS
        return self._stream(request).handle(request, self.version)

    def _stream(self, request: dict[str, Any]) -> hrana.Session:
        stream_id = _int(request, "stream_id")
        session = self.streams.get(stream_id)
        if session is None:
            raise RequestFailed(f"no stream is open with id {stream_id}", "STREAM_NOT_FOUND")
        return session

    def _open_session(self, ref: state.DatabaseRef) -> hrana.Session:
        read_only = self.access == "read-only"
        try:
            conn = hrana.open_connection(ref.path, read_only=read_only)
        except apsw.CantOpenError:
            raise RequestFailed(f"database {ref.name} no longer exists", "NAMESPACE_DOESNT_EXIST") from None
        session = hrana.Session(conn, read_only=read_only)
        session.sqls = self.sqls  # stored SQL belongs to the connection, not to one stream
        return session


def _error(message: str, code: str) -> dict[str, str]:
    return {"message": message, "code": code}


def _int(request: dict[str, Any], key: str) -> int:
    value = request.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RequestFailed(f"`{request.get('type')}` needs an integer `{key}`", "PROTOCOL_ERROR")
    return value


def _message(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except ValueError:
        raise Fatal(PROTOCOL_ERROR, "the message is not JSON") from None
    if not isinstance(message, dict):
        raise Fatal(PROTOCOL_ERROR, "a message must be a JSON object")
    return message


def choose_subprotocol(offered: list[str]) -> tuple[str | None, int] | None:
    """The subprotocol to answer with and its version; None if the client offers none we speak.
    A client that offers none at all speaks hrana1, as the first clients did."""
    if not offered:
        return None, 1
    for name, version in SUBPROTOCOLS.items():
        if name in offered:
            return name, version
    return None


async def serve(plane: LibsqlPlane, websocket: WebSocket) -> None:
    """One Hrana connection, from handshake to close."""
    chosen = choose_subprotocol(list(websocket.scope.get("subprotocols") or []))
    if chosen is None:
        await websocket.close(code=PROTOCOL_ERROR, reason="offer hrana3, hrana2 or hrana1 (JSON)")
        return
    subprotocol, version = chosen
    await websocket.accept(subprotocol=subprotocol)
    connection = Connection(plane, request_host(websocket.scope), version)
    try:
        while True:
            received = await websocket.receive()
            if received["type"] == "websocket.disconnect":
                return
            if received.get("text") is None:
                raise Fatal(UNSUPPORTED_DATA, "only JSON text messages are accepted")
            message = _message(received["text"])
            kind = message.get("type")
            if kind == "hello":
                reply = await run_in_threadpool(connection.hello, message)
                await websocket.send_text(dumps(reply))
                if reply["type"] == "hello_error":
                    await websocket.close(code=POLICY_VIOLATION, reason=reply["error"]["message"][:120])
                    return
            elif kind == "request":
                await websocket.send_text(dumps(await run_in_threadpool(connection.request, message)))
            else:
                raise Fatal(PROTOCOL_ERROR, f"unknown message type {kind!r}")
    except Fatal as exc:
        await websocket.close(code=exc.code, reason=exc.reason)
    except WebSocketDisconnect:
        pass
    finally:
        await run_in_threadpool(connection.close)
