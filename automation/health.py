"""The last step of every deploy: is the site up and does the database answer?

A GET of the deployed URL must return 2xx, and one round trip to the database must succeed. An app
with a server half is also asked itself: its health path (e.g. /api/health) queries the database
through the app's own code (Prisma), which proves the deployed app reaches its database; what it
answered, its status and its latency are reported. All are retried briefly (a fresh deployment,
worker or database can take a moment); the outcome names what failed and how, never a credential.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import psycopg

from core.localhost import LoopbackTransport
from dbtools.executors import PostgresExecutor
from libsql.client import LibsqlClient

ANSWER_CHARS = 200  # of the app's health answer shown in the report


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    checks: dict[str, str]  # check name -> "ok" or what went wrong
    details: dict[str, str] = field(default_factory=dict)  # check name -> what was seen when ok

    @property
    def summary(self) -> str:
        return "; ".join(
            f"{name}: {result} ({self.details[name]})"
            if result == "ok" and name in self.details
            else f"{name}: {result}"
            for name, result in self.checks.items()
        )


@dataclass(frozen=True)
class AppAnswer:
    """What the app's health path answered: "ok" or the problem, and what was seen either way."""

    result: str
    seen: str


def _shown_answer(body: bytes, secrets: list[str]) -> str:
    """The app's answer as one short line: compact JSON when it is JSON; secrets masked."""
    text = body.decode("utf-8", "replace")
    try:
        text = json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)
    except ValueError:
        text = " ".join(text.split())
    for secret in secrets:
        text = text.replace(secret, "[secret]")
    return text if len(text) <= ANSWER_CHARS else text[: ANSWER_CHARS - 1] + "…"


def check_app(url: str, path: str, secrets: list[str], timeout: float = 10.0) -> AppAnswer:
    """GET the app's health path; 2xx is healthy. Reports status, latency and the answer."""
    target = url.rstrip("/") + path
    started = time.perf_counter()
    try:
        with httpx.Client(transport=LoopbackTransport(), timeout=timeout, follow_redirects=True) as http:
            response = http.get(target, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        return AppAnswer(f"GET {path} failed: {type(exc).__name__}", "")
    millis = (time.perf_counter() - started) * 1000
    answer = _shown_answer(response.content, secrets)
    seen = f"GET {path} → {response.status_code} in {millis:.0f} ms: {answer}"
    return AppAnswer("ok" if response.is_success else seen, seen)


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
    app_health_path: str | None = None,
    attempts: int = 10,
    delay: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthReport:
    """Check the site, the app's own health path (when it has one) and the database, retrying the
    failing ones up to `attempts` times (`delay` apart: a fresh worker starts in well under that)."""
    checks: dict[str, str] = {}
    details: dict[str, str] = {}
    secrets = [s for s in (database_auth_token, urlsplit(database_url).password) if s]
    for attempt in range(attempts):
        if site_url is not None and checks.get("site") != "ok":
            checks["site"] = check_site(site_url)
        if site_url is not None and app_health_path is not None and checks.get("app") != "ok":
            answer = check_app(site_url, app_health_path, secrets)
            checks["app"] = answer.result
            details["app"] = answer.seen
        if checks.get("database") != "ok":
            checks["database"] = check_database(database_provider, database_url, database_auth_token)
        if all(result == "ok" for result in checks.values()):
            return HealthReport(True, checks, details)
        if attempt < attempts - 1:
            sleep(delay)
    return HealthReport(False, checks, details)
