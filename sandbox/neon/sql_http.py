"""Neon's SQL-over-HTTP endpoint (`POST /sql`), what `@neondatabase/serverless`'s `neon()` sends.

The driver posts `{"query", "params"}` (or `{"queries": [...]}` for a transaction) with the
connection string in `Neon-Connection-String`; the endpoint is the one whose port that string
names, and its Neon role and database are mapped to the physical ones as the wire proxy maps them
(proxy.py). Point the driver here with its documented `neonConfig.fetchEndpoint`, e.g.
`(host, port) => "http://127.0.0.1:8787/sql"` (Neon's default is `https://api.<endpoint host>/sql`).

Answers as Neon's: values as PostgreSQL's text output (`Neon-Raw-Text-Output`), rows as arrays
(`Neon-Array-Mode`; the driver always asks for both), `fields` with type OIDs the driver parses
by; a transaction's `Neon-Batch-Isolation-Level`/`-Read-Only`/`-Deferrable` are honoured; a SQL
error is HTTP 400 with PostgreSQL's error fields (`message`, `code`, `detail`, `position`, …),
which the driver turns into a NeonDbError carrying them.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict

from sandbox.neon.control import NeonSandbox
from sandbox.neon.proxy import Refusal

ISOLATION_LEVELS = {
    "Serializable": "SERIALIZABLE",
    "ReadCommitted": "READ COMMITTED",
    "RepeatableRead": "REPEATABLE READ",
    "ReadUncommitted": "READ UNCOMMITTED",
}
# PostgreSQL's error fields under the names the driver copies onto its NeonDbError.
ERROR_FIELDS = {
    "severity": pq.DiagnosticField.SEVERITY,
    "code": pq.DiagnosticField.SQLSTATE,
    "detail": pq.DiagnosticField.MESSAGE_DETAIL,
    "hint": pq.DiagnosticField.MESSAGE_HINT,
    "position": pq.DiagnosticField.STATEMENT_POSITION,
    "internalPosition": pq.DiagnosticField.INTERNAL_POSITION,
    "internalQuery": pq.DiagnosticField.INTERNAL_QUERY,
    "where": pq.DiagnosticField.CONTEXT,
    "schema": pq.DiagnosticField.SCHEMA_NAME,
    "table": pq.DiagnosticField.TABLE_NAME,
    "column": pq.DiagnosticField.COLUMN_NAME,
    "dataType": pq.DiagnosticField.DATATYPE_NAME,
    "constraint": pq.DiagnosticField.CONSTRAINT_NAME,
    "file": pq.DiagnosticField.SOURCE_FILE,
    "line": pq.DiagnosticField.SOURCE_LINE,
    "routine": pq.DiagnosticField.SOURCE_FUNCTION,
}


class SqlError(Exception):
    """Answered as HTTP 400 with these PostgreSQL error fields."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(fields.get("message", ""))
        self.fields = fields


def refused(message: str, code: str) -> SqlError:
    return SqlError({"message": message, "code": code, "severity": "ERROR"})


def statement(item: Any) -> tuple[str, list[bytes | None]]:
    if not isinstance(item, dict) or not isinstance(item.get("query"), str):
        raise refused('each query must be {"query": "<SQL>", "params": [...]}', "08P01")
    params = item.get("params") or []
    if not isinstance(params, list):
        raise refused("params must be a list", "08P01")
    encoded: list[bytes | None] = []
    for param in params:
        if param is not None and not isinstance(param, str | int | float | bool):
            raise refused("each param must be a string, a number, a boolean or null", "08P01")
        if param is None:
            encoded.append(None)
        else:
            encoded.append((str(param).lower() if isinstance(param, bool) else str(param)).encode())
    return str(item["query"]), encoded


def run(conn: psycopg.Connection[Any], query: str, params: list[bytes | None]) -> dict[str, Any]:
    result = conn.pgconn.exec_params(query.encode(), list(params), result_format=pq.Format.TEXT)
    if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY):
        fields = {"message": (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"").decode()}
        for name, field in ERROR_FIELDS.items():
            value = result.error_field(field)
            if value is not None:
                fields[name] = value.decode()
        raise SqlError(fields)
    status = (result.command_status or b"").decode().split()
    count = int(status[-1]) if status and status[-1].isdigit() else (result.ntuples or 0)
    return {
        "command": status[0] if status else "",
        "rowCount": count,
        "rows": [
            [_text(result.get_value(row, column)) for column in range(result.nfields)]
            for row in range(result.ntuples)
        ],
        "fields": [
            {
                "name": _text(result.fname(column)) or "",
                "tableID": result.ftable(column),
                "columnID": result.ftablecol(column),
                "dataTypeID": result.ftype(column),
                "dataTypeSize": result.fsize(column),
                "dataTypeModifier": result.fmod(column),
                "format": "text",
            }
            for column in range(result.nfields)
        ],
        "rowAsArray": True,
    }


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def build_router(neon: NeonSandbox) -> APIRouter:
    router = APIRouter()

    def connect(connection_string: str) -> psycopg.Connection[Any]:
        try:
            given = conninfo_to_dict(connection_string)
            port = int(str(given.get("port") or 5432))
        except (psycopg.ProgrammingError, ValueError):
            raise refused(
                "Neon-Connection-String is not a valid PostgreSQL connection string", "08P01"
            ) from None
        user, database = str(given.get("user") or ""), str(given.get("dbname") or given.get("user") or "")
        with neon.store.lock:
            endpoint = next(
                (
                    e
                    for p in neon.projects().values()
                    for e in p["endpoints"].values()
                    if e.get("port") == port
                ),
                None,
            )
        if endpoint is None:
            raise refused(
                f"no sandbox Neon endpoint has port {port}; use a connection string the API handed out",
                "08004",
            )
        try:
            login = neon.login_for(str(endpoint["id"]), user, database)
        except Refusal as refusal:
            raise refused(refusal.message, refusal.sqlstate) from None
        if not hmac.compare_digest(login.password.encode(), str(given.get("password") or "").encode()):
            raise refused(f'password authentication failed for user "{user}"', "28P01")
        if login.database is None:
            raise refused(f'database "{database}" does not exist', "3D000")
        pg = neon.pg
        return psycopg.connect(
            host=pg.host,
            port=pg.port,
            user=login.role,
            password=login.password,
            dbname=login.database,
            autocommit=True,
            connect_timeout=10,
            application_name=str(given.get("application_name") or "neon-sql-over-http"),
        )

    @router.post("/sql")
    async def sql(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"message": "the body must be JSON", "code": "08P01"}, status_code=400)
        try:
            return JSONResponse(await asyncio.to_thread(answer, body, dict(request.headers)))
        except SqlError as error:
            return JSONResponse(error.fields, status_code=400)
        except psycopg.OperationalError:
            message = "the sandbox's PostgreSQL server is not reachable; run: oneclick sandbox start"
            return JSONResponse({"message": message}, status_code=503)

    def answer(body: Any, headers: dict[str, str]) -> dict[str, Any]:
        connection_string = headers.get("neon-connection-string")
        if not connection_string:
            raise refused("missing the Neon-Connection-String header", "08P01")
        batch = body.get("queries") if isinstance(body, dict) else None
        with connect(connection_string) as conn:
            if batch is None:
                return run(conn, *statement(body))
            if not isinstance(batch, list):
                raise refused('"queries" must be a list', "08P01")
            statements = [statement(item) for item in batch]
            begin = "BEGIN"
            level = headers.get("neon-batch-isolation-level")
            if level:
                if level not in ISOLATION_LEVELS:
                    raise refused(
                        f"Neon-Batch-Isolation-Level must be one of {', '.join(ISOLATION_LEVELS)}", "08P01"
                    )
                begin += f" ISOLATION LEVEL {ISOLATION_LEVELS[level]}"
            if headers.get("neon-batch-read-only") == "true":
                begin += " READ ONLY"
            if headers.get("neon-batch-deferrable") == "true":
                begin += " DEFERRABLE"
            run(conn, begin, [])
            try:
                results = [run(conn, query, params) for query, params in statements]
            except SqlError:
                run(conn, "ROLLBACK", [])
                raise
            run(conn, "COMMIT", [])
            return {"results": results}

    return router
