"""Fixtures for the gateway: a fresh database per test module, vendor stand-ins, a running gateway."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from automation.localpg import LocalPostgres
from sandbox.upstreams import UpstreamStandIn
from service.gateway.app import create_app
from service.gateway.keys import create_key
from service.gateway.settings import GatewaySettings, Secret, UpstreamSettings
from service.gateway.state import Gateway
from service.migrate import apply_migrations
from tests.databases import query, scratch_database
from tests.gateway.servers import ServerThread, StripeMock

OPENAI_KEY = "sk-platform-openai-5f0c1d2e3a4b5c6d7e8f"
ANTHROPIC_KEY = "sk-ant-platform-9a8b7c6d5e4f3a2b1c0d"
SENDGRID_KEY = "SG.platform-sendgrid-0011223344556677"
RESEND_KEY = "re_platform_resend_8899aabbccddeeff"
TWILIO_SID = "AC00000000000000000000000000000001"
TWILIO_TOKEN = "twilio-platform-token-fedcba9876543210"
S3_KEY_ID = "AKIAPLATFORM000001"
S3_SECRET = "s3-platform-secret-0123456789abcdefABCDEF"
MASTER_KEYS = [OPENAI_KEY, ANTHROPIC_KEY, SENDGRID_KEY, RESEND_KEY, TWILIO_TOKEN, S3_SECRET]
BYO_OPENAI_KEY = "sk-user-own-openai-key-000111222333"
BYO_ANTHROPIC_KEY = "sk-ant-user-own-anthropic-key-444555666"


def make_account(
    url: str, *, limit_cents: int = 10_000, status: str = "active", subscribed: bool = True
) -> str:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    query(
        url,
        "INSERT INTO user_subscriptions"
        " (user_id, status, spend_limit_cents, stripe_customer_id, stripe_subscription_id)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING user_id",
        [user_id, status, limit_cents, f"cus_{user_id}", "sub_123" if subscribed else None],
    )
    return user_id


def make_key(url: str, user_id: str, app_id: str = "app-1", mode: str = "platform") -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return create_key(conn, user_id, app_id, mode)


@pytest.fixture(scope="module")
def gateway_db(local_postgres: LocalPostgres) -> Iterator[str]:
    """A fresh database with the service's migrations applied, dropped after the module."""
    with scratch_database(local_postgres.url, "gw") as url:
        apply_migrations(url)
        yield url


@pytest.fixture(scope="session")
def upstream() -> Iterator[tuple[UpstreamStandIn, str]]:
    stand_in = UpstreamStandIn(
        keys={
            "openai": {OPENAI_KEY, BYO_OPENAI_KEY},
            "anthropic": {ANTHROPIC_KEY, BYO_ANTHROPIC_KEY},
            "sendgrid": {SENDGRID_KEY},
            "resend": {RESEND_KEY},
            "twilio": {f"{TWILIO_SID}:{TWILIO_TOKEN}"},
            "s3": {S3_KEY_ID},
        }
    )
    server = ServerThread(stand_in.app()).start()
    yield stand_in, server.url
    server.stop()


def gateway_settings(
    database_url: str, upstream_url: str, journal_dir: Path, **overrides: Any
) -> GatewaySettings:
    upstreams = UpstreamSettings(
        openai_url=upstream_url,
        openai_key=Secret(OPENAI_KEY),
        anthropic_url=upstream_url,
        anthropic_key=Secret(ANTHROPIC_KEY),
        sendgrid_url=upstream_url,
        sendgrid_key=Secret(SENDGRID_KEY),
        resend_url=upstream_url,
        resend_key=Secret(RESEND_KEY),
        email_from="App <noreply@example.com>",
        twilio_url=upstream_url,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=Secret(TWILIO_TOKEN),
        twilio_from="+14155550100",
        storage_url=upstream_url,
        storage_bucket="platform-bucket",
        storage_access_key_id=S3_KEY_ID,
        storage_secret_access_key=Secret(S3_SECRET),
    )
    settings = GatewaySettings(
        database_url=database_url,
        upstreams=upstreams,
        journal_dir=journal_dir,
        flush_interval_seconds=0.02,
        admin_token=Secret("admin-token-for-tests-0001"),
    )
    return replace(settings, **overrides)


@dataclass
class RunningGateway:
    url: str
    db: str
    settings: GatewaySettings
    gateway: Gateway
    server: ServerThread


@pytest.fixture(scope="module")
def running_gateway(
    gateway_db: str, upstream: tuple[UpstreamStandIn, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    settings = gateway_settings(gateway_db, upstream[1], tmp_path_factory.mktemp("journal"))
    app = create_app(settings)
    server = ServerThread(app).start()
    yield RunningGateway(server.url, gateway_db, settings, app.state.gateway, server)
    server.stop()


@pytest.fixture(scope="session")
def stripe_mock() -> Iterator[StripeMock]:
    mock = StripeMock.start()
    yield mock
    mock.stop()
