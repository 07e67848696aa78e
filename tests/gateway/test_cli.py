"""`oneclick gateway …` from the command line (serving itself is covered by test_crash.py)."""

from __future__ import annotations

from click.testing import CliRunner

from cli.main import main
from tests.databases import query
from tests.gateway.conftest import make_account


def test_help_lists_routes_settings_and_commands() -> None:
    result = CliRunner().invoke(main, ["gateway", "--help"])
    assert result.exit_code == 0
    for text in (
        "/api/proxy/openai/v1/chat/completions",
        "PLATFORM_OPENAI_KEY",
        "--database-url",
        "migrate",
        "key",
    ):
        assert text in result.output


def test_migrate_key_and_limit(gateway_db: str) -> None:
    runner = CliRunner()
    migrated = runner.invoke(main, ["gateway", "migrate", "--database-url", gateway_db])
    assert (migrated.exit_code, migrated.output.strip()) == (0, "database is up to date")
    user_id = make_account(gateway_db)
    created = runner.invoke(
        main, ["gateway", "key", "create", user_id, "cli-app", "--database-url", gateway_db]
    )
    assert created.exit_code == 0
    key = created.output.strip()
    assert key.startswith("ocgw_")
    assert query(gateway_db, "SELECT app_id, mode FROM gateway_keys WHERE key_prefix = %s", [key[:12]]) == [
        ("cli-app", "platform")
    ]
    revoked = runner.invoke(main, ["gateway", "key", "revoke", key[:12], "--database-url", gateway_db])
    assert revoked.output.strip() == "revoked 1 key(s)"
    limited = runner.invoke(main, ["gateway", "limit", user_id, "12.50", "--database-url", gateway_db])
    assert limited.exit_code == 0
    assert query(
        gateway_db, "SELECT spend_limit_cents FROM user_subscriptions WHERE user_id = %s", [user_id]
    ) == [(1250,)]


def test_mistakes_are_one_clear_line() -> None:
    runner = CliRunner()
    bad_db = runner.invoke(
        main, ["gateway", "migrate", "--database-url", "postgresql://nobody@127.0.0.1:1/x"]
    )
    assert bad_db.exit_code == 1
    assert "error: cannot reach the gateway's database" in bad_db.output
    assert "Traceback" not in bad_db.output
    bad_amount = runner.invoke(
        main, ["gateway", "limit", "u", "12.345", "--database-url", "postgresql://x@/y"]
    )
    assert bad_amount.exit_code == 1
    assert "error: '12.345' is not a non-negative amount in whole cents" in bad_amount.output
