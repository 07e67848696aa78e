"""The Neon endpoint proxy against a real PostgreSQL server, plain and over TLS.

The proxy maps the Neon names a client logs in with to physical ones, checks the password with
SCRAM (SCRAM-SHA-256-PLUS over TLS, so `channel_binding=require` works) and relays the session.
Here it runs on its own, with a certificate made for the test, in front of a role made for it.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from automation.localpg import LocalPostgres
from sandbox.neon.pg import SandboxPostgres
from sandbox.neon.proxy import EndpointProxy, Login, Refusal, Tls
from sandbox.neon.scram import ScramError, ScramServer

PASSWORD = "npg_proxytest123"


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA384())  # not SHA-256: the channel binding must hash with the signature's hash
    )
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def physical(local_postgres: LocalPostgres) -> Iterator[tuple[str, str]]:
    """A role and database on the server, as the control plane would make them."""
    pg = SandboxPostgres(local_postgres.url)
    role, database = f"owner_{uuid.uuid4().hex[:8]}", f"db_{uuid.uuid4().hex[:8]}"
    pg.create_role(role, PASSWORD)
    pg.create_database(database, role, [role])
    yield role, database
    pg.drop_database(database)
    pg.drop_role(role)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("proxy-tls"))


@pytest.fixture
def proxy(
    local_postgres: LocalPostgres, physical: tuple[str, str], certificate: tuple[Path, Path]
) -> Iterator[EndpointProxy]:
    role, database = physical
    cert_file, key_file = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    def resolve(endpoint_id: str, user: str, name: str) -> Login:
        if endpoint_id != "ep-test" or user != "neondb_owner":
            raise Refusal("28P01", f'password authentication failed for user "{user}"')
        return Login(role, PASSWORD, database if name == "neondb" else None)

    pg = SandboxPostgres(local_postgres.url)
    endpoint_proxy = EndpointProxy(resolve, (pg.host, pg.port), tls=Tls(context, cert_file.read_text()))
    yield endpoint_proxy
    endpoint_proxy.stop()


def uri(port: int, query: str = "", user: str = "neondb_owner", password: str = PASSWORD) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{port}/neondb{query}"


def test_neon_names_log_in_as_the_physical_role_and_database(
    proxy: EndpointProxy, physical: tuple[str, str]
) -> None:
    port = proxy.listen("ep-test")
    with psycopg.connect(uri(port, "?sslmode=disable"), connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == physical
        conn.execute("CREATE TEMP TABLE t AS SELECT generate_series(1, 50000) AS n")
        total = conn.execute("SELECT sum(n) FROM t").fetchone()
        assert total == (sum(range(1, 50001)),), "a large result crosses the relay intact"


@pytest.mark.parametrize("binding", ["require", "disable", "prefer"])
def test_tls_with_channel_binding_as_neon_strings_ask(
    proxy: EndpointProxy, physical: tuple[str, str], certificate: tuple[Path, Path], binding: str
) -> None:
    port = proxy.listen("ep-test")
    query = f"?sslmode=verify-full&sslrootcert={certificate[0]}&channel_binding={binding}"
    with psycopg.connect(uri(port, query), connect_timeout=5) as conn:
        assert conn.info.pgconn.ssl_in_use
        assert conn.execute("SELECT current_user, current_database()").fetchone() == physical


@pytest.mark.parametrize("query", ["?sslmode=disable", "?sslmode=require&channel_binding=require"])
def test_refusals_say_what_postgresql_would(proxy: EndpointProxy, query: str) -> None:
    port = proxy.listen("ep-test")
    with pytest.raises(
        psycopg.OperationalError, match='password authentication failed for user "neondb_owner"'
    ):
        psycopg.connect(uri(port, query, password="wrong"), connect_timeout=5)
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "nobody"'):
        psycopg.connect(uri(port, query, user="nobody"), connect_timeout=5)
    missing = uri(port, query).replace("/neondb?", "/other?")
    with pytest.raises(psycopg.OperationalError, match='database "other" does not exist'):
        psycopg.connect(missing, connect_timeout=5)


def test_a_port_per_endpoint_reused_after_a_restart_and_closed_on_delete(proxy: EndpointProxy) -> None:
    port = proxy.listen("ep-test")
    assert proxy.listen("ep-test", port) == port, "listening again on its port is a no-op"
    proxy.stop()
    assert proxy.listen("ep-test", port) == port, "a restarted proxy takes the same port back"
    other = proxy.listen("ep-other")
    assert other != port
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(uri(other, "?sslmode=disable"), connect_timeout=5)
    proxy.close("ep-test")
    with pytest.raises(psycopg.OperationalError, match="refused"):
        psycopg.connect(uri(port, "?sslmode=disable"), connect_timeout=5)


def test_cancel_reaches_the_backend(proxy: EndpointProxy) -> None:
    port = proxy.listen("ep-test")
    with psycopg.connect(uri(port, "?sslmode=disable"), connect_timeout=5) as conn:
        conn.execute("SET statement_timeout = '20s'")
        timer = threading.Timer(0.5, conn.cancel_safe)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(10)")
        timer.join()


def test_scram_server_refuses_a_downgrade_and_a_forged_binding() -> None:
    server = ScramServer("SCRAM-SHA-256", PASSWORD, b"x" * 32, offered_plus=True)
    with pytest.raises(ScramError, match="downgrade"):
        server.first("y,,n=,r=abcdefghijklmnop")
    plus = ScramServer("SCRAM-SHA-256-PLUS", PASSWORD, b"x" * 32, offered_plus=True)
    plus.first("p=tls-server-end-point,,n=,r=abcdefghijklmnop")
    with pytest.raises(ScramError, match="channel binding"):
        plus.final(f"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsAAAA,r={plus.nonce},p=AAAA")


def test_an_app_run_without_its_lifespan_still_serves_the_endpoints_it_hands_out(
    tmp_path: Path, local_postgres: LocalPostgres
) -> None:
    from fastapi.testclient import TestClient

    from sandbox.app import create_app

    api = TestClient(create_app(tmp_path / "sbx", postgres_url=local_postgres.url))  # no `with`: no lifespan
    token = (tmp_path / "sbx" / "api-token").read_text().strip()
    created = api.post(
        "/api/v2/projects",
        json={"project": {"name": "embedded"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    uri = created.json()["connection_uris"][0]["connection_uri"]
    with psycopg.connect(uri, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    project_id = created.json()["project"]["id"]
    assert (
        api.delete(f"/api/v2/projects/{project_id}", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
