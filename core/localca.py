"""The local certificate authority: where it lives, and TLS contexts that trust it (standard library only).

The sandbox's data planes and the local PostgreSQL serve TLS with certificates this CA signs, so the
URLs they hand out (`libsql://…`, `sslmode=verify-full`) work unchanged with the vendors' own
clients, which only need to be told to trust one file:

    NODE_EXTRA_CA_CERTS=.state/ca/ca.crt      Node (@libsql/client, Prisma's adapter, neonctl)
    PGSSLROOTCERT=.state/ca/ca.crt            libpq, psycopg, psql (or `sslrootcert=` in the URL)
    SSL_CERT_FILE=.state/ca/ca.crt            OpenSSL-based tools and rustls' native-roots loaders

`core.certificates.ensure()` makes the CA (ECDSA P-256, private key mode 0600) and one server
certificate on first use; it needs the `cryptography` package, which only the sandbox, service and
test tools install. Reading the CA (`trust_context`) needs nothing beyond ssl.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from core.settings import settings

# Names the server certificate covers. Node and OpenSSL refuse a wildcard directly under a single
# label (`*.localhost`), so each sandbox domain has its own; other `*.localhost` names get an exact
# certificate from the sandbox when a client asks for them (SNI), see sandbox/tls.py.
SERVER_NAMES = ("localhost", "*.turso.localhost", "*.pages.localhost", "*.neon.localhost")
SERVER_ADDRESSES = ("127.0.0.1", "::1")


def ca_dir() -> Path:
    """$ONECLICK_CA_DIR, else `<state root>/ca` (the state root: $ONECLICK_STATE_DIR, else .state)."""
    return settings().paths.ca_dir


@dataclass(frozen=True)
class LocalCA:
    directory: Path

    @staticmethod
    def default() -> LocalCA:
        return LocalCA(ca_dir())

    @property
    def cert_file(self) -> Path:
        """The CA certificate: the one file clients are told to trust."""
        return self.directory / "ca.crt"

    @property
    def key_file(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert_file(self) -> Path:
        """The server certificate (SERVER_NAMES and SERVER_ADDRESSES), followed by the CA certificate."""
        return self.directory / "server.crt"

    @property
    def server_key_file(self) -> Path:
        return self.directory / "server.key"

    @property
    def exists(self) -> bool:
        return self.cert_file.is_file()

    def trust_context(self) -> ssl.SSLContext:
        """A client context that verifies servers against this CA only (for `*.localhost` hosts)."""
        if not self.exists:
            raise FileNotFoundError(
                f"the local CA certificate {self.cert_file} does not exist: start the sandbox "
                f"(`oneclick sandbox start`) or run ./scripts/setup, which create it"
            )
        return ssl.create_default_context(cafile=str(self.cert_file))
