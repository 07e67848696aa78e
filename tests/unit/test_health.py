import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from automation.health import check_app, check_health, check_site
from automation.localpg import LocalPostgres


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/" else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_healthy_site_and_database_pass(site: str, local_postgres: LocalPostgres) -> None:
    report = check_health(
        site_url=site + "/",
        database_provider="neon",
        database_url=local_postgres.url,
        database_auth_token=None,
    )
    assert report.healthy, report.summary


def test_a_failing_site_is_reported_with_its_status(site: str, local_postgres: LocalPostgres) -> None:
    report = check_health(
        site_url=site + "/broken",
        database_provider="byo",
        database_url=local_postgres.url,
        database_auth_token=None,
        attempts=2,
        sleep=lambda _: None,
    )
    assert not report.healthy
    assert report.checks["site"] == f"GET {site}/broken returned 503"
    assert report.checks["database"] == "ok"


def test_a_database_failure_never_shows_the_password(local_postgres: LocalPostgres) -> None:
    url = f"postgresql://nobody:hunter2-secret@127.0.0.1:{local_postgres.port}/postgres"
    report = check_health(
        site_url=None, database_provider="byo", database_url=url, database_auth_token=None, attempts=1
    )
    assert not report.healthy
    assert "round trip failed" in report.checks["database"]
    assert "hunter2-secret" not in report.summary


def test_an_unreachable_site_is_a_finding_not_a_crash() -> None:
    assert check_site("http://127.0.0.1:9/", timeout=1).startswith("GET http://127.0.0.1:9/ failed")


class _App(BaseHTTPRequestHandler):
    """An app whose health path fails while its worker starts, then answers from the database."""

    calls = 0

    def do_GET(self) -> None:
        if self.path == "/api/health":
            _App.calls += 1
            starting = _App.calls < 3
            status, body = (
                (503, b"worker starting") if starting else (200, b'{"status": "ok", "database": "turso"}')
            )
        elif self.path == "/api/broken":
            status, body = 500, b'{"error": "no such table: Product", "token": "tok-s3cret"}'
        else:
            status, body = 200, b"<h1>shop</h1>"
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def app_site() -> Iterator[str]:
    _App.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_apps_own_health_path_is_retried_while_it_starts_and_reported(
    app_site: str, local_postgres: LocalPostgres
) -> None:
    report = check_health(
        site_url=app_site,
        database_provider="neon",
        database_url=local_postgres.url,
        database_auth_token=None,
        app_health_path="/api/health",
        sleep=lambda _: None,
    )
    assert report.healthy, report.summary
    assert report.checks == {"site": "ok", "app": "ok", "database": "ok"}
    assert _App.calls == 3, "retried until the worker answered"
    assert report.details["app"].startswith("GET /api/health → 200 in ")
    assert report.details["app"].endswith(' ms: {"database":"turso","status":"ok"}')
    assert "app: ok (GET /api/health → 200" in report.summary


def test_an_unhealthy_app_shows_its_status_and_answer_without_secrets(app_site: str) -> None:
    answer = check_app(app_site, "/api/broken", secrets=["tok-s3cret"])
    assert answer.result.startswith("GET /api/broken → 500 in ")
    assert "no such table: Product" in answer.result
    assert "tok-s3cret" not in answer.result
    assert "[secret]" in answer.result
    assert check_app("http://127.0.0.1:9", "/api/health", []).result == "GET /api/health failed: ConnectError"
