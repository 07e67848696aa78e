"""The last step of every deploy: is the site up and does the database answer?

A GET of the deployed URL must return 2xx, and one round trip to the database must succeed.
Both are retried briefly (a fresh deployment or database can take a moment); the outcome names
what failed and how, never a credential.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import psycopg

from core.localhost import LoopbackTransport
from dbtools.executors import PostgresExecutor
from libsql.client import LibsqlClient


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    checks: dict[str, str]  # check name -> "ok" or what went wrong

    @property
    def summary(self) -> str:
        return "; ".join(f"{name}: {result}" for name, result in self.checks.items())


def check_site(url: str, timeout: float = 5.0) -> str:
    try:
        with httpx.Client(transport=LoopbackTransport(), timeout=timeout, follow_redirects=True) as http:
            response = http.get(url)
    except httpx.HTTPError as exc:
        return f"GET {url} failed: {type(exc).__name__}"
    if response.is_success:
        return "ok"
    return f"GET {url} returned {response.status_code}"


def check_database(provider: str, url: str, auth_token: str | None) -> str:
    try:
        if provider == "turso":
            with LibsqlClient(url, auth_token or "") as client:
                client.execute("select 1")
        elif provider == "byo":
            # A tenant's own server: in the deploy service, its network policy and pinning apply.
            executor = PostgresExecutor.connect(url, connect_timeout=5, byo=True)
            try:
                executor.query("select 1")
            finally:
                executor.close()
        else:
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("select 1")
    except Exception as exc:  # any failure is a health finding
        text = (str(exc).splitlines() or [""])[0][:300]
        for secret in filter(None, (auth_token, urlsplit(url).password)):
            text = text.replace(secret, "[secret]")
        return f"database round trip failed: {type(exc).__name__}: {text}"
    return "ok"


def check_health(
    *,
    site_url: str | None,
    database_provider: str,
    database_url: str,
    database_auth_token: str | None,
    attempts: int = 5,
    delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthReport:
    checks: dict[str, str] = {}
    for attempt in range(attempts):
        if site_url is not None and checks.get("site") != "ok":
            checks["site"] = check_site(site_url)
        if checks.get("database") != "ok":
            checks["database"] = check_database(database_provider, database_url, database_auth_token)
        if all(result == "ok" for result in checks.values()):
            return HealthReport(True, checks)
        if attempt < attempts - 1:
            sleep(delay)
    return HealthReport(False, checks)
