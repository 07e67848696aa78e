"""An interactive Hrana transaction over WebSocket: private until COMMIT, gone with its connection.

In a module of its own, so it runs against a sandbox of its own: a connection closed with its
transaction open is the one case that leaves state behind in the sandbox until it is rolled back."""

from __future__ import annotations

from pathlib import Path

from sandbox.endpoint import SandboxEndpoint
from tests.unit.test_libsql_websocket import Db, Session, db, open_ws, sandbox, session

__all__ = ["db", "sandbox", "session"]  # fixtures, shared with the main module


def test_a_transaction_spans_requests_is_isolated_and_dies_with_the_connection(
    sandbox: tuple[SandboxEndpoint, Path], session: Session, db: Db
) -> None:
    session.ok({"type": "open_stream", "stream_id": 1})
    session.rows(1, "CREATE TABLE t (x)")
    session.rows(1, "BEGIN")
    session.rows(1, "INSERT INTO t VALUES (1)")
    assert session.ok({"type": "get_autocommit", "stream_id": 1})["is_autocommit"] is False
    with open_ws(sandbox, db.host, ["hrana2"]) as other_ws:
        other = Session(other_ws)
        assert other_ws.subprotocol == "hrana2"
        assert other.hello(db.token)["type"] == "hello_ok"
        other.ok({"type": "open_stream", "stream_id": 1})
        assert other.rows(1, "SELECT count(*) FROM t") == [["0"]], "uncommitted rows stay private"
        session.rows(1, "COMMIT")
        assert other.rows(1, "SELECT count(*) FROM t") == [["1"]]
        session.rows(1, "BEGIN")
        session.rows(1, "INSERT INTO t VALUES (2)")
    session.ws.close()  # the open transaction goes with the connection
    with open_ws(sandbox, db.host, ["hrana3"]) as ws:
        third = Session(ws)
        third.hello(db.token)
        third.ok({"type": "open_stream", "stream_id": 1})
        assert third.rows(1, "SELECT count(*) FROM t") == [["1"]]
