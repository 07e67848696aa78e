"""LibsqlClient against the sandbox's libSQL data plane, and the Hrana wire format itself."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.turso.client import TursoClient
from core.localca import LocalCA
from core.localhost import LoopbackTransport
from libsql.client import LibsqlClient, LibsqlError, Statement, Transaction, Value, http_base_url
from libsql.hrana import decode_value, encode_args, encode_value
from sandbox import server
from sandbox.endpoint import SandboxEndpoint

ORG = "org1"
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # text SQLite cannot hold (lone UTF-16 surrogates)


@dataclass(frozen=True)
class Db:
    name: str
    url: str  # libsql://<name>-org1.turso.localhost:<port>
    token: str
    file: Path

    def client(self, token: str | None = None) -> LibsqlClient:
        return LibsqlClient(self.url, self.token if token is None else token, timeout=10)


@pytest.fixture(scope="module")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("libsql") / "sbx"
    server.start(directory, port=0)
    yield directory
    server.stop(directory)


@pytest.fixture(scope="module")
def turso(sandbox_dir: Path) -> Iterator[TursoClient]:
    endpoint = SandboxEndpoint.load(sandbox_dir)
    assert endpoint is not None
    with TursoClient(endpoint.api_token, ORG, base_url=endpoint.url) as client:
        yield client


def make_db(turso: TursoClient, sandbox_dir: Path, name: str) -> Db:
    created = turso.create_database(name, "default")
    return Db(
        name,
        f"libsql://{created.hostname}",
        turso.create_database_token(name),
        sandbox_dir / "turso" / ORG / f"{name}.sqlite",
    )


_counter = iter(range(10**6))


@pytest.fixture
def db(turso: TursoClient, sandbox_dir: Path) -> Db:
    return make_db(turso, sandbox_dir, f"db{next(_counter)}")


@pytest.fixture(scope="module")
def shared_db(turso: TursoClient, sandbox_dir: Path) -> Db:
    return make_db(turso, sandbox_dir, "shared")


def local_tls() -> LoopbackTransport:
    """Requests to `*.localhost` over TLS, verified against the local CA (the sandbox's certificates)."""
    return LoopbackTransport(httpx.HTTPTransport(verify=LocalCA.default().trust_context()))


def raw(db: Db, path: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    """One raw HTTP request to the data plane, as any libSQL client sends it."""
    base, _ = http_base_url(db.url)
    with httpx.Client(base_url=base, transport=local_tls(), timeout=10) as http:
        return http.post(path, json=body, headers={"Authorization": f"Bearer {token or db.token}"})


def stmt(sql: str, *args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "execute", "stmt": {"sql": sql, "args": list(args)}}


# --- the client ---------------------------------------------------------------------------------


def test_every_type_round_trips_exactly_and_lands_in_the_sqlite_file(db: Db) -> None:
    values = [
        (2**63 - 1, 1.5, 'héllo\n"quoted" ✓', b"\x00\xff\x01", None),
        (-(2**63), -0.25, "", b"", 7),
        (0, 1e300, "x" * 10_000, bytes(range(256)), "text in an untyped column"),
    ]
    with db.client() as client:
        client.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, v)")
        first = client.execute("INSERT INTO t (i, r, s, b, v) VALUES (?, ?, ?, ?, ?)", list(values[0]))
        assert (first.rows_affected, first.last_insert_rowid) == (1, 1)
        named: dict[str, Any] = {
            "i": values[1][0],
            ":r": values[1][1],
            "@s": values[1][2],
            "$b": values[1][3],
            "v": values[1][4],
        }
        client.execute("INSERT INTO t (i, r, s, b, v) VALUES (:i, :r, @s, $b, :v)", named)
        client.execute("INSERT INTO t (i, r, s, b, v) VALUES (?1, ?2, ?3, ?4, ?5)", values[2])
        result = client.execute("SELECT i, r, s, b, v, i + 1 AS next FROM t ORDER BY id")
        assert result.columns == ("i", "r", "s", "b", "v", "next")
        assert result.column_types == ("INTEGER", "REAL", "TEXT", "BLOB", None, None)
        assert [row[:5] for row in result.rows] == values
        assert result.rows_affected == 0
        assert result.last_insert_rowid is None
        assert result.as_dicts()[1]["s"] == ""
        assert client.execute("SELECT ?, ?", [True, False]).rows == ((1, 0),)
        assert client.execute("SELECT count(*) FROM t").scalar() == 3
        updated = client.execute("UPDATE t SET v = NULL WHERE id > ?", [1])
        assert (updated.rows_affected, updated.last_insert_rowid) == (2, None)
    with sqlite3.connect(db.file) as real:  # the data is in the database's own SQLite file
        assert real.execute("SELECT i, r, s, b FROM t ORDER BY id").fetchall() == [v[:4] for v in values]


sqlite_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=SURROGATES)),
    st.binary(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.lists(sqlite_values, min_size=1, max_size=8))
def test_values_round_trip_through_the_server(shared_db: Db, row: list[Any]) -> None:
    with shared_db.client() as client:
        got = client.execute("SELECT " + ", ".join("?" for _ in row), row).rows[0]
    assert list(got) == row
    assert [type(v) for v in got] == [type(v) for v in row]


@given(value=sqlite_values)
def test_value_encoding_round_trips_locally(value: Any) -> None:
    assert decode_value(encode_value(value)) == value


def test_values_that_sqlite_cannot_hold_are_refused_with_their_position() -> None:
    with pytest.raises(ValueError, match=r"argument 2: .* 64-bit"):
        encode_args([1, 2**63])
    with pytest.raises(ValueError, match="NaN"):
        encode_value(math.nan)
    with pytest.raises(TypeError, match="argument 'when': datetime"):
        encode_args({"when": datetime.now()})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="sequence or a mapping"):
        encode_args("abc")


def test_a_failing_batch_rolls_everything_back_and_names_the_statement(db: Db) -> None:
    with db.client() as client:
        client.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        with pytest.raises(LibsqlError) as failure:
            client.batch(
                [
                    ("INSERT INTO item (name) VALUES (?)", ["a"]),
                    Statement("INSERT INTO item (name) VALUES (:n)", {"n": "b"}),
                    ("INSERT INTO item (name) VALUES (?)", ["a"]),
                    "INSERT INTO item (name) VALUES ('never')",
                ]
            )
        assert failure.value.statement_index == 2
        assert failure.value.code == "SQLITE_CONSTRAINT"
        assert "UNIQUE constraint failed" in failure.value.message
        assert str(failure.value).startswith("statement 2: SQLITE_CONSTRAINT")
        assert client.execute("SELECT count(*) FROM item").scalar() == 0

        results = client.batch(["INSERT INTO item (name) VALUES ('x')", "SELECT name FROM item"])
        assert results[0].last_insert_rowid == 1
        assert results[1].rows == (("x",),)

        with pytest.raises(LibsqlError) as partial:
            client.batch(
                [
                    "INSERT INTO item (name) VALUES ('y')",
                    "INSERT INTO nowhere VALUES (1)",
                    "INSERT INTO item (name) VALUES ('z')",
                ],
                transactional=False,
            )
        assert (partial.value.statement_index, partial.value.code) == (1, "SQLITE_UNKNOWN")
        names = client.execute("SELECT name FROM item ORDER BY id").rows
        assert names == (("x",), ("y",)), "without a transaction, what ran before the failure stays"
        assert client.batch([]) == []


def test_executemany_imports_rows_atomically_and_executescript_runs_a_dump(db: Db) -> None:
    with db.client() as client:
        client.executescript(
            """
            -- a migration file
            CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT NOT NULL, photo BLOB);
            CREATE INDEX person_name ON person (name);
            INSERT INTO person (name) VALUES ('seed; with a semicolon');
            """
        )
        rows: list[dict[str, Value]] = [{"name": f"p{i}", "photo": i.to_bytes(2, "big")} for i in range(300)]
        results = client.executemany("INSERT INTO person (name, photo) VALUES (:name, :photo)", rows)
        assert len(results) == 300
        assert results[-1].last_insert_rowid == 301
        with pytest.raises(LibsqlError) as failure:
            client.executemany("INSERT INTO person (name) VALUES (?)", [["ok"], [None], ["never"]])
        assert failure.value.statement_index == 1
        assert "NOT NULL" in failure.value.message
        assert client.execute("SELECT count(*) FROM person").scalar() == 301
        with pytest.raises(LibsqlError, match="no such table"):
            client.executescript("INSERT INTO person (name) VALUES ('kept'); INSERT INTO nope VALUES (1);")
        assert client.execute("SELECT count(*) FROM person WHERE name = 'kept'").scalar() == 1


def test_a_transaction_spans_calls_and_is_isolated_until_commit(db: Db) -> None:
    with db.client() as client, db.client() as other:
        client.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL)")
        with client.transaction() as tx:
            tx.execute("INSERT INTO account (cents) VALUES (?)", [500])
            tx.batch(["UPDATE account SET cents = cents - 100", "INSERT INTO account (cents) VALUES (100)"])
            tx.executemany("INSERT INTO account (cents) VALUES (?)", [[1], [2]])
            assert tx.execute("SELECT sum(cents) FROM account").scalar() == 503
            assert other.execute("SELECT count(*) FROM account").scalar() == 0, "not visible before COMMIT"
        assert not tx.is_open
        assert other.execute("SELECT sum(cents) FROM account").scalar() == 503

        def change_of_mind() -> None:
            with client.transaction("immediate") as tx:
                tx.execute("DELETE FROM account")
                raise RuntimeError("changed my mind")

        with pytest.raises(RuntimeError, match="changed my mind"):
            change_of_mind()
        assert other.execute("SELECT count(*) FROM account").scalar() == 4

        with client.transaction() as tx:
            with pytest.raises(LibsqlError, match="no such table"):
                tx.execute("SELECT * FROM missing")  # a failed statement keeps the transaction
            tx.execute("INSERT INTO account (cents) VALUES (7)")
        assert other.execute("SELECT count(*) FROM account").scalar() == 5
        with pytest.raises(LibsqlError, match="transaction is over"):
            tx.execute("SELECT 1")


def test_a_batch_encoded_ahead_runs_like_batch_and_names_its_failing_statement(db: Db) -> None:
    """A bulk load encodes its next request in another thread: the encoded batch must run, count
    rows and fail exactly as `batch` would."""
    ready = Transaction.encode_batch(
        [("INSERT INTO note (body) VALUES (?), (?)", ["a", "é"]), "INSERT INTO note (body) VALUES ('b')"]
    )
    broken = Transaction.encode_batch(
        ["INSERT INTO note (body) VALUES ('c')", "INSERT INTO nowhere VALUES (1)"]
    )
    with db.client() as client:
        client.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        with client.transaction() as tx:
            assert [r.rows_affected for r in tx.run_encoded(ready)] == [2, 1]
            assert tx.run_encoded(Transaction.encode_batch([])) == []
            with pytest.raises(LibsqlError, match="no such table: nowhere") as failed:
                tx.run_encoded(broken)
            assert failed.value.statement_index == 1
        bodies = client.execute("SELECT body FROM note ORDER BY id").rows
        assert list(bodies) == [("a",), ("é",), ("b",), ("c",)]


def test_a_read_only_token_reads_but_cannot_write(db: Db, turso: TursoClient) -> None:
    with db.client() as client:
        client.execute("CREATE TABLE note (body TEXT)")
        client.execute("INSERT INTO note VALUES ('hello')")
    reader_token = turso.create_database_token(db.name, authorization="read-only")
    with db.client(reader_token) as reader:
        assert reader.execute("SELECT body FROM note").rows == (("hello",),)
        for sql in ("INSERT INTO note VALUES ('no')", "CREATE TABLE other (a)", "PRAGMA user_version = 3"):
            with pytest.raises(LibsqlError) as refused:
                reader.execute(sql)
            assert (refused.value.status, refused.value.code) == (403, "FORBIDDEN")
        with pytest.raises(LibsqlError):
            reader.execute("PRAGMA query_only = OFF")
        with pytest.raises(LibsqlError) as in_batch:
            reader.batch(["SELECT 1", "DELETE FROM note"])
        assert in_batch.value.status == 403
        with reader.transaction() as tx:
            assert tx.execute("SELECT count(*) FROM note").scalar() == 1
    with db.client() as client:
        assert client.execute("SELECT count(*) FROM note").scalar() == 1


def test_wrong_or_missing_tokens_get_401_and_errors_never_show_a_token(db: Db) -> None:
    for token in ("sbxdb_wrong", ""):
        with LibsqlClient(db.url, token) as client, pytest.raises(LibsqlError) as refused:
            client.execute("SELECT 1")
        assert (refused.value.status, refused.value.code) == (
            401,
            "AUTH_JWT_INVALID" if token else "AUTH_HEADER_NOT_FOUND",
        )
        assert not token or token not in str(refused.value)
    with LibsqlClient(f"{db.url}?authToken={db.token}") as client:  # the token may come in the URL
        assert client.execute("SELECT 1").scalar() == 1
        assert db.token not in repr(client)
        assert db.token not in client.base_url


def test_tokens_can_be_rotated_expire_and_group_tokens_reach_the_groups_databases(
    turso: TursoClient, sandbox_dir: Path
) -> None:
    turso.create_group("team", "aws-eu-west-1")
    created = turso.create_database("teamdb", "team")
    assert created.primary_region == "aws-eu-west-1"
    url = f"libsql://{created.hostname}"
    group_token = turso.create_group_token("team")
    db_token = turso.create_database_token("teamdb")
    short = turso.create_database_token("teamdb", expiration="1s")
    for token in (group_token, db_token, short):
        with LibsqlClient(url, token) as client:
            assert client.execute("SELECT 1").scalar() == 1
    other = make_db(turso, sandbox_dir, "outside-team")
    with LibsqlClient(other.url, group_token) as client, pytest.raises(LibsqlError, match="not valid"):
        client.execute("SELECT 1")  # a group token is for its own group only

    time.sleep(1.2)
    with LibsqlClient(url, short) as client, pytest.raises(LibsqlError, match="expired"):
        client.execute("SELECT 1")
    turso.rotate_database_tokens("teamdb")
    with LibsqlClient(url, db_token) as client, pytest.raises(LibsqlError) as rotated:
        client.execute("SELECT 1")
    assert rotated.value.status == 401
    with LibsqlClient(url, group_token) as client:
        assert client.execute("SELECT 1").scalar() == 1
    turso.rotate_group_tokens("team")
    with LibsqlClient(url, group_token) as client, pytest.raises(LibsqlError, match="not valid"):
        client.execute("SELECT 1")

    turso.delete_group("team")
    assert not (sandbox_dir / "turso" / ORG / "teamdb.sqlite").exists(), "a group's databases go with it"


def test_a_deleted_database_answers_404_even_mid_transaction(db: Db, turso: TursoClient) -> None:
    with db.client() as client:
        client.execute("CREATE TABLE t (a)")

        def write_across_the_deletion() -> None:
            with client.transaction() as tx:
                tx.execute("INSERT INTO t VALUES (1)")
                turso.delete_database(db.name)
                tx.execute("INSERT INTO t VALUES (2)")

        with pytest.raises(LibsqlError) as gone:
            write_across_the_deletion()
        assert (gone.value.status, gone.value.code) == (404, "NAMESPACE_DOESNT_EXIST")
        assert db.name in gone.value.message
        with pytest.raises(LibsqlError) as after:
            client.execute("SELECT 1")
        assert after.value.status == 404


def test_connection_failures_are_retried_only_before_a_stream_exists() -> None:
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.content.decode())
        raise httpx.ConnectError("refused", request=request)

    transport = httpx.MockTransport(refuse)
    with LibsqlClient(
        "libsql://db-o.turso.io", "t", transport=transport, retries=2, sleep=lambda _: None
    ) as client:
        with pytest.raises(LibsqlError) as failure:
            client.execute("INSERT INTO t VALUES (1)")
        assert failure.value.code == "CONNECTION_ERROR"
        assert len(calls) == 3
        calls.clear()
        with pytest.raises(LibsqlError):
            client.pipeline([{"type": "execute", "stmt": {"sql": "COMMIT"}}], baton="b1")
        assert len(calls) == 1, "a request on an open stream is never sent twice"

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append("timeout")
        raise httpx.ReadTimeout("slow", request=request)

    calls.clear()
    with (
        LibsqlClient(
            "https://db-o.turso.io", "t", transport=httpx.MockTransport(slow), sleep=lambda _: None
        ) as client,
        pytest.raises(LibsqlError, match="did not answer in time"),
    ):
        client.execute("INSERT INTO t VALUES (1)")
    assert calls == ["timeout"], "a request that may have run is not replayed"


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("libsql://shop-acme.turso.io", "https://shop-acme.turso.io/"),
        ("libsql://shop-sandbox.turso.localhost:8443", "https://shop-sandbox.turso.localhost:8443/"),
        ("wss://shop-sandbox.turso.localhost:8443", "https://shop-sandbox.turso.localhost:8443/"),
        ("ws://127.0.0.1:8080", "http://127.0.0.1:8080/"),
        ("libsql://127.0.0.1:8080?tls=0", "http://127.0.0.1:8080/"),
        ("https://db.example.com/base/", "https://db.example.com/base/"),
        ("http://user:secret@[::1]:9000", "http://[::1]:9000/"),
    ],
)
def test_database_urls_map_to_http_base_urls(url: str, base: str) -> None:
    assert http_base_url(url)[0] == base


def test_unsupported_database_urls_say_what_to_use() -> None:
    with pytest.raises(ValueError, match="libsql://, https://"):
        http_base_url("postgres://db")


# --- the wire format ----------------------------------------------------------------------------


def test_v2_pipeline_shapes_and_errors_that_do_not_kill_the_stream(db: Db) -> None:
    first = raw(
        db,
        "v2/pipeline",
        {
            "baton": None,
            "requests": [
                stmt("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB, n INTEGER, f REAL)"),
                stmt(
                    "INSERT INTO kv VALUES (?, ?, ?, ?)",
                    {"type": "text", "value": "a"},
                    {"type": "blob", "base64": "AAEC"},
                    {"type": "integer", "value": "9007199254740993"},
                    {"type": "float", "value": 0.5},
                ),
                stmt("INSERT INTO kv VALUES ('a', NULL, NULL, NULL)"),
                {"type": "execute", "stmt": {"sql": "SELECT * FROM kv", "want_rows": True}},
            ],
        },
    )
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"baton", "base_url", "results"}
    assert isinstance(body["baton"], str)
    assert body["base_url"] is None
    created, inserted, duplicate, selected = body["results"]
    assert created == {
        "type": "ok",
        "response": {
            "type": "execute",
            "result": {"cols": [], "rows": [], "affected_row_count": 0, "last_insert_rowid": None},
        },
    }
    assert inserted["response"]["result"]["affected_row_count"] == 1
    assert inserted["response"]["result"]["last_insert_rowid"] == "1"
    assert duplicate["type"] == "error"
    assert duplicate["error"]["code"] == "SQLITE_CONSTRAINT"
    assert "UNIQUE constraint failed" in duplicate["error"]["message"]
    assert selected["response"]["result"]["cols"] == [
        {"name": "k", "decltype": "TEXT"},
        {"name": "v", "decltype": "BLOB"},
        {"name": "n", "decltype": "INTEGER"},
        {"name": "f", "decltype": "REAL"},
    ]
    assert selected["response"]["result"]["rows"] == [
        [
            {"type": "text", "value": "a"},
            {"type": "blob", "base64": "AAEC"},
            {"type": "integer", "value": "9007199254740993"},
            {"type": "float", "value": 0.5},
        ]
    ]

    # The stream outlived the failed statement: same connection, a new baton each time.
    second = raw(
        db,
        "v2/pipeline",
        {
            "baton": body["baton"],
            "requests": [
                {"type": "store_sql", "sql_id": 7, "sql": "SELECT count(*) AS n FROM kv WHERE k = :k"},
                {
                    "type": "execute",
                    "stmt": {
                        "sql_id": 7,
                        "named_args": [{"name": ":k", "value": {"type": "text", "value": "a"}}],
                    },
                },
                {"type": "describe", "sql_id": 7},
                {"type": "close_sql", "sql_id": 7},
                {"type": "sequence", "sql": "CREATE TABLE s1 (a); CREATE TABLE s2 (a);"},
                {"type": "execute", "stmt": {"sql": "SELECT 1; SELECT 2"}},
                {"type": "execute", "stmt": {"sql": "  -- nothing"}},
                {"type": "execute", "stmt": {"sql": "SELEC 1"}},
                {"type": "execute", "stmt": {"sql": "INSERT INTO kv (k) VALUES ('b')", "want_rows": False}},
                {"type": "close"},
            ],
        },
    )
    assert second.status_code == 200
    results = second.json()["results"]
    assert second.json()["baton"] is None, "close ends the stream"
    assert results[0] == {"type": "ok", "response": {"type": "store_sql"}}
    assert results[1]["response"]["result"]["rows"] == [[{"type": "integer", "value": "1"}]]
    assert results[2]["response"] == {
        "type": "describe",
        "result": {
            "params": [{"name": ":k"}],
            "cols": [{"name": "n", "decltype": None}],
            "is_explain": False,
            "is_readonly": True,
        },
    }
    assert results[3] == {"type": "ok", "response": {"type": "close_sql"}}
    assert results[4] == {"type": "ok", "response": {"type": "sequence"}}
    assert [r["error"]["code"] for r in results[5:8]] == [
        "SQL_MANY_STATEMENTS",
        "SQL_NO_STATEMENT",
        "SQL_PARSE_ERROR",
    ]
    assert results[8]["response"]["result"]["last_insert_rowid"] == "2"
    assert results[9] == {"type": "ok", "response": {"type": "close"}}

    stale = raw(db, "v2/pipeline", {"baton": body["baton"], "requests": []})
    assert stale.status_code == 400, "a baton is good for one request only"
    assert (
        raw(db, "v2/pipeline", {"baton": None, "requests": [{"type": "get_autocommit"}]}).status_code == 400
    )


def test_v3_pipeline_batch_conditions_autocommit_and_cursor(db: Db) -> None:
    begin_ok = {"type": "ok", "step": 0}
    response = raw(
        db,
        "v3/pipeline",
        {
            "baton": None,
            "requests": [
                {"type": "get_autocommit"},
                {
                    "type": "batch",
                    "batch": {
                        "steps": [
                            {"stmt": {"sql": "BEGIN"}},
                            {"stmt": {"sql": "CREATE TABLE b (a)"}, "condition": begin_ok},
                            {
                                "stmt": {"sql": "INSERT INTO nope VALUES (1)"},
                                "condition": {"type": "ok", "step": 1},
                            },
                            {"stmt": {"sql": "SELECT 'skipped'"}, "condition": {"type": "ok", "step": 2}},
                            {"stmt": {"sql": "SELECT 'ran'"}, "condition": {"type": "error", "step": 2}},
                            {
                                "stmt": {"sql": "SELECT 'and/or/not'"},
                                "condition": {
                                    "type": "and",
                                    "conds": [
                                        {"type": "or", "conds": [begin_ok, {"type": "ok", "step": 2}]},
                                        {"type": "not", "cond": {"type": "is_autocommit"}},
                                    ],
                                },
                            },
                        ]
                    },
                },
                {"type": "get_autocommit"},
                stmt("ROLLBACK"),
                {"type": "get_autocommit"},
            ],
        },
    )
    assert response.status_code == 200
    results = [r["response"] for r in response.json()["results"]]
    assert results[0] == {"type": "get_autocommit", "is_autocommit": True}
    batch = results[1]["result"]
    assert [r is not None for r in batch["step_results"]] == [True, True, False, False, True, True]
    assert [e is not None for e in batch["step_errors"]] == [False, False, True, False, False, False]
    assert batch["step_errors"][2]["code"] == "SQLITE_UNKNOWN"
    assert results[2]["is_autocommit"] is False, "the batch left its transaction open on the stream"
    assert results[4]["is_autocommit"] is True

    cursor = raw(
        db,
        "v3/cursor",
        {
            "baton": response.json()["baton"],
            "batch": {
                "steps": [
                    {"stmt": {"sql": "SELECT 1 AS one UNION SELECT 2"}},
                    {"stmt": {"sql": "SELECT * FROM nope"}},
                ]
            },
        },
    )
    lines = [line for line in cursor.text.split("\n") if line]
    entries = [json.loads(line) for line in lines]
    assert set(entries[0]) == {"baton", "base_url"}
    assert [e["type"] for e in entries[1:]] == ["step_begin", "row", "row", "step_end", "step_error"]
    assert entries[1]["cols"] == [{"name": "one", "decltype": None}]
    assert entries[2]["row"] == [{"type": "integer", "value": "1"}]

    bad_condition = raw(
        db,
        "v3/pipeline",
        {
            "baton": None,
            "requests": [
                {
                    "type": "batch",
                    "batch": {
                        "steps": [{"stmt": {"sql": "SELECT 1"}, "condition": {"type": "ok", "step": 0}}]
                    },
                }
            ],
        },
    )
    assert bad_condition.status_code == 400, "a condition may only look at earlier steps"
    unknown = raw(db, "v3/pipeline", {"baton": None, "requests": [{"type": "teleport"}]})
    assert unknown.status_code == 400
    assert "teleport" in unknown.json()["message"]


def test_probes_and_http_errors_of_the_data_plane(db: Db) -> None:
    base, _ = http_base_url(db.url)
    auth = {"Authorization": f"Bearer {db.token}"}
    with httpx.Client(base_url=base, transport=local_tls()) as http:
        assert http.get("v2").status_code == 200
        assert http.get("v3").status_code == 200
        assert http.get("v3-protobuf").status_code == 404, "JSON only: clients fall back to v3"
        assert http.post("v2/pipeline", content=b"not json", headers=auth).status_code == 400
        elsewhere = base.replace(f"//{db.name}-", "//nosuchdb-") + "v2/pipeline"
        missing = http.post(elsewhere, json={"baton": None, "requests": []}, headers=auth)
        assert missing.status_code == 404
        assert missing.json()["code"] == "NAMESPACE_DOESNT_EXIST"


def test_idle_streams_are_reaped_and_their_transactions_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONECLICK_SANDBOX_STREAM_IDLE_SECONDS", "0.5")
    directory = tmp_path / "sbx"
    endpoint = server.start(directory, port=0)
    try:
        with TursoClient(endpoint.api_token, ORG, base_url=endpoint.url) as turso:
            db = make_db(turso, directory, "idle")
        with db.client() as client:
            client.execute("CREATE TABLE t (a)")
            tx_cm = client.transaction("immediate")
            tx = tx_cm.__enter__()
            tx.execute("INSERT INTO t VALUES (1)")
            time.sleep(1.5)
            with pytest.raises(LibsqlError) as expired:
                tx.execute("INSERT INTO t VALUES (2)")
            assert (expired.value.status, expired.value.code) == (400, "STREAM_EXPIRED")
            assert client.execute("SELECT count(*) FROM t").scalar() == 0, "the transaction was rolled back"
            client.execute("INSERT INTO t VALUES (3)")  # and its write lock released
            with pytest.raises(LibsqlError):
                tx_cm.__exit__(None, None, None)
    finally:
        server.stop(directory)


def test_a_token_reaches_only_its_own_database_file(db: Db, tmp_path: Path) -> None:
    with db.client() as client:
        for sql in (f"ATTACH '{tmp_path / 'x.db'}' AS x", f"VACUUM INTO '{tmp_path / 'copy.db'}'"):
            with pytest.raises(LibsqlError) as refused:
                client.execute(sql)
            assert refused.value.code == "SQLITE_AUTH"
    assert list(tmp_path.iterdir()) == []


def test_concurrent_writers_wait_for_each_other(db: Db) -> None:
    with db.client() as client:
        client.execute("CREATE TABLE hit (worker INTEGER, n INTEGER)")

    def work(worker: int) -> None:
        with db.client() as mine:
            for n in range(10):
                mine.batch([("INSERT INTO hit VALUES (?, ?)", [worker, n]), "SELECT count(*) FROM hit"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(4)))
    with db.client() as client:
        assert client.execute("SELECT count(*) FROM hit").scalar() == 40
