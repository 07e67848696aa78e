import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from automation.health import check_health, check_site
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
