"""The local CA and the sandbox's TLS port: what libsql:// URLs (and wss://, https://) connect to."""

from __future__ import annotations

import datetime
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from core import certificates
from core.localca import SERVER_NAMES, LocalCA
from libsql.client import LibsqlClient, LibsqlError
from sandbox import server
from sandbox.endpoint import SandboxEndpoint


def names_of(cert: x509.Certificate) -> set[str]:
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(alt.get_values_for_type(x509.DNSName))


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_ca_is_made_once_with_private_keys_only_the_owner_reads(tmp_path: Path) -> None:
    ca = certificates.ensure(LocalCA(tmp_path / "ca"))
    first = {path.name: path.read_bytes() for path in ca.directory.iterdir()}
    certificates.ensure(ca)
    assert {path.name: path.read_bytes() for path in ca.directory.iterdir()} == first, "idempotent"
    assert ca.key_file.stat().st_mode & 0o777 == 0o600
    assert ca.server_key_file.stat().st_mode & 0o777 == 0o600
    root, server_cert = load(ca.cert_file), load(ca.server_cert_file)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    server_cert.verify_directly_issued_by(root)
    assert names_of(server_cert) == set(SERVER_NAMES)
    alt = server_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in alt.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    # The server file carries its chain, so servers that read one file present both certificates.
    assert ca.server_cert_file.read_bytes().count(b"BEGIN CERTIFICATE") == 2


def test_a_stale_server_certificate_is_renewed_under_the_same_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = certificates.ensure(LocalCA(tmp_path / "ca"))
    root = ca.cert_file.read_bytes()
    ca_key, ca_cert = certificates.load_ca(ca)
    chain, key = certificates.issue(ca_key, ca_cert, SERVER_NAMES, ["127.0.0.1", "::1"], days=2)
    certificates.write_file(ca.server_cert_file, chain, 0o644)
    certificates.write_file(ca.server_key_file, key, 0o600)
    certificates.ensure(ca)
    renewed = load(ca.server_cert_file)
    assert renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=300)
    assert ca.cert_file.read_bytes() == root, "clients keep trusting the same CA"

    monkeypatch.setattr(certificates, "SERVER_NAMES", (*SERVER_NAMES, "*.extra.localhost"))
    certificates.ensure(ca)
    assert "*.extra.localhost" in names_of(load(ca.server_cert_file))


def test_clients_are_told_how_to_get_a_missing_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONECLICK_CA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="oneclick sandbox start"):
        LocalCA.default().trust_context()
    with pytest.raises(LibsqlError, match="scripts/setup") as missing:
        LibsqlClient("libsql://db-org.turso.localhost:8443", "token")
    assert missing.value.code == "TLS_CA_MISSING"
    LibsqlClient("libsql://db-org.turso.localhost:8787?tls=0", "token").close()  # plain HTTP needs no CA


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEndpoint]:
    directory = tmp_path_factory.mktemp("tls") / "sbx"
    yield server.start(directory, port=0)
    server.stop(directory)


def handshake(endpoint: SandboxEndpoint, name: str, context: ssl.SSLContext) -> x509.Certificate:
    with (
        socket.create_connection(("127.0.0.1", endpoint.tls_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_the_tls_port_presents_a_certificate_for_every_localhost_name(sandbox: SandboxEndpoint) -> None:
    trust = LocalCA.default().trust_context()
    assert "*.turso.localhost" in names_of(handshake(sandbox, "shop-acme.turso.localhost", trust))
    # Two labels under pages.localhost: no wildcard covers it, so the sandbox signs that exact name.
    deep = handshake(sandbox, "ab12cd34.shop.pages.localhost", trust)
    assert names_of(deep) == {"ab12cd34.shop.pages.localhost"}
    deep.verify_directly_issued_by(load(Path(sandbox.ca_file)))
    assert handshake(sandbox, "ab12cd34.shop.pages.localhost", trust).serial_number == deep.serial_number
    # A name outside .localhost gets the default certificate, which does not name it.
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(sandbox, "shop.example.com", trust)
    # Without the local CA nothing verifies: the URL is real TLS, not a plain port with a TLS name.
    with pytest.raises(ssl.SSLCertVerificationError, match="self-signed certificate in certificate chain"):
        handshake(sandbox, "shop-acme.turso.localhost", ssl.create_default_context())
