"""Typed client for a libSQL database (Turso, or the sandbox) over HTTP, with Hrana v3 pipelines.

    with LibsqlClient("libsql://shop-acme.turso.io", token) as db:
        db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, photo BLOB)")
        db.batch([("INSERT INTO item (name) VALUES (?)", ["pen"]), "DELETE FROM item WHERE id = 0"])
        db.executemany("INSERT INTO item (name, photo) VALUES (:name, :photo)", rows)
        db.executescript(dump_sql)                   # many `;`-separated statements
        with db.transaction() as tx:                 # one transaction across calls
            n = tx.execute("SELECT count(*) FROM item").scalar()
            tx.execute("INSERT INTO item (name) VALUES (?)", [f"item {n}"])
        for row in db.execute("SELECT id, name FROM item").as_dicts(): ...

- Values: None, int (64-bit), float, str and bytes go both ways; bool is sent as 0/1.
- `execute`, `batch`, `executemany` and `executescript` each use a stream of their own that the
  same request closes; `batch` and `executemany` are atomic by default (BEGIN … COMMIT, with a
  ROLLBACK if any statement fails), `executescript` is not.
- `transaction()` keeps one stream (a baton) open across calls: COMMIT when the block ends,
  ROLLBACK when it raises. The server closes streams idle for a few seconds, so do not keep a
  transaction waiting on anything slow.
- Every failure is a `LibsqlError` with a message, a code (Hrana's, e.g. `SQLITE_CONSTRAINT`,
  or `UNAUTHORIZED`, `NOT_FOUND`, `CONNECTION_ERROR`…), the HTTP status and, for `batch` and
  `executemany`, the index of the failing statement. It never carries the token.
- `Transaction.encode_batch` encodes a batch ahead (in any thread) and `run_encoded` sends it, so
  a bulk load can encode its next request while the server runs the current one.
- Only requests that cannot have reached the server are retried (a connection that could not
  be opened, before any stream exists); nothing that may have run is ever sent twice.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from core.http import retry_delay
from core.localca import LocalCA
from core.localhost import LoopbackTransport, is_localhost_name
from libsql.hrana import Args, Value, encode_args, encode_stmt
from libsql.results import LibsqlError, ResultSet, Statement, http_error, statement_error

__all__ = [
    "Args",
    "EncodedBatch",
    "LibsqlClient",
    "LibsqlError",
    "ResultSet",
    "Statement",
    "Transaction",
    "Value",
]

PIPELINE = "v3/pipeline"
SQL_ID = 1  # the id under which executemany stores its SQL text on the stream
TransactionMode = Literal["deferred", "immediate", "exclusive"]


def _store_sql(sql: str) -> dict[str, Any]:
    return {"type": "store_sql", "sql_id": SQL_ID, "sql": sql}


def _as_statement(item: str | Statement | tuple[str, Args]) -> Statement:
    if isinstance(item, Statement):
        return item
    if isinstance(item, str):
        return Statement(item)
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        return Statement(item[0], item[1])
    raise TypeError("a statement is SQL text, (sql, args) or a Statement")


@dataclass(frozen=True)
class EncodedBatch:
    """A batch's pipeline request, already JSON (see `Transaction.encode_batch`); `texts` are its
    statements' SQL, for error messages."""

    request: bytes
    texts: Sequence[str]
    steps: int
    first: int


def http_base_url(url: str) -> tuple[str, str | None]:
    """The HTTP base URL (ending in "/") for a libsql://, https://, http://, wss:// or ws:// URL,
    and any `authToken` given in its query string. `libsql://` means https unless `?tls=0`, as
    for every official client (the sandbox serves TLS at the port its hostnames carry); a
    WebSocket URL names a server that speaks Hrana over HTTP at the same address."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = parse_qs(parts.query)
    host = parts.hostname or ""
    if not host:
        raise ValueError("the database URL has no host; expected libsql://<name>-<org>.turso.io")
    if scheme == "libsql":
        tls = query.get("tls", ["1"])[-1]
        scheme = "http" if tls in ("0", "false") else "https"
    elif scheme in ("ws", "wss"):
        scheme = "https" if scheme == "wss" else "http"
    elif scheme not in ("http", "https"):
        raise ValueError(
            f"unsupported database URL scheme {parts.scheme!r}; use libsql://, https:// or http://"
        )
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    token = query.get("authToken", [None])[-1]
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}/", token


def _local_trust() -> ssl.SSLContext:
    """The sandbox's `*.localhost` hosts present certificates of the local CA (and only it)."""
    try:
        return LocalCA.default().trust_context()
    except FileNotFoundError as exc:
        raise LibsqlError(str(exc), code="TLS_CA_MISSING") from None


class _Executor:
    """Statements over Hrana; subclasses say how requests reach a stream."""

    def _run(self, requests: list[dict[str, Any]]) -> list[Any]:
        raise NotImplementedError

    @staticmethod
    def _steps(stmts: list[dict[str, Any]], atomic: bool) -> tuple[list[dict[str, Any]], int]:
        """Batch steps for `stmts`, each run only if the one before succeeded; with `atomic`,
        inside BEGIN … COMMIT with a ROLLBACK on failure. Returns the steps and the index of
        the first statement's step."""
        steps: list[dict[str, Any]] = [{"stmt": {"sql": "BEGIN"}}] if atomic else []
        first = len(steps)
        for stmt in stmts:
            cond = {"type": "ok", "step": len(steps) - 1} if steps else None
            steps.append({"stmt": stmt, "condition": cond})
        if atomic:
            commit = len(steps)
            steps.append({"stmt": {"sql": "COMMIT"}, "condition": {"type": "ok", "step": commit - 1}})
            steps.append(
                {
                    "stmt": {"sql": "ROLLBACK"},
                    "condition": {"type": "not", "cond": {"type": "ok", "step": commit}},
                }
            )
        return steps, first

    @staticmethod
    def _response(result: Any, index: int | None = None, sql: str | None = None) -> dict[str, Any]:
        if not isinstance(result, dict):
            raise LibsqlError("the server sent a malformed pipeline result", code="INVALID_RESPONSE")
        if result.get("type") == "error":
            raise statement_error(result.get("error"), index, sql)
        response = result.get("response")
        if not isinstance(response, dict):
            raise LibsqlError("the server sent a malformed pipeline result", code="INVALID_RESPONSE")
        return response

    def execute(self, sql: str, args: Args | None = None) -> ResultSet:
        """Run one statement. `args`: a sequence for `?`/`?N`, a mapping for `:name`/`@name`/`$name`."""
        results = self._run([{"type": "execute", "stmt": encode_stmt(sql, args)}])
        return ResultSet.from_hrana(self._response(results[0], sql=sql)["result"])

    def _batch(
        self,
        stmts: list[dict[str, Any]],
        texts: Sequence[str],
        atomic: bool,
        prefix: Sequence[dict[str, Any]] = (),
        suffix: Sequence[dict[str, Any]] = (),
    ) -> list[ResultSet]:
        """Run encoded statements as one batch request between `prefix` and `suffix` requests;
        `texts` are their SQL, for error messages."""
        if not stmts:
            return []
        steps, first = self._steps(stmts, atomic)
        results = self._run([*prefix, {"type": "batch", "batch": {"steps": steps}}, *suffix])
        for result in results[: len(prefix)]:
            self._response(result)
        return self._batch_results(results[len(prefix)], texts, len(steps), first, steps)

    def _batch_results(
        self, result: Any, texts: Sequence[str], steps: int, first: int, sent: Sequence[dict[str, Any]] = ()
    ) -> list[ResultSet]:
        """The statements' results from a batch's pipeline result; a failed step raises, naming
        its statement (`texts`) or, for the steps around them (BEGIN, COMMIT), its SQL (`sent`)."""
        batch = self._response(result)["result"]
        step_results, step_errors = batch.get("step_results") or [], batch.get("step_errors") or []
        if len(step_results) != steps or len(step_errors) != steps:
            raise LibsqlError("the server's batch result does not match the request", code="INVALID_RESPONSE")
        for i, error in enumerate(step_errors):
            if error is not None:
                index = i - first if first <= i < first + len(texts) else None
                sql = texts[index] if index is not None else (str(sent[i]["stmt"].get("sql")) if sent else "")
                raise statement_error(error, index, sql)
        ran = step_results[first : first + len(texts)]
        if any(result is None for result in ran):  # skipped, yet nothing failed before it
            raise LibsqlError("the batch did not run to the end", code="BATCH_INCOMPLETE")
        return [ResultSet.from_hrana(result) for result in ran]

    def executescript(self, sql: str) -> None:
        """Run `;`-separated statements (a dump, a migration file) in order, discarding rows.
        Stops at the first failure; earlier statements stay applied unless the script (or an
        enclosing transaction) says otherwise."""
        self._response(self._run([{"type": "sequence", "sql": sql}])[0])


class LibsqlClient(_Executor):
    """A libSQL database over HTTP. Thread-safe for one-shot calls; a transaction is one thread's."""

    def __init__(
        self,
        url: str,
        auth_token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`url`: libsql://host[:port] (https; `?tls=0` for http), https://… or http://…; a
        `*.localhost` host (the sandbox) is verified against the local CA (core/localca.py).
        `auth_token`: a database or group token (may also come as `?authToken=` in the URL)."""
        self.base_url, url_token = http_base_url(url)
        self.host = urlsplit(self.base_url).netloc
        token = auth_token or url_token
        headers = {"User-Agent": "oneclick"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if is_localhost_name(urlsplit(self.base_url).hostname or ""):
            if transport is None and self.base_url.startswith("https:"):
                transport = httpx.HTTPTransport(verify=_local_trust())
            transport = LoopbackTransport(transport)
        self.retries = retries
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> LibsqlClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LibsqlClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def pipeline(
        self, requests: list[dict[str, Any]], baton: str | None = None
    ) -> tuple[str | None, list[Any]]:
        """Send raw Hrana stream requests; returns the next baton (None: stream closed) and the
        results. Only a request that opens a stream is retried, and only if it never connected."""
        body = {"baton": baton, "requests": requests}
        return self._post(lambda: self._http.post(PIPELINE, json=body), len(requests), baton)

    def pipeline_encoded(
        self, requests: bytes, count: int, baton: str | None
    ) -> tuple[str | None, list[Any]]:
        """`pipeline` for `count` requests already encoded as a JSON array."""
        body = b'{"baton":' + json.dumps(baton).encode() + b',"requests":' + requests + b"}"
        headers = {"Content-Type": "application/json"}
        return self._post(lambda: self._http.post(PIPELINE, content=body, headers=headers), count, baton)

    def _post(
        self, send: Callable[[], httpx.Response], count: int, baton: str | None
    ) -> tuple[str | None, list[Any]]:
        for attempt in range(self.retries + 1):
            try:
                response = send()
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if baton is not None or attempt == self.retries:
                    raise LibsqlError(
                        f"cannot connect to {self.host}: {type(exc).__name__}", code="CONNECTION_ERROR"
                    ) from None
                self._sleep(retry_delay(None, attempt, 0.25))
            except httpx.TimeoutException:
                # The request may have run: never send it again.
                raise LibsqlError(f"{self.host} did not answer in time", code="TIMEOUT") from None
            except httpx.HTTPError as exc:
                raise LibsqlError(
                    f"request to {self.host} failed: {type(exc).__name__}", code="HTTP_ERROR"
                ) from None
        if not response.is_success:
            raise http_error(response, self.host)
        try:
            payload = response.json()
            results = payload["results"]
        except (ValueError, KeyError, TypeError):
            raise LibsqlError(
                "the server's answer is not a Hrana pipeline response", code="INVALID_RESPONSE"
            ) from None
        if not isinstance(results, list) or len(results) != count:
            raise LibsqlError("the server answered a different number of requests", code="INVALID_RESPONSE")
        next_baton = payload.get("baton")
        return (str(next_baton) if next_baton is not None else None), results

    def _run(self, requests: list[dict[str, Any]]) -> list[Any]:
        # One stream per call, closed by the same request.
        _, results = self.pipeline([*requests, {"type": "close"}])
        return results[: len(requests)]

    def batch(
        self, statements: Iterable[str | Statement | tuple[str, Args]], *, transactional: bool = True
    ) -> list[ResultSet]:
        """Run statements in order, one result each. With `transactional` (the default) they run
        in one transaction that is rolled back if any fails; without, they stop at the first
        failure and what ran stays. A failure raises LibsqlError naming the statement's index."""
        items = [_as_statement(s) for s in statements]
        return self._batch([encode_stmt(s.sql, s.args) for s in items], [s.sql for s in items], transactional)

    def executemany(self, sql: str, rows: Iterable[Args], *, transactional: bool = True) -> list[ResultSet]:
        """Run one statement once per row of arguments (an import), in one request with the SQL
        text sent once; atomic like `batch`. Split very large imports into chunks of a few
        thousand rows."""
        stmts = [{"sql_id": SQL_ID, **encode_args(args)} for args in rows]
        return self._batch(stmts, [sql] * len(stmts), transactional, [_store_sql(sql)])

    @contextmanager
    def transaction(self, mode: TransactionMode = "deferred") -> Iterator[Transaction]:
        """A transaction across calls: COMMIT when the block ends, ROLLBACK if it raises.
        `mode="immediate"` takes the write lock at once (fail fast when another writer holds it)."""
        tx = Transaction(self, mode)
        try:
            yield tx
        except BaseException:
            tx.rollback()
            raise
        tx.commit()


class Transaction(_Executor):
    """An open transaction on one stream; get one from `LibsqlClient.transaction()`.

    `state` is "open", then "committed", "rolled back" or "lost" (the stream died: the server
    rolled the transaction back). Committing a lost transaction raises, so no caller can take
    a rolled-back transaction for a committed one."""

    def __init__(self, client: LibsqlClient, mode: TransactionMode) -> None:
        self._client = client
        self.state: Literal["open", "committed", "rolled back", "lost"] = "lost"
        begin = {"deferred": "BEGIN DEFERRED", "immediate": "BEGIN IMMEDIATE", "exclusive": "BEGIN EXCLUSIVE"}
        self._baton, results = client.pipeline([{"type": "execute", "stmt": {"sql": begin[mode]}}])
        self._response(results[0])
        if self._baton is None:
            raise LibsqlError("the server closed the stream at BEGIN", code="STREAM_CLOSED")
        self.state = "open"

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    def _run(self, requests: list[dict[str, Any]]) -> list[Any]:
        return self._send(lambda baton: self._client.pipeline(requests, baton))

    def _send(self, post: Callable[[str], tuple[str | None, list[Any]]]) -> list[Any]:
        if self._baton is None:
            raise LibsqlError(f"the transaction is over ({self.state})", code="STREAM_CLOSED")
        baton, self._baton, self.state = self._baton, None, "lost"  # until the server answers
        self._baton, results = post(baton)
        if self._baton is None:
            raise LibsqlError(
                "the server closed the stream; the transaction was rolled back", code="STREAM_CLOSED"
            )
        self.state = "open"
        return results

    def batch(self, statements: Iterable[str | Statement | tuple[str, Args]]) -> list[ResultSet]:
        """Run statements in order inside this transaction, stopping at the first failure."""
        items = [_as_statement(s) for s in statements]
        return self._batch([encode_stmt(s.sql, s.args) for s in items], [s.sql for s in items], False)

    @classmethod
    def encode_batch(cls, statements: Iterable[str | Statement | tuple[str, Args]]) -> EncodedBatch:
        """`statements` as the request `batch` would send, encoded now (no I/O: any thread)."""
        items = [_as_statement(s) for s in statements]
        steps, first = cls._steps([encode_stmt(s.sql, s.args) for s in items], False)
        request = json.dumps(
            [{"type": "batch", "batch": {"steps": steps}}], ensure_ascii=False, separators=(",", ":")
        ).encode()
        return EncodedBatch(request, [s.sql for s in items], len(steps), first)

    def run_encoded(self, batch: EncodedBatch) -> list[ResultSet]:
        """Run a batch from `encode_batch` inside this transaction, like `batch`."""
        if not batch.texts:
            return []
        results = self._send(lambda baton: self._client.pipeline_encoded(batch.request, 1, baton))
        return self._batch_results(results[0], batch.texts, batch.steps, batch.first)

    def executemany(self, sql: str, rows: Iterable[Args]) -> list[ResultSet]:
        """Run one statement once per row of arguments inside this transaction."""
        stmts = [{"sql_id": SQL_ID, **encode_args(args)} for args in rows]
        forget = {"type": "close_sql", "sql_id": SQL_ID}
        return self._batch(stmts, [sql] * len(stmts), False, [_store_sql(sql)], [forget])

    def _end(self, sql: str, state: Literal["committed", "rolled back"]) -> None:
        baton, self._baton, self.state = self._baton, None, "lost"
        _, results = self._client.pipeline(
            [{"type": "execute", "stmt": {"sql": sql}}, {"type": "close"}], baton
        )
        self._response(results[0], sql=sql)
        self.state = state

    def commit(self) -> None:
        """Commit now. Raises LibsqlError if COMMIT fails or the transaction was lost or rolled
        back; committing twice is a no-op."""
        if self.state == "committed":
            return
        if self._baton is None:
            raise LibsqlError(f"cannot commit: the transaction was {self.state}", code="STREAM_CLOSED")
        self._end("COMMIT", "committed")

    def rollback(self) -> None:
        """Roll back now. Never raises: the stream is closed either way, and the server rolls
        back whatever a closed or lost stream left open."""
        if self._baton is not None:
            with contextlib.suppress(LibsqlError):
                self._end("ROLLBACK", "rolled back")
            if self.state == "lost":
                self.state = "rolled back"
