"""The server side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, RFC 5929), as
PostgreSQL speaks it, for the endpoint proxy.

Written out rather than taken from `scramp`, whose server refuses the empty user name (`n=,`)
that libpq and every PostgreSQL driver send (PostgreSQL takes the user from the startup message).
The proxy knows each role's password, so it makes a fresh salt per login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import serialization

ITERATIONS = 4096
PLUS = "SCRAM-SHA-256-PLUS"
PLAIN = "SCRAM-SHA-256"


class ScramError(Exception):
    """The client's messages do not prove the password (or are malformed)."""


def _hmac(key: bytes, text: bytes) -> bytes:
    return hmac.digest(key, text, "sha256")


def _attributes(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if len(key) != 1 or not sep:
            raise ScramError(f"malformed SCRAM attribute {part[:20]!r}")
        found.setdefault(key, value)
    return found


def end_point_binding(certificate_pem: str) -> bytes:
    """tls-server-end-point data: the server certificate's hash, with the hash of its signature
    algorithm (SHA-256 in place of MD5 or SHA-1), as RFC 5929 and libpq compute it."""
    certificate = x509.load_pem_x509_certificates(certificate_pem.encode())[0]  # the server's, not the CA's
    used = certificate.signature_hash_algorithm
    algorithm = used.name if used is not None and used.name not in ("md5", "sha1") else "sha256"
    return hashlib.new(algorithm, certificate.public_bytes(serialization.Encoding.DER)).digest()


class ScramServer:
    """One login: `first(client_first) -> server_first`, then `final(client_final) -> server_final`."""

    def __init__(self, mechanism: str, password: str, binding: bytes | None, offered_plus: bool) -> None:
        if mechanism not in (PLUS, PLAIN):
            raise ScramError(f"unknown SASL mechanism {mechanism!r}")
        if mechanism == PLUS and binding is None:
            raise ScramError("SCRAM-SHA-256-PLUS needs a TLS connection")
        self.mechanism = mechanism
        self.binding = binding
        self.offered_plus = offered_plus
        self.salt = secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), self.salt, ITERATIONS)
        self.stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
        self.server_key = _hmac(salted, b"Server Key")
        self.gs2_header = ""
        self.nonce = ""
        self.client_first_bare = ""
        self.server_first = ""

    def first(self, client_first: str) -> str:
        flag, _, rest = client_first.partition(",")
        authzid, _, bare = rest.partition(",")
        if authzid:
            raise ScramError("an authorization identity is not supported")
        if self.mechanism == PLUS:
            if flag != "p=tls-server-end-point":
                raise ScramError("SCRAM-SHA-256-PLUS needs channel binding type tls-server-end-point")
        elif flag == "y" and self.offered_plus:
            raise ScramError("the client thinks the server offers no channel binding (a downgrade)")
        elif flag not in ("n", "y"):
            raise ScramError("channel binding was asked for with SCRAM-SHA-256; use SCRAM-SHA-256-PLUS")
        attributes = _attributes(bare)
        client_nonce = attributes.get("r", "")
        if "n" not in attributes or not client_nonce or "m" in attributes:
            raise ScramError("malformed SCRAM client-first message")
        self.gs2_header = f"{flag},{authzid},"
        self.client_first_bare = bare
        self.nonce = client_nonce + base64.b64encode(secrets.token_bytes(18)).decode()
        salt = base64.b64encode(self.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={ITERATIONS}"
        return self.server_first

    def final(self, client_final: str) -> str:
        without_proof, sep, proof_text = client_final.rpartition(",p=")
        if not sep:
            raise ScramError("malformed SCRAM client-final message: no proof")
        attributes = _attributes(without_proof)
        expected_binding = self.gs2_header.encode()
        if self.mechanism == PLUS and self.binding is not None:
            expected_binding += self.binding
        try:
            binding = base64.b64decode(attributes.get("c", ""), validate=True)
            proof = base64.b64decode(proof_text, validate=True)
        except ValueError:
            raise ScramError("malformed base64 in SCRAM client-final message") from None
        if not hmac.compare_digest(binding, expected_binding):
            raise ScramError("SCRAM channel binding check failed")
        if attributes.get("r") != self.nonce:
            raise ScramError("SCRAM nonce mismatch")
        message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = _hmac(self.stored_key, message)
        if len(proof) != len(signature):
            raise ScramError("malformed SCRAM proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.stored_key):
            raise ScramError("wrong password")
        return "v=" + base64.b64encode(_hmac(self.server_key, message)).decode()
