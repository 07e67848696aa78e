"""The libSQL data plane's core: finding a database by host, checking tokens, streams and batons.

A stream is one SQLite connection kept between requests, so a transaction can span pipelines;
each response hands out a new baton that is good for exactly one request, and streams left idle
are closed (rolling back what they left open). Requests need `Authorization: Bearer <token>` with
a database or group token from the Platform API; the sandbox knows tokens only by their SHA-256.
Read-only tokens get streams that refuse to write (HTTP 403). A database that does not exist (or
was deleted) answers 404. The HTTP routes are in libsql.py, Hrana over WebSocket in websocket.py.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import apsw
from starlette.responses import Response

from sandbox.store import SandboxStore
from sandbox.turso import hrana, state


class HttpError(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def dumps(body: Any) -> str:
    return json.dumps(body, allow_nan=False, separators=(",", ":"))


def json_response(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status, media_type="application/json")


def error_response(exc: HttpError) -> Response:
    # Both shapes clients read: Hrana's Error object and the vendor's `{"error": ...}`.
    return json_response({"error": exc.message, "message": exc.message, "code": exc.code}, exc.status)


@dataclass
class Stream:
    ref: state.DatabaseRef
    token_sha256: str
    session: hrana.Session
    last_used: float = field(default_factory=time.monotonic)


class Streams:
    """Open streams by baton. A baton is taken by the request that presents it, so at most one
    request works on a stream at a time and an old baton is refused."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._by_baton: dict[str, Stream] = {}
        self._reaper: threading.Thread | None = None

    def take(self, baton: str) -> Stream | None:
        with self._lock:
            return self._by_baton.pop(baton, None)

    def put(self, stream: Stream) -> str:
        baton = secrets.token_urlsafe(24)
        stream.last_used = time.monotonic()
        with self._lock:
            self._by_baton[baton] = stream
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap_forever, name="libsql-reaper", daemon=True)
                self._reaper.start()
        return baton

    def reap(self) -> None:
        deadline = time.monotonic() - self.idle_seconds
        with self._lock:
            idle = [baton for baton, stream in self._by_baton.items() if stream.last_used < deadline]
            expired = [self._by_baton.pop(baton) for baton in idle]
        for stream in expired:
            stream.session.close()

    def _reap_forever(self) -> None:
        while True:
            time.sleep(max(self.idle_seconds / 4, 0.05))
            self.reap()


class LibsqlPlane:
    def __init__(self, store: SandboxStore, idle_seconds: float) -> None:
        self.store = store
        self.streams = Streams(idle_seconds)

    def database(self, host: str) -> state.DatabaseRef:
        with self.store.lock:
            ref = state.find_by_host(self.store, host)
        if ref is None:
            raise HttpError(404, f"no database is served at {host}", "NAMESPACE_DOESNT_EXIST")
        return ref

    def authenticate(self, ref: state.DatabaseRef, authorization: str) -> tuple[str, state.Access]:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(
                401, "Authentication required: send Authorization: Bearer <token>", "AUTH_HEADER_NOT_FOUND"
            )
        with self.store.lock:
            access = state.token_access(self.store, ref, token.strip())
        if access is None:
            raise HttpError(
                401, "The token is not valid for this database (or has expired)", "AUTH_JWT_INVALID"
            )
        return state.token_hash(token.strip()), access

    @staticmethod
    def open_session(ref: state.DatabaseRef, access: state.Access) -> hrana.Session:
        """A new stream's SQLite connection; a read-only token's refuses to write."""
        read_only = access == "read-only"
        try:
            conn = hrana.open_connection(ref.path, read_only=read_only)
        except apsw.CantOpenError:
            gone = HttpError(404, f"database {ref.name} no longer exists", "NAMESPACE_DOESNT_EXIST")
            raise gone from None
        return hrana.Session(conn, read_only=read_only)

    def stream_for(
        self, ref: state.DatabaseRef, token_sha256: str, access: state.Access, baton: Any
    ) -> Stream:
        """The stream a request works on: a new one for a null baton, else the baton's own."""
        if baton is None:
            return Stream(ref, token_sha256, self.open_session(ref, access))
        if not isinstance(baton, str):
            raise HttpError(400, "`baton` must be a string or null", "PROTOCOL_ERROR")
        stream = self.streams.take(baton)
        if stream is None:
            raise HttpError(400, "The baton is not valid: its stream expired or was closed", "STREAM_EXPIRED")
        if stream.ref != ref or stream.token_sha256 != token_sha256:
            stream.session.close()
            raise HttpError(400, "The baton belongs to another database or token", "STREAM_EXPIRED")
        return stream

    def run(self, host: str, authorization: str, body: bytes, version: int, cursor: bool) -> Response:
        self.streams.reap()
        try:
            ref = self.database(host)
            token_sha256, access = self.authenticate(ref, authorization)
            payload = _json_object(body)
            stream = self.stream_for(ref, token_sha256, access, payload.get("baton"))
        except HttpError as exc:
            return error_response(exc)
        try:
            if cursor:
                lines = cursor_entries(stream.session.batch(payload.get("batch"), version))
            else:
                results = hrana.run_pipeline(stream.session, payload.get("requests"), version)
        except hrana.ProtocolError as exc:
            stream.session.close()
            return error_response(HttpError(400, exc.message, exc.code))
        except hrana.Forbidden as exc:
            stream.session.close()
            return error_response(HttpError(403, exc.message, "FORBIDDEN"))
        except BaseException:
            stream.session.close()
            raise
        baton = None
        if stream.session.closed:
            stream.session.close()
        else:
            baton = self.streams.put(stream)
        if cursor:  # newline-separated JSON: the stream's baton first, then the entries
            head = {"baton": baton, "base_url": None}
            return Response("".join(dumps(line) + "\n" for line in [head, *lines]), media_type="text/plain")
        return json_response({"baton": baton, "base_url": None, "results": results})

    def run_v1(
        self, host: str, authorization: str, body: bytes, kind: Literal["execute", "batch"]
    ) -> Response:
        """HTTP API v1: one statement (`{stmt}`) or batch (`{batch}`) on a stream of its own.
        A failed statement answers 400 with Hrana's Error object, as v1 has no result to carry it."""
        try:
            ref = self.database(host)
            _, access = self.authenticate(ref, authorization)
            payload = _json_object(body)
            session = self.open_session(ref, access)
        except HttpError as exc:
            return error_response(exc)
        try:
            if kind == "execute":
                result = session.execute(payload.get("stmt"))
            else:
                result = session.batch(payload.get("batch"), 1)
        except hrana.StmtError as exc:
            return json_response(exc.as_json(), 400)
        except hrana.ProtocolError as exc:
            return error_response(HttpError(400, exc.message, exc.code))
        except hrana.Forbidden as exc:
            return error_response(HttpError(403, exc.message, "FORBIDDEN"))
        finally:
            session.close()
        return json_response({"result": result})

    def probe(self, host: str) -> Response:
        try:
            self.database(host)
        except HttpError as exc:
            return error_response(exc)
        return Response(status_code=200)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise HttpError(400, "the request body is not JSON", "PROTOCOL_ERROR") from None
    if not isinstance(payload, dict):
        raise HttpError(400, "the request body must be a JSON object", "PROTOCOL_ERROR")
    return payload


def cursor_entries(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A batch result as `v3/cursor` entries: step_begin, row…, step_end, or step_error."""
    entries: list[dict[str, Any]] = []
    for step, (outcome, error) in enumerate(zip(result["step_results"], result["step_errors"], strict=True)):
        if error is not None:
            entries.append({"type": "step_error", "step": step, "error": error})
        elif outcome is not None:
            entries.append({"type": "step_begin", "step": step, "cols": outcome["cols"]})
            entries.extend({"type": "row", "row": row} for row in outcome["rows"])
            entries.append(
                {
                    "type": "step_end",
                    "affected_row_count": outcome["affected_row_count"],
                    "last_insert_rowid": outcome["last_insert_rowid"],
                }
            )
    return entries
