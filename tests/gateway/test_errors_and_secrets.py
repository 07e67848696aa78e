"""Every mistake a caller can make gets a clear 4xx, and no platform key ever leaves the gateway."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import psycopg
import pytest

from sandbox.upstreams import UpstreamStandIn
from service.gateway.app import create_app
from service.gateway.keys import revoke_key
from service.gateway.settings import Secret
from tests.gateway.conftest import MASTER_KEYS, RunningGateway, make_account, make_key
from tests.gateway.servers import ServerThread

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
WRONG_PLATFORM_KEY = "sk-platform-rotated-away-00000000000000"


@pytest.fixture(scope="module")
def key(running_gateway: RunningGateway) -> str:
    return make_key(running_gateway.db, make_account(running_gateway.db), "errors-app")


def _post(gw: RunningGateway, path: str, key: str | None, **kwargs: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
    return httpx.post(f"{gw.url}{path}", headers=headers, **kwargs)  # type: ignore[arg-type]


def _error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == kind  # the gateway's code, in every route's shape (OpenAI's here)
    message: str = error["message"]
    return message


CHAT_PATH = "/api/proxy/openai/v1/chat/completions"


def test_missing_unknown_and_revoked_keys_are_401(running_gateway: RunningGateway, key: str) -> None:
    assert "Authorization: Bearer ocgw_" in _error(
        _post(running_gateway, CHAT_PATH, None, json=CHAT), 401, "invalid_gateway_key"
    )
    assert "not recognised" in _error(
        _post(running_gateway, CHAT_PATH, "ocgw_" + "x" * 43, json=CHAT), 401, "invalid_gateway_key"
    )
    _error(_post(running_gateway, CHAT_PATH, "sk-not-a-gateway-key", json=CHAT), 401, "invalid_gateway_key")
    revoked = make_key(running_gateway.db, make_account(running_gateway.db))
    with psycopg.connect(running_gateway.db, autocommit=True) as conn:
        assert revoke_key(conn, revoked[:12]) == 1
    _error(_post(running_gateway, CHAT_PATH, revoked, json=CHAT), 401, "invalid_gateway_key")


def test_unknown_routes_and_methods(running_gateway: RunningGateway, key: str) -> None:
    message = _error(_post(running_gateway, "/api/proxy/stripe/charge", key, json={}), 404, "unknown_route")
    assert "/api/proxy/openai/v1/" in message  # says which routes exist
    message = _error(
        _post(running_gateway, "/api/proxy/openai/v1/images/generations", key, json=CHAT),
        404,
        "unknown_route",
    )
    assert "/api/proxy/openai/v1/chat/completions" in message
    response = httpx.get(f"{running_gateway.url}{CHAT_PATH}", headers={"Authorization": f"Bearer {key}"})
    assert "GET is not allowed" in _error(response, 405, "method_not_allowed")


def test_oversized_bodies_are_413_with_the_limit(running_gateway: RunningGateway, key: str) -> None:
    limit = running_gateway.settings.max_body_bytes
    big = b'{"model": "gpt-4o", "messages": [], "pad": "' + b"x" * limit + b'"}'
    message = _error(_post(running_gateway, CHAT_PATH, key, content=big), 413, "payload_too_large")
    assert str(limit) in message

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield big[: limit // 2]
        yield big[limit // 2 :]

    _error(_post(running_gateway, CHAT_PATH, key, content=chunked()), 413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "kind", "fragment"),
    [
        (b'{"model": "gpt-4o", "messages": [', "malformed_json", "not valid JSON: Expecting value at line 1"),
        (b"", "malformed_json", "empty"),
        (b"\xff\xfe", "malformed_json", "not UTF-8"),
        (b"[1, 2]", "invalid_request", "JSON object"),
        (b'{"messages": []}', "invalid_request", "model: required"),
        (
            b'{"model": "gpt-4o", "max_tokens": -5}',
            "invalid_request",
            "max_tokens: must be a non-negative integer",
        ),
        (b'{"model": "gpt-4o", "stream": "yes"}', "invalid_request", "stream: must be true or false"),
    ],
)
def test_malformed_llm_requests_are_400(
    running_gateway: RunningGateway, key: str, body: bytes, kind: str, fragment: str
) -> None:
    response = _post(
        running_gateway, CHAT_PATH, key, content=body, headers={"content-type": "application/json"}
    )
    assert fragment in _error(response, 400, kind)


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/api/proxy/email/send", {"subject": "s", "text": "t"}, "to: at least one recipient"),
        (
            "/api/proxy/email/send",
            {"to": "not-an-address", "subject": "s", "text": "t"},
            "is not an email address",
        ),
        ("/api/proxy/email/send", {"to": "a@b.co", "text": "t"}, "subject: required"),
        ("/api/proxy/email/send", {"to": "a@b.co", "subject": "s"}, "text or html"),
        ("/api/proxy/sms/send", {"to": "555-1234", "body": "hi"}, "E.164"),
        ("/api/proxy/sms/send", {"to": "+14155550123"}, "body: required"),
        ("/api/proxy/sms/send", {"to": "+14155550123", "body": "x" * 2000}, "too long"),
    ],
)
def test_malformed_email_and_sms_are_400(
    running_gateway: RunningGateway, key: str, path: str, body: dict[str, object], fragment: str
) -> None:
    assert fragment in _error(_post(running_gateway, path, key, json=body), 400, "invalid_request")


def test_bad_storage_keys_are_400(running_gateway: RunningGateway, key: str) -> None:
    for name in ("../escape", "/absolute", "a//b", ""):
        response = _post(
            running_gateway, "/api/proxy/storage/upload", key, params={"key": name}, content=b"data"
        )
        assert "key:" in _error(response, 400, "invalid_request")


@pytest.fixture
def every_log_line() -> Iterator[list[str]]:
    """Every record of every logger (uvicorn's included, which do not propagate), at DEBUG."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))
            if record.exc_info:
                lines.append(logging.Formatter().formatException(record.exc_info))

    handler = Keep(level=logging.DEBUG)
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore", "oneclick"]
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield lines
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_master_keys_reach_no_response_and_no_log_line(
    running_gateway: RunningGateway,
    key: str,
    upstream: tuple[UpstreamStandIn, str],
    tmp_path: Path,
    every_log_line: list[str],
) -> None:
    # A second gateway whose OpenAI key the vendor refuses, and which echoes it back (as OpenAI does).
    settings = running_gateway.settings
    rotated = replace(
        settings,
        upstreams=replace(settings.upstreams, openai_key=Secret(WRONG_PLATFORM_KEY)),
        journal_dir=tmp_path / "journal",
    )
    server = ServerThread(create_app(rotated)).start()
    try:
        refused = httpx.post(
            f"{server.url}{CHAT_PATH}", json=CHAT, headers={"Authorization": f"Bearer {key}"}
        )
    finally:
        server.stop()
    assert "refused the platform's credentials" in _error(refused, 502, "upstream_error")
    assert (
        upstream[0]
        .seen(CHAT_PATH.removeprefix("/api/proxy/openai"))[-1]
        .headers["authorization"]
        .endswith(WRONG_PLATFORM_KEY)
    )  # the vendor did get it, and echoed it ...
    gw = running_gateway
    responses = [
        refused,
        _post(gw, CHAT_PATH, key, json=CHAT),
        _post(gw, CHAT_PATH, key, json={**CHAT, "stream": True}),
        _post(gw, CHAT_PATH, key, json={**CHAT, "model": "missing-model"}),
        _post(gw, "/api/proxy/anthropic/v1/messages", key, json={**CHAT, "model": "claude"}),
        _post(gw, "/api/proxy/email/send", key, json={"to": "a@b.co", "subject": "s", "text": "t"}),
        _post(gw, "/api/proxy/sms/send", key, json={"to": "+14155550123", "body": "hi"}),
        _post(gw, "/api/proxy/storage/upload", key, params={"key": "f.txt"}, content=b"data"),
        _post(gw, CHAT_PATH, "ocgw_" + "y" * 43, json=CHAT),
        _post(gw, CHAT_PATH, key, content=b"{"),
        httpx.get(f"{gw.url}/api/usage/current", headers={"Authorization": f"Bearer {key}"}),
    ]
    assert [r.status_code for r in responses] == [502, 200, 200, 404, 200, 200, 200, 200, 401, 400, 200]
    for secret in [*MASTER_KEYS, WRONG_PLATFORM_KEY]:
        for response in responses:
            assert secret not in response.text
            assert secret not in str(response.headers)
        assert not [line for line in every_log_line if secret in line]  # ... but no one else did
        assert secret not in repr(settings) + str(settings)
    assert every_log_line  # the capture did see the gateway's logging
