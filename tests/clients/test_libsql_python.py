"""Turso's `libsql` Python package (0.1.11, pinned in tools/pyclients) against the sandbox, unpatched.

It gets the URL the Turso API handed out and a token; the local CA reaches it through SSL_CERT_FILE.
Without that variable the same URL fails on the certificate, which shows the URL really is TLS.
"""

from __future__ import annotations

from tests.clients.turso_sandbox import TursoSandbox, run_python_client, turso_sandbox

__all__ = ["turso_sandbox"]


def test_the_python_driver_runs_everyday_operations_over_the_handed_out_url(
    turso_sandbox: TursoSandbox,
) -> None:
    url, token = turso_sandbox.database("python-driver")
    turso_sandbox.install_hosts()
    config = {"url": url, "token": token, "badToken": "sbxdb_not-a-token"}
    out = run_python_client("libsql_client.py", config, {"SSL_CERT_FILE": turso_sandbox.endpoint.ca_file})

    ok = {key: value["ok"] for key, value in out.items() if "ok" in value}
    assert ok["create"] is True, out["create"]
    assert ok["insert"] == [1, 1], out["insert"]
    assert ok["select"] == [[1, 2**62, 0.25, "né", "00ff"]]
    assert ok["executemany"] == [3]
    assert ok["rollback"] == [0]
    assert ok["isolated"] == {"inside": [1], "outside": [0], "after": [1]}
    assert "SQL string could not be parsed" in out["badSql"]["message"], out["badSql"]
    assert "401" in out["badToken"]["message"], out["badToken"]


def test_without_the_local_ca_the_driver_refuses_the_certificate(turso_sandbox: TursoSandbox) -> None:
    url, token = turso_sandbox.database("python-no-ca")
    turso_sandbox.install_hosts()
    out = run_python_client("libsql_client.py", {"url": url, "token": token, "badToken": "x"}, {})
    assert "UnknownIssuer" in out["create"]["message"], out["create"]
