"""Turso's `libsql` Python package (a DB-API driver), unpatched, against a sandbox database.

Runs in .tools/pyclients (not oneclick's virtualenv: both have a top-level `libsql`). Input:
ONECLICK_CLIENT_CONFIG = {"url", "token", "badToken"}; the local CA comes through SSL_CERT_FILE, which
the driver's TLS stack (rustls with the platform's roots) reads. Prints one JSON object.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

# Imported by name: type checkers run from oneclick's virtualenv would see oneclick's libsql/ instead.
libsql: Any = importlib.import_module("libsql")

config = json.loads(os.environ["ONECLICK_CLIENT_CONFIG"])


def attempt(step: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"ok": step()}
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def main() -> None:
    out: dict[str, Any] = {}
    conn = libsql.connect(config["url"], auth_token=config["token"])

    def create() -> bool:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER, f REAL, s TEXT, b BLOB)")
        conn.commit()
        return True

    def insert() -> list[Any]:
        cursor = conn.cursor()
        cursor.execute("INSERT INTO items (n, f, s, b) VALUES (?, ?, ?, ?)", (2**62, 0.25, "né", b"\x00\xff"))
        conn.commit()
        return [cursor.rowcount, cursor.lastrowid]

    def select() -> list[Any]:
        rows = conn.execute("SELECT id, n, f, s, b FROM items").fetchall()
        return [[value.hex() if isinstance(value, bytes) else value for value in row] for row in rows]

    def executemany() -> list[Any]:
        conn.executemany("INSERT INTO items (n) VALUES (?)", [(10,), (11,), (12,)])
        conn.commit()
        return list(conn.execute("SELECT count(*) FROM items WHERE n BETWEEN 10 AND 12").fetchone())

    def rollback() -> list[Any]:
        conn.execute("INSERT INTO items (n) VALUES (500)")
        conn.rollback()
        return list(conn.execute("SELECT count(*) FROM items WHERE n = 500").fetchone())

    def isolated() -> dict[str, Any]:
        conn.execute("INSERT INTO items (n) VALUES (600)")  # opens a transaction (DB-API)
        other = libsql.connect(config["url"], auth_token=config["token"])
        outside = list(other.execute("SELECT count(*) FROM items WHERE n = 600").fetchone())
        inside = list(conn.execute("SELECT count(*) FROM items WHERE n = 600").fetchone())
        conn.commit()
        after = list(other.execute("SELECT count(*) FROM items WHERE n = 600").fetchone())
        return {"inside": inside, "outside": outside, "after": after}

    out["create"] = attempt(create)
    out["insert"] = attempt(insert)
    out["select"] = attempt(select)
    out["executemany"] = attempt(executemany)
    out["rollback"] = attempt(rollback)
    out["isolated"] = attempt(isolated)
    out["badSql"] = attempt(lambda: conn.execute("SELEC nonsense").fetchall())
    intruder = libsql.connect(config["url"], auth_token=config["badToken"])
    out["badToken"] = attempt(lambda: intruder.execute("SELECT 1").fetchall())
    sys.stdout.write(json.dumps(out))


main()
