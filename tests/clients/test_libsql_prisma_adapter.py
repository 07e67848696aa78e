"""Prisma's libSQL driver adapter (@prisma/adapter-libsql 7.10.0), unpatched, against the sandbox.

Prisma Client on Workers and Node reaches Turso only through this adapter, configured with the
database URL and token (`new PrismaLibSql({ url, authToken })`): here it gets the `libsql://` URL the
Turso API handed out, and the local CA through NODE_EXTRA_CA_CERTS.
"""

from __future__ import annotations

from tests.clients.turso_sandbox import TursoSandbox, run_node, turso_sandbox

__all__ = ["turso_sandbox"]


def test_prismas_adapter_queries_writes_and_runs_transactions(turso_sandbox: TursoSandbox) -> None:
    url, token = turso_sandbox.database("prisma-adapter")
    turso_sandbox.install_hosts()
    out = run_node("prisma_adapter.cjs", {"url": url, "token": token}, turso_sandbox.endpoint.ca_file)

    ok = {key: value["ok"] for key, value in out.items() if "ok" in value}
    assert ok["script"] is True, out["script"]
    assert ok["insert"] == 2, out["insert"]
    assert ok["query"]["columnNames"] == ["id", "name", "price"]
    assert ok["query"]["rows"] == [[1, "pen", 1.5], [2, "ink", 4.0]]
    assert ok["commit"] == [[1]], out["commit"]
    assert ok["rollback"] == [[1]], out["rollback"]
    # Over Hrana @libsql/client carries no SQLite extended code (its own TODO), so the adapter reports
    # a remote database's constraint failures as `sqlite` errors with SQLite's message, as for Turso.
    assert out["unique"]["kind"] == "sqlite", out["unique"]
    assert "UNIQUE constraint failed: Product.name" in out["unique"]["message"]
    assert out["missingTable"]["error"] == "DriverAdapterError", out["missingTable"]
    assert "no such table: nowhere" in out["missingTable"]["message"]
