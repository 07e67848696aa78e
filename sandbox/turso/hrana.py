"""Hrana stream requests run on one SQLite connection (see ../shared/contracts/HRANA_NOTES.md).

A `Session` is the server side of one stream: one SQLite connection, its stored SQL texts and
whether its token may write. `run_pipeline` executes a pipeline's requests in order. Errors come
in three kinds, as the protocol has them:

- `StmtError`: an SQL statement failed; it becomes that request's `{"type": "error"}` result and
  the stream lives on;
- `ProtocolError`: the request itself is malformed; the whole pipeline answers HTTP 400 and the
  stream is closed;
- `Forbidden`: a read-only token tried to write; HTTP 403, and the stream is closed.

apsw (not the standard library's sqlite3) is used because it exposes what the protocol reports:
column decltypes, whether a statement is read-only or EXPLAIN, and parameter names.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apsw
import apsw.ext

Value = None | int | float | str | bytes

BUSY_TIMEOUT_MS = 5000
MAX_STORED_SQL = 150
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PARSE_ERRORS = ("syntax error", "incomplete input", "unrecognized token")


class ProtocolError(Exception):
    def __init__(self, message: str, code: str = "PROTOCOL_ERROR") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StmtError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code}


def _guard(code: int, arg1: str | None, _arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    """Authorizer: no ATTACH (nor VACUUM INTO, which attaches): a token reaches only its own file;
    no changing `query_only`, which is how a read-only stream is held to reading."""
    if code in (apsw.SQLITE_ATTACH, apsw.SQLITE_DETACH):
        return apsw.SQLITE_DENY
    if code == apsw.SQLITE_PRAGMA and (arg1 or "").lower() == "query_only":
        return apsw.SQLITE_DENY
    return apsw.SQLITE_OK


def open_connection(path: Path, *, read_only: bool) -> apsw.Connection:
    """A connection to an existing database file; raises apsw.CantOpenError if it is gone."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    if read_only:
        conn.execute("PRAGMA query_only = ON")  # a second line of defence behind `Forbidden`
    conn.authorizer = _guard
    return conn


# --- values -----------------------------------------------------------------------------------


def decode_value(raw: Any) -> Value:
    """A Hrana JSON value as a Python value; a malformed value is a protocol error."""
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "null":
        return None
    if kind == "integer":
        value = raw.get("value")
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value):
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise ProtocolError(f"an integer value must be a decimal string, got {value!r}")
        if not INT64_MIN <= number <= INT64_MAX:
            raise ProtocolError(f"integer {value} does not fit in 64 bits")
        return number
    if kind == "float":
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError(f"a float value must be a JSON number, got {value!r}")
        return float(value)
    if kind == "text":
        if not isinstance(raw.get("value"), str):
            raise ProtocolError("a text value must carry a string `value`")
        return str(raw["value"])
    if kind == "blob":
        encoded = raw.get("base64")
        if not isinstance(encoded, str):
            raise ProtocolError("a blob value must carry its bytes in `base64`")
        try:  # clients differ on padding: accept both
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            raise ProtocolError("a blob's `base64` is not valid base64") from None
    raise ProtocolError(f"unknown value type {kind!r}")


def encode_value(value: Value) -> dict[str, Any]:
    if value is None:
        return {"type": "null"}
    if isinstance(value, int):
        return {"type": "integer", "value": str(value)}
    if isinstance(value, float):
        # JSON has no infinities; the vendor's server sends null for them, and so do we.
        return {"type": "float", "value": value if math.isfinite(value) else None}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    return {"type": "blob", "base64": base64.b64encode(bytes(value)).decode("ascii")}


# --- statements -------------------------------------------------------------------------------


def stmt_error(exc: apsw.Error) -> StmtError:
    """An SQLite failure with the code the vendor's server gives it."""
    message = re.sub(r"^\w+Error: ", "", str(exc))
    if isinstance(exc, apsw.BindingsError):
        return StmtError(f"Arguments do not match SQL parameters: {message}", "ARGS_INVALID")
    result = int(getattr(exc, "result", apsw.SQLITE_ERROR) or apsw.SQLITE_ERROR) & 0xFF
    if result == apsw.SQLITE_ERROR:
        if any(marker in message for marker in PARSE_ERRORS):
            return StmtError(f"SQL string could not be parsed: {message}", "SQL_PARSE_ERROR")
        return StmtError(f"SQLite error: {message}", "SQLITE_UNKNOWN")
    code = apsw.mapping_result_codes.get(result, "SQLITE_UNKNOWN")
    return StmtError(f"SQLite error: {message}", str(code))


def _param_name(sql: str, name: str | None) -> str | None:
    """The parameter's name with its prefix (`:a`, `@a`, `$a`, `?1`), as describe reports it."""
    if name is None:
        return None
    if name.isdigit():
        return f"?{name}"
    found = re.search(r"([:@$])" + re.escape(name) + r"(?![\w$])", sql)
    return (found.group(1) if found else ":") + name


class Session:
    """The server side of one stream: a connection, its stored SQL, and its token's rights."""

    def __init__(self, conn: apsw.Connection, *, read_only: bool) -> None:
        self.conn = conn
        self.read_only = read_only
        self.sqls: dict[int, str] = {}
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.conn.close(True)  # an open transaction is rolled back

    # The statement's shape, without running it.
    def prepare(self, sql: str) -> apsw.ext.QueryDetails:
        try:
            info = apsw.ext.query_info(self.conn, sql)
        except apsw.Error as exc:
            raise stmt_error(exc) from None
        if not info.has_vdbe:
            raise StmtError("SQL string does not contain any statement", "SQL_NO_STATEMENT")
        rest = info.query_remaining
        while rest and rest.strip():  # only whitespace and comments may follow
            try:
                tail = apsw.ext.query_info(self.conn, rest)
            except apsw.Error:
                tail = None
            if tail is None or tail.has_vdbe:
                raise StmtError("SQL string contains more than one statement", "SQL_MANY_STATEMENTS")
            rest = tail.query_remaining
        return info

    def _check_write(self, info: apsw.ext.QueryDetails) -> None:
        if self.read_only and not info.is_readonly:
            raise Forbidden("this token is read-only: it may not run statements that write")

    def sql_text(self, raw: dict[str, Any]) -> str:
        sql, sql_id = raw.get("sql"), raw.get("sql_id")
        if sql is not None and sql_id is not None:
            raise ProtocolError("give either `sql` or `sql_id`, not both")
        if isinstance(sql, str):
            return sql
        if isinstance(sql_id, int) and not isinstance(sql_id, bool):
            if sql_id not in self.sqls:
                raise ProtocolError(f"no SQL text is stored with id {sql_id}", "SQL_NOT_FOUND")
            return self.sqls[sql_id]
        raise ProtocolError("a statement needs `sql` (a string) or `sql_id` (an integer)")

    def _bindings(
        self, info: apsw.ext.QueryDetails, args: Sequence[Value], named: dict[str, Value]
    ) -> tuple[Value, ...]:
        count = info.bindings_count
        if len(args) > count:
            raise StmtError(
                f"Arguments do not match SQL parameters: the statement takes {count}, {len(args)} given",
                "ARGS_INVALID",
            )
        values = [*args, *([None] * (count - len(args)))]  # unbound parameters are NULL, as in SQLite
        index = {name: i for i, name in enumerate(info.bindings_names) if name is not None}
        for name, value in named.items():
            key = name[1:] if name[:1] in (":", "@", "$") else name
            if key not in index:
                raise StmtError(
                    f"Arguments do not match SQL parameters: no parameter is named {name}", "ARGS_INVALID"
                )
            values[index[key]] = value  # a named argument wins over a positional one
        return tuple(values)

    def execute(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise ProtocolError("`stmt` must be an object")
        sql = self.sql_text(raw)
        args = raw.get("args") or []
        named_args = raw.get("named_args") or []
        if not isinstance(args, list) or not isinstance(named_args, list):
            raise ProtocolError("`args` and `named_args` must be arrays")
        positional = [decode_value(value) for value in args]
        named: dict[str, Value] = {}
        for arg in named_args:
            if not isinstance(arg, dict) or not isinstance(arg.get("name"), str):
                raise ProtocolError("a named argument is `{name, value}`")
            named[arg["name"]] = decode_value(arg.get("value"))
        want_rows = raw.get("want_rows")
        total_before, rowid_before = self.conn.total_changes(), self.conn.last_insert_rowid()
        fast = None if positional or named else self._execute_prepared_once(sql)
        if fast is not None:
            description, rows = fast
        else:
            info = self.prepare(sql)
            bindings = self._bindings(info, positional, named)
            self._check_write(info)
            try:
                rows = [
                    [encode_value(v) for v in row] for row in self.conn.execute(info.first_query, bindings)
                ]
            except apsw.Error as exc:
                raise stmt_error(exc) from None
            description = info.description
        rowid = self.conn.last_insert_rowid()
        return {
            "cols": [{"name": name, "decltype": decltype} for name, decltype in description],
            "rows": rows if want_rows is not False else [],
            # changes() keeps the count of the last writing statement: report it only if this one wrote.
            "affected_row_count": self.conn.changes() if self.conn.total_changes() != total_before else 0,
            "last_insert_rowid": str(rowid) if rowid != rowid_before else None,
        }

    def _execute_prepared_once(
        self, sql: str
    ) -> tuple[tuple[tuple[str, str | None], ...], list[list[dict[str, Any]]]] | None:
        """Run an argument-free statement with one prepare instead of two (bulk INSERTs are large, and
        parsing them is most of their cost). The checks `prepare` makes happen in the exec tracer,
        after SQLite prepared the statement and before it runs. None: use the general path; nothing
        has run then (text with a `;` in it, no statement, or parameters to bind as NULL)."""
        if ";" in sql.rstrip().rstrip(";"):
            return None
        seen: dict[str, Any] = {"statements": 0, "description": (), "refused": False}

        def check(cursor: apsw.Cursor, _sql: str, _bindings: Any) -> bool:
            if not cursor.has_vdbe:
                return False  # nothing to run (only comments): the general path says so
            seen["statements"] += 1
            if self.read_only and not cursor.is_readonly:
                seen["refused"] = True
                return False
            seen["description"] = cursor.get_description()
            return True

        cursor = self.conn.cursor()
        cursor.exec_trace = check
        try:
            rows = [[encode_value(v) for v in row] for row in cursor.execute(sql)]
        except apsw.ExecTraceAbort:
            if not seen["refused"]:
                return None
            raise Forbidden("this token is read-only: it may not run statements that write") from None
        except apsw.BindingsError:
            return None
        except apsw.Error as exc:
            if seen["statements"] == 0:
                return None  # it failed to prepare: the general path reports it in its own words
            raise stmt_error(exc) from None
        if seen["statements"] == 0:
            return None  # only whitespace or comments: the general path says so
        return seen["description"], rows

    def sequence(self, sql: str) -> None:
        """Run `;`-separated statements, discarding rows; stop at the first that fails."""
        rest: str | None = sql
        while rest and rest.strip():
            info = self.prepare_first(rest)
            if info.has_vdbe:
                self._check_write(info)
                try:
                    for _ in self.conn.execute(info.first_query):
                        pass
                except apsw.Error as exc:
                    raise stmt_error(exc) from None
            rest = info.query_remaining

    def prepare_first(self, sql: str) -> apsw.ext.QueryDetails:
        try:
            return apsw.ext.query_info(self.conn, sql)
        except apsw.Error as exc:
            raise stmt_error(exc) from None

    def describe(self, sql: str) -> dict[str, Any]:
        info = self.prepare(sql)
        return {
            "params": [{"name": _param_name(sql, name)} for name in info.bindings_names],
            "cols": [{"name": name, "decltype": decltype} for name, decltype in info.description],
            "is_explain": bool(info.is_explain),
            "is_readonly": bool(info.is_readonly),
        }

    # --- batches --------------------------------------------------------------------------------

    def _check_condition(self, cond: Any, step: int, version: int) -> None:
        kind = cond.get("type") if isinstance(cond, dict) else None
        if kind in ("ok", "error"):
            target = cond.get("step")
            if not isinstance(target, int) or isinstance(target, bool) or not 0 <= target < step:
                raise ProtocolError(f"the condition of step {step} must refer to an earlier step")
        elif kind == "not":
            self._check_condition(cond.get("cond"), step, version)
        elif kind in ("and", "or"):
            conds = cond.get("conds")
            if not isinstance(conds, list):
                raise ProtocolError(f"an `{kind}` condition needs `conds`")
            for inner in conds:
                self._check_condition(inner, step, version)
        elif kind == "is_autocommit" and version >= 3:
            return
        else:
            raise ProtocolError(f"unknown batch condition {kind!r} (in protocol version {version})")

    def _holds(self, cond: dict[str, Any], outcomes: list[bool | None]) -> bool:
        kind = cond["type"]
        if kind == "ok":
            return outcomes[cond["step"]] is True
        if kind == "error":
            return outcomes[cond["step"]] is False
        if kind == "not":
            return not self._holds(cond["cond"], outcomes)
        if kind == "and":
            return all(self._holds(inner, outcomes) for inner in cond["conds"])
        if kind == "or":
            return any(self._holds(inner, outcomes) for inner in cond["conds"])
        return bool(self.conn.get_autocommit())  # is_autocommit

    def batch(self, raw: Any, version: int) -> dict[str, Any]:
        steps = raw.get("steps") if isinstance(raw, dict) else None
        if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
            raise ProtocolError("`batch.steps` must be an array of `{stmt, condition}`")
        for i, step in enumerate(steps):
            if step.get("condition") is not None:
                self._check_condition(step["condition"], i, version)
        results: list[dict[str, Any] | None] = [None] * len(steps)
        errors: list[dict[str, Any] | None] = [None] * len(steps)
        outcomes: list[bool | None] = [None] * len(steps)  # None: skipped
        for i, step in enumerate(steps):
            if step.get("condition") is not None and not self._holds(step["condition"], outcomes):
                continue
            try:
                results[i] = self.execute(step.get("stmt"))
                outcomes[i] = True
            except StmtError as exc:
                errors[i] = exc.as_json()
                outcomes[i] = False
        return {"step_results": results, "step_errors": errors}

    # --- requests -------------------------------------------------------------------------------

    def handle(self, request: Any, version: int) -> dict[str, Any]:
        """One stream request's response; raises StmtError for an error result."""
        kind = request.get("type") if isinstance(request, dict) else None
        if self.closed:
            raise StmtError("the stream was closed by an earlier request", "STREAM_CLOSED")
        if kind == "execute":
            return {"type": kind, "result": self.execute(request.get("stmt"))}
        if kind == "batch":
            return {"type": kind, "result": self.batch(request.get("batch"), version)}
        if kind == "sequence":
            self.sequence(self.sql_text(request))
            return {"type": kind}
        if kind == "describe":
            return {"type": kind, "result": self.describe(self.sql_text(request))}
        if kind == "store_sql":
            sql_id, sql = request.get("sql_id"), request.get("sql")
            if not isinstance(sql_id, int) or not isinstance(sql, str):
                raise ProtocolError("`store_sql` needs an integer `sql_id` and a string `sql`")
            if sql_id in self.sqls:
                raise ProtocolError(f"an SQL text is already stored with id {sql_id}", "SQL_EXISTS")
            if len(self.sqls) >= MAX_STORED_SQL:
                raise StmtError(f"a stream stores at most {MAX_STORED_SQL} SQL texts", "SQL_STORE_TOO_MANY")
            self.sqls[sql_id] = sql
            return {"type": kind}
        if kind == "close_sql":
            sql_id = request.get("sql_id")
            if not isinstance(sql_id, int):
                raise ProtocolError("`close_sql` needs an integer `sql_id`")
            self.sqls.pop(sql_id, None)
            return {"type": kind}
        if kind == "get_autocommit" and version >= 3:
            return {"type": kind, "is_autocommit": bool(self.conn.get_autocommit())}
        if kind == "close":
            self.closed = True  # the connection is released by whoever owns the stream
            return {"type": kind}
        raise ProtocolError(f"unknown request type {kind!r} (in protocol version {version})")


def run_pipeline(session: Session, requests: Any, version: int) -> list[dict[str, Any]]:
    """Every request runs, even after one fails; SQL failures become error results."""
    if not isinstance(requests, list):
        raise ProtocolError("`requests` must be an array")
    results: list[dict[str, Any]] = []
    for request in requests:
        try:
            results.append({"type": "ok", "response": session.handle(request, version)})
        except StmtError as exc:
            results.append({"type": "error", "error": exc.as_json()})
    return results
