"""Which bring-your-own PostgreSQL URLs the deploy service may connect to (a guard against SSRF).

A tenant's `database.url` makes a worker open a connection, so it must not reach the platform's
own network: the service accepts a URL only when

- its scheme is postgres:// or postgresql:// and it names exactly one host, over TCP (no unix
  socket: a host starting with `/` or `@`, percent-encoded or not, or no host at all);
- its query holds only the parameters in SAFE_PARAMS (plus Prisma's own, which never reach
  libpq), so `host`, `hostaddr`, `port`, `service`, `passfile`, `sslkey`, `sslcert` … are refused:
  they would redirect the connection or make libpq read the worker's files;
- its port is 1..65535 and its host resolves only to public addresses (no loopback, private,
  link-local, CGNAT 100.64/10, multicast, reserved or unspecified address, nor one of those
  embedded in IPv6: IPv4-mapped, NAT64, 6to4).

An operator may let networks through with ONECLICK_BYO_ALLOWED_NETWORKS, a comma-separated list
of CIDRs (e.g. "127.0.0.1/32,::1/128" for tests against a local server).

The API checks a spec when it is submitted (`check_service_spec` in components/byo/policy.py). The
worker checks again right before it connects and pins the connection to the address it checked
(libpq `hostaddr`), so a DNS answer that changes in between cannot send it elsewhere. The worker
knows it serves tenants by ONECLICK_BYO_POLICY=enforce, which `oneclick service worker` sets for
itself and so for the Pulumi engine and providers it starts; the CLI on an engineer's own machine
connects anywhere.

A refused address gets one answer whatever listens there, and the service never connects to it:
error texts cannot be used to scan the platform's ports.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import logging
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from core.settings import export, load_settings, settings
from dbtools.postgres_url import FIELD, PRISMA_ONLY_PARAMS, ByoError, libpq_url

log = logging.getLogger("oneclick.byo_policy")

POLICY_ENV = "ONECLICK_BYO_POLICY"
ALLOWED_NETWORKS_ENV = "ONECLICK_BYO_ALLOWED_NETWORKS"
REFUSED = "refused"  # ByoError.kind of a URL the service will not connect to

# libpq parameters that neither redirect the connection nor read a local file. `sslrootcert` is
# accepted only as "system" (the system's CA store); any other value names a file on the worker.
SAFE_PARAMS = frozenset(
    {"sslmode", "sslnegotiation", "channel_binding", "application_name", "connect_timeout", "options"}
)
SSLROOTCERT_SYSTEM = "system"
ACCEPTED = ", ".join(sorted({*SAFE_PARAMS, "sslrootcert=system"}))
HOSTNAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?"
)
RESOLVE_TIMEOUT = 5.0
EXAMPLE = "postgresql://USER:PASSWORD@HOST:5432/DATABASE"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


@dataclass(frozen=True)
class PinnedTarget:
    """A checked URL's host and port, and the public address a connection must use."""

    host: str
    port: int
    address: str

    def connect_kwargs(self) -> dict[str, Any]:
        # hostaddr makes libpq skip its own lookup of `host` (still used for TLS verification).
        return {"hostaddr": self.address, "port": self.port}


def _refused(message: str) -> ByoError:
    return ByoError(REFUSED, f"{FIELD}: {message}")


def not_public(host: str) -> ByoError:
    """The one answer for a host the service will not reach, whatever listens there."""
    return _refused(
        f"host {host!r} does not resolve to a public internet address; the deploy service connects "
        "only to public hosts (loopback, private, link-local and other internal addresses are "
        "refused): use your database's public host name"
    )


# -- addresses ----------------------------------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in net for net in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def is_public(address: IPAddress) -> bool:
    """Whether `address` is on the public internet (and so never the platform's own network)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
        if address.ipv4_mapped is not None or any(address in net for net in NAT64):
            return True  # it stands for a public IPv4 address (NAT64 is in ::/8, "reserved")
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in CGNAT
        or not address.is_global
    )


def allowed_networks(environ: dict[str, str] | None = None) -> tuple[IPNetwork, ...]:
    """The operator's allow-list (ONECLICK_BYO_ALLOWED_NETWORKS; `environ` instead of this
    process's settings in tests); a bad entry allows nothing."""
    text = (settings() if environ is None else load_settings(environ)).deploy.byo_allowed_networks
    networks: list[IPNetwork] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            log.warning(
                "%s: %r is not a network (use CIDRs like 10.0.0.0/8); ignored", ALLOWED_NETWORKS_ENV, item
            )
    return tuple(networks)


def _acceptable(address: IPAddress, allowed: tuple[IPNetwork, ...]) -> bool:
    unwrapped = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    for candidate in filter(None, (address, unwrapped)):
        if any(candidate.version == net.version and candidate in net for net in allowed):
            return True
    return is_public(address)


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """The addresses `host` resolves to; [] if it does not (or not within `timeout`)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        infos = future.result(timeout=timeout)
    except (OSError, UnicodeError, ValueError, concurrent.futures.TimeoutError):
        return []
    finally:
        pool.shutdown(wait=False)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# -- the URL ------------------------------------------------------------------------------------


def _malformed(message: str) -> ByoError:
    return _refused(f"{message}; use {EXAMPLE}")


def check_shape(url: str) -> tuple[str, int]:
    """The URL's one TCP host and port, or ByoError(REFUSED) saying what to change (no lookup)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _malformed("is not a valid URL (check the port; percent-encode special characters)") from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise _malformed("must start with postgresql://")
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in PRISMA_ONLY_PARAMS:
            continue  # removed before libpq sees the URL
        if name == "sslrootcert" and value == SSLROOTCERT_SYSTEM:
            continue
        if name not in SAFE_PARAMS:
            raise _refused(
                f"the parameter {name!r} is not accepted by the deploy service (it could redirect the "
                f"connection or read the service's files); remove it. Accepted parameters: {ACCEPTED}"
            )
    no_socket = f"the deploy service connects only over TCP to a public host: use {EXAMPLE}"
    if not parts.hostname:
        raise _refused(f"names no host (libpq would use a unix socket); {no_socket}")
    if "%" in parts.hostname:
        raise _refused(f"has a percent-encoded host (a unix socket path or an interface); {no_socket}")
    try:
        params = conninfo_to_dict(libpq_url(text))
    except (psycopg.Error, UnicodeError, ValueError):  # e.g. percent-encoded bytes that are not UTF-8
        raise _malformed("is not a PostgreSQL URL libpq can read") from None
    host = str(params.get("host") or "")
    if not host or host.startswith(("/", "@")):
        raise _refused(f"names a unix socket; {no_socket}")
    if "," in host or "," in str(params.get("port") or ""):
        raise _refused(f"names several hosts; give exactly one, as in {EXAMPLE}")
    if host.lower() != (parts.hostname or "").lower():
        # libpq and a URL parser read the host differently (e.g. an unencoded '@' in the password).
        raise _malformed("has an ambiguous host part (percent-encode '@', ':' and '/' in the password)")
    if port is None:
        port = 5432
    if not 1 <= port <= 65535:
        raise _malformed("has a port outside 1..65535")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not HOSTNAME.fullmatch(host.lower()):
            raise _malformed(f"host {host[:80]!r} is not a host name") from None
    return host, port


def check_url(
    url: str, *, allowed: tuple[IPNetwork, ...] | None = None, timeout: float = RESOLVE_TIMEOUT
) -> PinnedTarget:
    """Check `url` for the service and pick the address to connect to; raises ByoError(REFUSED)."""
    host, port = check_shape(url)
    allowed = allowed_networks() if allowed is None else allowed
    addresses = _resolve(host, port, timeout)
    if not addresses:
        raise not_public(host)
    for text in addresses:
        # Every address must pass: libpq (or a later lookup) could use any of them.
        if not _acceptable(ipaddress.ip_address(text.split("%", 1)[0]), allowed):
            raise not_public(host)
    return PinnedTarget(host, port, addresses[0])


# -- where the policy applies -------------------------------------------------------------------


def enforced() -> bool:
    """Whether this process serves tenants (set by `oneclick service worker`)."""
    return settings().deploy.byo_enforce


def enforce_in_this_process() -> None:
    """Enforce the policy here and in every process started from here (the Pulumi engine, the
    program and its providers inherit the environment)."""
    export({POLICY_ENV: "enforce"})


def connect_kwargs(url: str) -> dict[str, Any]:
    """Extra psycopg.connect arguments for a BYO URL: pinned to its checked address when enforced."""
    return check_url(url).connect_kwargs() if enforced() else {}
