"""`oneclick gateway …`: serve the managed API gateway and manage its database, keys and billing."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click
import psycopg

from cli.extras import require_extra
from cli.options import database_url_option, listen_options, no_migrate_option
from cli.server_errors import said_plainly
from core.errors import UserError
from core.settings import Gateway, settings
from service import database_url
from service.gateway.errors import BillingError
from service.gateway.journal import JournalBusy
from service.gateway.pricing import PricingError
from service.gateway.settings import GatewayConfigError
from service.migrate import ServiceMigrationError, apply_migrations

DEFAULT_PORT = Gateway.port


class GatewayCommandError(UserError, RuntimeError):
    """What a gateway command could not do, said for the person who ran it."""


def _user_errors() -> contextlib.AbstractContextManager[None]:
    known = (GatewayConfigError, PricingError, ServiceMigrationError, JournalBusy, BillingError)
    return said_plainly(GatewayCommandError, "the gateway's database", known)


def resolve_database_url(given: str | None) -> str:
    """--database-url, else ONECLICK_GATEWAY_DATABASE_URL / DATABASE_URL, else the local database."""
    return database_url.resolve_database_url(given or settings().gateway.database_url)


database_option = database_url_option("ONECLICK_GATEWAY_DATABASE_URL")


@click.group(invoke_without_command=True)
@listen_options(lambda: settings().gateway.port, f"{DEFAULT_PORT} or ONECLICK_GATEWAY_PORT")
@database_option
@click.option(
    "--journal-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="This process's crash journal (default: ONECLICK_GATEWAY_JOURNAL_DIR or .state/gateway/journal). "
    "Give every gateway process its own.",
)
@no_migrate_option
@click.option("--access-log", is_flag=True, help="Log one line per request.")
@click.pass_context
def gateway(
    ctx: click.Context,
    host: str,
    port: int,
    database_url: str | None,
    journal_dir: Path | None,
    no_migrate: bool,
    access_log: bool,
) -> None:
    """Serve the managed API gateway (no subcommand), or manage its database, keys and billing.

    \b
    Routes:  POST /api/proxy/openai/v1/chat/completions (and completions, embeddings, responses)
             POST /api/proxy/anthropic/v1/messages
             POST /api/proxy/email/send   POST /api/proxy/sms/send   POST /api/proxy/storage/upload?key=…
             GET  /api/usage/current | /api/usage/history | /api/usage/apps   PUT /api/usage/alerts
    Callers send a gateway key (`oneclick gateway key create`) as `Authorization: Bearer ocgw_…`.

    \b
    Configuration comes from the environment: platform keys PLATFORM_OPENAI_KEY,
    PLATFORM_ANTHROPIC_KEY, PLATFORM_SENDGRID_KEY or PLATFORM_RESEND_KEY (ONECLICK_EMAIL_PROVIDER),
    PLATFORM_TWILIO_SID/_TOKEN/_NUMBER, PLATFORM_STORAGE_ACCESS_KEY_ID/_SECRET_ACCESS_KEY with
    ONECLICK_STORAGE_URL/_BUCKET; vendor base URLs ONECLICK_<VENDOR>_URL; prices
    ONECLICK_GATEWAY_PRICING (JSON file); STRIPE_SECRET_KEY for hourly meter reporting,
    STRIPE_WEBHOOK_SECRET for POST /api/stripe/webhook; ONECLICK_GATEWAY_ADMIN_TOKEN for the
    platform's calls to the usage API.
    """
    require_extra("gateway", "gateway")
    ctx.obj = database_url
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from service.gateway.app import create_app
    from service.gateway.settings import GatewaySettings

    with _user_errors():
        url = resolve_database_url(database_url)
        if not no_migrate:
            apply_migrations(url)
        settings = GatewaySettings.from_env(url, journal_dir)
        click.echo(f"gateway listening on http://{host}:{port}", err=True)
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            access_log=access_log,
            loop="auto",
            http="auto",
            lifespan="on",
        )


def _url(ctx: click.Context, given: str | None) -> str:
    with _user_errors():
        return resolve_database_url(given or ctx.obj)


@gateway.command("migrate")
@database_option
@click.pass_context
def migrate(ctx: click.Context, database_url: str | None) -> None:
    """Apply the service's SQL migrations (service/migrations) that are not applied yet."""
    with _user_errors():
        applied = apply_migrations(_url(ctx, database_url))
    click.echo(f"applied {', '.join(applied)}" if applied else "database is up to date")


@gateway.group("key")
def key() -> None:
    """Gateway keys: one per app, shown once, stored hashed."""


@key.command("create")
@click.argument("user_id")
@click.argument("app_id")
@click.option(
    "--byo", is_flag=True, help="Bring-your-own-key: forward the caller's vendor key, bill nothing."
)
@database_option
@click.pass_context
def key_create(ctx: click.Context, user_id: str, app_id: str, byo: bool, database_url: str | None) -> None:
    """Make a gateway key for APP_ID of USER_ID and print it (the only time it is shown)."""
    from service.gateway.keys import create_key

    with _user_errors(), psycopg.connect(_url(ctx, database_url), autocommit=True) as conn:
        click.echo(create_key(conn, user_id, app_id, "byo" if byo else "platform"))


@key.command("revoke")
@click.argument("key_or_prefix")
@database_option
@click.pass_context
def key_revoke(ctx: click.Context, key_or_prefix: str, database_url: str | None) -> None:
    """Revoke a key, given whole or by its first 12 characters (in use until caches expire, ≤30 s)."""
    from service.gateway.keys import revoke_key

    with _user_errors(), psycopg.connect(_url(ctx, database_url), autocommit=True) as conn:
        count = revoke_key(conn, key_or_prefix)
    if not count:
        raise GatewayCommandError(f"no active key matches {key_or_prefix!r}")
    click.echo(f"revoked {count} key(s)")


@gateway.group("sender")
def sender() -> None:
    """Email senders a user's platform-key emails may use (besides the platform's default)."""


@sender.command("add")
@click.argument("user_id")
@click.argument("sender_address")
@database_option
@click.pass_context
def sender_add(ctx: click.Context, user_id: str, sender_address: str, database_url: str | None) -> None:
    """Let USER_ID send as SENDER_ADDRESS (news@shop.example) or a whole domain (shop.example).

    Run it once the user has shown they control the address or domain (e.g. the email vendor's
    sender or domain verification). A sender belongs to one user."""
    from service.gateway.senders import add_sender

    with _user_errors(), psycopg.connect(_url(ctx, database_url), autocommit=True) as conn:
        value = add_sender(conn, user_id, sender_address)
    click.echo(f"{user_id} may send as {value} (gateways apply it within 30 s)")


@sender.command("remove")
@click.argument("user_id")
@click.argument("sender_address")
@database_option
@click.pass_context
def sender_remove(ctx: click.Context, user_id: str, sender_address: str, database_url: str | None) -> None:
    """Stop USER_ID sending as SENDER_ADDRESS (an address or a domain, as added)."""
    from service.gateway.senders import remove_sender

    with _user_errors(), psycopg.connect(_url(ctx, database_url), autocommit=True) as conn:
        count = remove_sender(conn, user_id, sender_address)
    if not count:
        raise GatewayCommandError(f"{user_id} has no sender {sender_address!r}")
    click.echo(f"removed {sender_address} from {user_id}'s senders")


@gateway.command("limit")
@click.argument("user_id")
@click.argument("dollars")
@database_option
@click.pass_context
def limit(ctx: click.Context, user_id: str, dollars: str, database_url: str | None) -> None:
    """Set USER_ID's monthly spend limit for managed APIs to DOLLARS (e.g. 100 or 99.50)."""
    from service.gateway.billing import dollars_to_cents, set_spend_limit

    with _user_errors():
        cents = dollars_to_cents(dollars)
    with _user_errors(), psycopg.connect(_url(ctx, database_url), autocommit=True) as conn:
        set_spend_limit(conn, user_id, cents)
    click.echo(f"spend limit of {user_id}: {cents} cents per month")


@gateway.command("report")
@database_option
@click.pass_context
def report(ctx: click.Context, database_url: str | None) -> None:
    """Send unreported usage to Stripe as meter events now (what the gateway does hourly).

    Needs STRIPE_SECRET_KEY (and ONECLICK_STRIPE_API_BASE for stripe-mock). Safe to re-run.
    """
    from service.gateway import billing

    gateway_settings = settings().gateway
    if not gateway_settings.stripe_api_key:
        raise GatewayCommandError("STRIPE_SECRET_KEY is not set")
    client = billing.stripe_client(gateway_settings.stripe_api_key.reveal(), gateway_settings.stripe_api_base)
    with _user_errors(), psycopg.connect(_url(ctx, database_url), autocommit=True) as conn:
        result: Any = billing.report_usage(conn, client)
    click.echo(f"claimed {result.claimed} report(s), sent {result.sent}, failed {result.failed}")
    if result.failed:
        raise GatewayCommandError(f"{result.failed} report(s) not sent; run again to retry them")
