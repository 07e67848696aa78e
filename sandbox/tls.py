"""The sandbox's TLS: the local CA's server certificate, and an exact one for any other `*.localhost` name.

The server certificate covers `localhost`, `*.turso.localhost`, `*.pages.localhost`, `*.neon.localhost`
and 127.0.0.1. Names deeper than one label under those (`<deployment>.<project>.pages.localhost`)
cannot be covered by a wildcard, so when a client names such a host in its TLS hello (SNI) the
sandbox signs a certificate for exactly that name with the local CA and keeps it for next time.
"""

from __future__ import annotations

import re
import ssl
import threading
from pathlib import Path

from core import certificates
from core.localca import SERVER_NAMES, LocalCA

# What a DNS name under .localhost may look like; anything else keeps the default certificate.
LOCALHOST_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}localhost$")
MAX_NAMES = 512  # SNI is the client's to choose: bound how many certificates it can make us keep


class ServerCertificates:
    """A server SSLContext whose SNI callback switches to a certificate made for the requested name."""

    def __init__(self, ca: LocalCA, workdir: Path) -> None:
        self.ca = certificates.ensure(ca)
        self.workdir = workdir
        self._lock = threading.Lock()
        self._by_name: dict[str, ssl.SSLContext] = {}
        self.context = self._server_context(ca.server_cert_file, ca.server_key_file)
        self.context.sni_callback = self._on_server_name

    @staticmethod
    def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(cert), str(key))
        context.set_alpn_protocols(["http/1.1"])  # uvicorn speaks HTTP/1.1 only
        return context

    def _covered(self, name: str) -> bool:
        first, _, rest = name.partition(".")
        return name == "localhost" or (bool(first) and f"*.{rest}" in SERVER_NAMES)

    def context_for(self, name: str) -> ssl.SSLContext | None:
        """The context for `name`, made on first use; None when the default certificate serves it."""
        name = name.lower().rstrip(".")
        if self._covered(name) or not LOCALHOST_NAME.match(name):
            return None
        with self._lock:
            found = self._by_name.get(name)
            if found is not None:
                return found
            if len(self._by_name) >= MAX_NAMES:
                return None
            ca_key, ca_cert = certificates.load_ca(self.ca)
            chain, key = certificates.issue(ca_key, ca_cert, [name])
            self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
            cert_path, key_path = self.workdir / f"{name}.crt", self.workdir / f"{name}.key"
            certificates.write_file(key_path, key, 0o600)
            certificates.write_file(cert_path, chain, 0o644)
            context = self._server_context(cert_path, key_path)
            self._by_name[name] = context
            return context

    def _on_server_name(
        self, connection: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext
    ) -> None:
        if name:
            context = self.context_for(name)
            if context is not None:
                connection.context = context
