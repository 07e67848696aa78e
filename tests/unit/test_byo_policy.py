"""The deploy service's policy for bring-your-own PostgreSQL URLs (dbtools/byo_policy.py)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from automation.localpg import LocalPostgres
from components.byo.policy import check_service_spec
from components.errors import SpecError
from components.spec import AppSpec
from dbtools import byo_policy
from dbtools.byo_policy import (
    ALLOWED_NETWORKS_ENV,
    POLICY_ENV,
    REFUSED,
    allowed_networks,
    check_shape,
    check_url,
    is_public,
)
from dbtools.executors import PostgresExecutor
from dbtools.postgres_url import ByoError

PUBLIC = "postgresql://u:pw@8.8.8.8:5432/app"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # CGNAT
        ("0.0.0.0", False),  # noqa: S104 (an address to classify, not to bind)
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
    ],
)
def test_only_public_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://u:pw@8.8.8.8/app", "postgresql://"),
        ("postgresql:///app", "no host"),
        ("postgresql://u:pw@/app?host=/var/run/postgresql", "'host'"),
        ("postgresql://u:pw@%2Fvar%2Frun%2Fpostgresql/app", "percent-encoded host"),
        ("postgresql://u:pw@%40abstract/app", "percent-encoded host"),
        ("postgresql://u:pw@[fe80::1%25eth0]/app", "percent-encoded host"),
        (PUBLIC + "?host=127.0.0.1", "'host'"),
        (PUBLIC + "?hostaddr=127.0.0.1", "'hostaddr'"),
        (PUBLIC + "?port=54329", "'port'"),
        (PUBLIC + "?service=platform", "'service'"),
        (PUBLIC + "?passfile=/root/.pgpass", "'passfile'"),
        (PUBLIC + "?sslkey=/proc/self/environ", "'sslkey'"),
        (PUBLIC + "?sslcert=/etc/passwd", "'sslcert'"),
        (PUBLIC + "?sslrootcert=/etc/shadow", "'sslrootcert'"),
        (PUBLIC + "?gssencmode=require", "'gssencmode'"),
        (PUBLIC + "?dbname=postgres", "'dbname'"),
        (PUBLIC + "?%68ost=/tmp", "'host'"),
        ("postgresql://u:pw@8.8.8.8,127.0.0.1/app", "several hosts"),
        ("postgresql://u:pw@8.8.8.8:5432,127.0.0.1:5432/app", "valid URL"),
        ("postgresql://u:pw@evil.example@127.0.0.1/app", "ambiguous host"),
        ("postgresql://u:pw@8.8.8.8:0/app", "1..65535"),
        ("postgresql://u:pw@8.8.8.8:70000/app", "valid URL"),
        ("postgresql://u:pw@" + "a" * 300 + "/app", "not a host name"),
        ("postgresql://u:pw@bad_host!/app", "not a host name"),
        ("postgresql://u:pw@db.example.com/app%9b", "libpq can read"),  # not UTF-8
        ("postgresql://\udcff:pw@db.example.com/app", "libpq can read"),  # a lone surrogate (JSON allows it)
    ],
)
def test_sockets_overrides_and_odd_shapes_are_refused_before_any_lookup(
    url: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _no_lookup)
    with pytest.raises(ByoError) as refused:
        check_url(url)
    assert refused.value.kind == REFUSED
    message = str(refused.value)
    assert message.startswith("database.url: "), message
    assert words in message, message
    assert "pw" not in message.replace("postgresql://USER:PASSWORD", "")


def _no_lookup(*_: Any, **__: Any) -> Any:
    raise AssertionError("a refused shape must not be looked up")


def test_safe_parameters_and_prismas_own_pass() -> None:
    url = (
        PUBLIC + "?sslmode=verify-full&sslrootcert=system&channel_binding=require&application_name=shop"
        "&connect_timeout=5&options=-c%20statement_timeout%3D5000&schema=shop&connection_limit=3"
    )
    target = check_url(url)
    assert (target.host, target.port, target.address) == ("8.8.8.8", 5432, "8.8.8.8")
    assert check_shape("postgres://u:pw@db.example.com/app") == ("db.example.com", 5432)


def resolver(table: dict[str, list[str]]) -> Callable[..., list[Any]]:
    def getaddrinfo(host: str, port: int, *_: Any, **__: Any) -> list[Any]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in table[host]
        ]

    return getaddrinfo


def test_a_name_must_resolve_and_only_to_public_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOWED_NETWORKS_ENV, raising=False)
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        resolver(
            {
                "db.example.com": ["8.8.4.4", "10.0.0.7"],  # one internal address is enough to refuse
                "public.example.com": ["1.1.1.1", "2606:4700:4700::1111"],
                "metadata.example.com": ["169.254.169.254"],
            }
        ),
    )
    assert check_url("postgresql://u:pw@public.example.com:6543/app").connect_kwargs() == {
        "hostaddr": "1.1.1.1",
        "port": 6543,
    }
    answers = set()
    for host in ("db.example.com", "metadata.example.com", "nowhere.example.com", "127.0.0.1"):
        with pytest.raises(ByoError) as refused:
            check_url(f"postgresql://u:pw@{host}/app")
        answers.add(str(refused.value).replace(host, "HOST"))
    assert len(answers) == 1, answers  # one answer: no oracle for internal names


def test_the_operators_allow_list_lets_networks_through(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://u:pw@127.0.0.1:5432/app"
    with pytest.raises(ByoError):
        check_url(url, allowed=())
    assert check_url(url, allowed=allowed_networks({ALLOWED_NETWORKS_ENV: "10.0.0.0/8, 127.0.0.1/32"}))
    # A bad entry allows nothing (and does not stop the good ones).
    networks = allowed_networks({ALLOWED_NETWORKS_ENV: "not-a-network,::1/128"})
    assert networks == (ipaddress.ip_network("::1/128"),)
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "127.0.0.0/8")
    assert check_url(url).address == "127.0.0.1"
    # Sockets and overrides stay refused whatever the allow-list says.
    with pytest.raises(ByoError):
        check_url(url + "?host=/tmp")


def test_the_api_check_names_the_field() -> None:
    spec = AppSpec.parse(
        {"id": "ssrf-app", "database": {"provider": "byo", "url": "postgresql://u:pw@10.0.0.1/app"}}
    )
    with pytest.raises(SpecError) as refused:
        check_service_spec(spec)
    [(field, message)] = refused.value.problems
    assert field == "database.url"
    assert "public" in message
    check_service_spec(AppSpec.parse({"id": "turso-app", "database": {"provider": "turso"}}))


# -- connecting ----------------------------------------------------------------------------------


@pytest.fixture
def enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's setting, with the local PostgreSQL on the operator's allow-list."""
    monkeypatch.setenv(POLICY_ENV, "enforce")
    monkeypatch.setenv(ALLOWED_NETWORKS_ENV, "127.0.0.1/32")


def test_the_cli_connects_anywhere_and_the_service_only_where_allowed(
    local_postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(POLICY_ENV, "")  # restored (or removed) afterwards, whatever the test sets
    assert not byo_policy.enforced()
    PostgresExecutor.connect(local_postgres.url, byo=True).close()  # an engineer's own machine
    byo_policy.enforce_in_this_process()
    assert byo_policy.enforced()
    monkeypatch.delenv(ALLOWED_NETWORKS_ENV, raising=False)
    with pytest.raises(ByoError) as refused:
        PostgresExecutor.connect(local_postgres.url, byo=True)
    assert refused.value.kind == REFUSED
    PostgresExecutor.connect(local_postgres.url).close()  # not a tenant's URL (e.g. the sandbox's Neon)


def test_the_connection_goes_to_the_address_that_was_checked(
    local_postgres: LocalPostgres, enforced: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers an allowed address to the check and another one (where
    nothing listens) to every later lookup; pinned, the connection never looks again."""
    answers = iter([["127.0.0.1"]])

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        table = {"db.rebind.test": next(answers, ["127.0.0.2"])}
        return resolver(table)(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = local_postgres.url.replace("@127.0.0.1:", "@db.rebind.test:")
    executor = PostgresExecutor.connect(url, byo=True)
    try:
        assert executor.query("SELECT inet_server_addr()::text") == [("127.0.0.1/32",)]
    finally:
        executor.close()


@contextlib.contextmanager
def banner_server(banner: bytes) -> Iterator[int]:
    """A service other than PostgreSQL (as SSH does: a banner, then it hangs up); yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(banner)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_unreachable_servers_all_get_the_same_answer_in_the_service(
    local_postgres: LocalPostgres, enforced: None
) -> None:
    """No port scanning from the worker: a closed port and a port where another service answers
    fail with one text, and libpq's own (which would show the banner) is never shown."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    answers = set()
    with banner_server(b"SSH-2.0-OpenSSH_9.6\r\n") as talking:
        for port in (closed, talking):
            url = f"postgresql://u:pw-9@127.0.0.1:{port}/app"
            with pytest.raises(ByoError) as failed:
                PostgresExecutor.connect(url, connect_timeout=3, byo=True)
            answers.add(str(failed.value).replace(str(port), "PORT"))
    assert len(answers) == 1, answers
    [answer] = answers
    assert "refused" not in answer
    assert "SSH" not in answer
    assert "pw-9" not in answer
