"""`@libsql/client` 0.17.4 (Node), unpatched, against the sandbox's libSQL data plane.

The URL is the one the Turso API hands out (`libsql://<db>-<org>.turso.localhost:<TLS port>`), used
as is and in the other forms the client documents: `wss://` and `https://` on the same port, and
`ws://` / `libsql://…?tls=0` on the plain port (what a Worker's egress reaches). Every form runs
the same operations: types, named arguments, batches (atomic on failure), executeMultiple,
interactive transactions (isolated until commit, rollback), SQL errors, a wrong token, a deleted
database. The client trusts the local CA through NODE_EXTRA_CA_CERTS only.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.clients.turso_sandbox import ORG, TursoSandbox, run_node, turso_sandbox

__all__ = ["turso_sandbox"]

FORMS = ["libsql", "wss", "https", "ws-plain-port", "libsql-tls0-plain-port"]


def in_form(url: str, form: str, plain_port: int) -> str:
    host = urlsplit(url).hostname
    tls_port = urlsplit(url).port
    return {
        "libsql": url,
        "wss": f"wss://{host}:{tls_port}",
        "https": f"https://{host}:{tls_port}",
        "ws-plain-port": f"ws://{host}:{plain_port}",
        "libsql-tls0-plain-port": f"libsql://{host}:{plain_port}?tls=0",
    }[form]


@pytest.mark.parametrize("form", FORMS)
def test_libsql_client_runs_everyday_operations_in_every_url_form(
    turso_sandbox: TursoSandbox, form: str
) -> None:
    name = f"node-{FORMS.index(form)}"
    url, token = turso_sandbox.database(name)
    gone_url, _ = turso_sandbox.database(f"{name}-gone")
    turso_sandbox.install_hosts()
    with turso_sandbox.api() as turso:
        turso.delete_database(f"{name}-gone")
    plain = turso_sandbox.plain_port
    config = {
        "url": in_form(url, form, plain),
        "token": token,
        "badToken": "sbxdb_not-a-token",
        "goneUrl": in_form(gone_url, form, plain),
    }
    out = run_node("libsql_client.cjs", config, turso_sandbox.endpoint.ca_file)

    ok: dict[str, Any] = {key: value["ok"] for key, value in out.items() if "ok" in value}
    assert ok["create"] is True
    assert ok["insert"] == {"rowsAffected": 1, "lastInsertRowid": "1"}
    assert ok["named"] == [[-7, None]]
    assert ok["select"]["columns"] == ["id", "n", "f", "s", "b"]
    assert ok["select"]["columnTypes"] == ["INTEGER", "INTEGER", "REAL", "TEXT", "BLOB"]
    assert ok["select"]["rows"] == [
        [1, 9007199254740991, 2.5, "héllo", {"hex": "0001ff"}],
        [2, -7, None, None, None],
    ]
    assert ok["bigint"] == [[{"bigint": "9223372036854775807"}]]
    assert ok["batch"] == [[4]]
    assert out["failedBatch"]["isLibsqlError"], out["failedBatch"]
    assert "no_such_table" in out["failedBatch"]["message"]
    assert ok["afterFailedBatch"] == [[0]], "a failed write batch is rolled back as a whole"
    assert ok["sequence"] == [[3]]
    assert ok["transaction"] == {"inside": [[1]], "outside": [[0]], "after": [[1]]}
    assert ok["rollback"] == [[0]]
    assert out["badSql"]["code"] == "SQL_PARSE_ERROR", out["badSql"]
    assert out["constraint"]["code"].startswith("SQLITE_CONSTRAINT"), out["constraint"]
    assert out["badToken"]["isLibsqlError"], out["badToken"]
    assert "401" in out["badToken"]["message"] or out["badToken"]["code"] == "AUTH_JWT_INVALID", out[
        "badToken"
    ]
    assert out["gone"]["isLibsqlError"], out["gone"]
    assert "404" in out["gone"]["message"] or out["gone"]["code"] == "NAMESPACE_DOESNT_EXIST", out["gone"]

    # What the client wrote is in the database's real SQLite file.
    path = turso_sandbox.directory / "turso" / ORG / f"{name}.sqlite"
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        table = next(t for t in tables if t.startswith("t_") and not t.endswith("_s"))
        assert db.execute(f"SELECT n, s FROM {table} ORDER BY id").fetchall()[:2] == [  # noqa: S608
            (9007199254740991, "héllo"),
            (-7, None),
        ]
