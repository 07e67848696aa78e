"""Making the local CA and the certificates it signs (with `cryptography`); see core/localca.py.

Keys are ECDSA P-256: every client we test (OpenSSL, Node, rustls, libpq) accepts them, and making
one takes a millisecond, so the sandbox can sign a certificate for a host name when a client asks.
Private keys are written 0600 and atomically, under a lock, so processes starting together
(test workers, set-up and the sandbox) never see half a file or make two CAs.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.localca import SERVER_ADDRESSES, SERVER_NAMES, LocalCA

CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def write_file(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    os.chmod(tmp, mode)  # O_CREAT's mode is filtered by the umask
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA signs certificates; a server signs its (EC)DHE handshakes."""
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=ca,
        crl_sign=ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        encipher_only=False,
        decipher_only=False,
    )


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _new_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "oneclick local development"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"oneclick local CA ({os.uname().nodename})"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def load_ca(ca: LocalCA) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = serialization.load_pem_private_key(ca.key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca.key_file} is not an EC key; delete {ca.directory} to make a new CA")
    return key, x509.load_pem_x509_certificate(ca.cert_file.read_bytes())


def issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    names: Sequence[str],
    addresses: Sequence[str] = (),
    days: int = SERVER_DAYS,
) -> tuple[bytes, bytes]:
    """A server certificate for `names` and IP `addresses`, as (certificate + CA chain PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (names or ["localhost"])[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    return chain, _key_pem(key)


def _server_is_current(ca: LocalCA, ca_cert: x509.Certificate) -> bool:
    """The server certificate exists, was signed by this CA, covers today's names and is not expiring."""
    try:
        cert = x509.load_pem_x509_certificate(ca.server_cert_file.read_bytes())
    except (OSError, ValueError):
        return False
    if not ca.server_key_file.is_file() or cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(alt.get_values_for_type(x509.DNSName))
    addresses = {str(a) for a in alt.get_values_for_type(x509.IPAddress)}
    fresh = cert.not_valid_after_utc - _now() > RENEW_BEFORE
    return fresh and names == set(SERVER_NAMES) and addresses == set(SERVER_ADDRESSES)


def ensure(ca: LocalCA | None = None) -> LocalCA:
    """Make what is missing or stale: the CA (once: clients trust it), then the server certificate.
    Idempotent; returns the CA (`LocalCA.default()` unless given)."""
    ca = ca or LocalCA.default()
    with _locked(ca.directory):
        ca.directory.chmod(0o755)  # the local PostgreSQL (its own user) reads the server files' copies
        if ca.cert_file.is_file() and ca.key_file.is_file():
            ca_key, ca_cert = load_ca(ca)
        else:
            ca_key, ca_cert = _new_ca()
            write_file(ca.key_file, _key_pem(ca_key), 0o600)
            write_file(ca.cert_file, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
            ca.server_cert_file.unlink(missing_ok=True)
        if not _server_is_current(ca, ca_cert):
            chain, key = issue(ca_key, ca_cert, SERVER_NAMES, SERVER_ADDRESSES)
            write_file(ca.server_key_file, key, 0o600)
            write_file(ca.server_cert_file, chain, 0o644)
    return ca
