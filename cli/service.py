"""`oneclick service …`: the deploy API, its workers, its database, tokens and encryption keys."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
import psycopg

from cli.extras import require_extra
from cli.options import database_url_option, listen_options, no_migrate_option
from cli.server_errors import said_plainly
from core.errors import UserError
from core.settings import Service, settings
from service.migrate import ServiceMigrationError
from service.passphrase import service_passphrase_problem

DEFAULT_PORT = Service.port
F = TypeVar("F", bound=Callable[..., Any])


class ServiceCommandError(UserError, RuntimeError):
    """What a service command could not do, said for the person who ran it."""


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    # Imported here: the vault needs the service extra, which the group checks before any command.
    from service.vault import DecryptionError, VaultConfigError

    known = (VaultConfigError, ServiceMigrationError, DecryptionError)
    with said_plainly(ServiceCommandError, "the service's database", known):
        yield


def _database(given: str | None) -> str:
    from service.store import resolve_database_url

    with _user_errors():
        return resolve_database_url(given)


database_option = database_url_option("ONECLICK_SERVICE_DATABASE_URL")


def seconds_option(name: str, minimum: float, default: float, help: str) -> Callable[[F], F]:
    """A duration in seconds, at least `minimum`."""
    return click.option(name, type=click.FloatRange(minimum), default=default, show_default=True, help=help)


@click.group()
def service() -> None:
    """The deploy API and its workers.

    \b
    Set CREDENTIALS_ENCRYPTION_KEY (make one with `oneclick service new-key`) on every API
    server and worker; they share one PostgreSQL database (`oneclick service migrate`).
    """
    require_extra("service", "service")


@service.command()
@database_option
def migrate(database_url: str | None) -> None:
    """Apply the service's database migrations and the job queue's schema (idempotent)."""
    from service.store import migrate as apply

    url = _database(database_url)
    with _user_errors():
        applied = apply(url)
    click.echo("\n".join(f"applied {name}" for name in applied) if applied else "database is up to date")


@service.command()
@listen_options(lambda: settings().service.port, f"{DEFAULT_PORT} or ONECLICK_SERVICE_PORT")
@database_option
@no_migrate_option
@click.option("--access-log", is_flag=True, help="Log one line per request.")
def serve(host: str, port: int, database_url: str | None, no_migrate: bool, access_log: bool) -> None:
    """Serve the deploy API (OpenAPI at /openapi.json, docs at /docs).

    \b
    POST /api/deploy/web | database | ios | android | desktop   POST /api/deploy/migrate-data
    GET  /api/deploy/status/{id} (JSON, or text/event-stream)   GET /api/deploy/status/{id}/events
    GET  /api/deploy/history   GET /api/apps   DELETE /api/apps/{appId}
    POST /api/domains/check | configure   GET /api/turso/databases   DELETE /api/turso/databases/{id}
    Callers send `Authorization: Bearer <token>` (`oneclick service token USER`).
    """
    import uvicorn

    from service.api import create_app
    from service.store import migrate as apply
    from service.vault import Vault

    url = _database(database_url)
    with _user_errors():
        vault = Vault.from_env()
        if not no_migrate:
            apply(url)
    click.echo(f"deploy API listening on http://{host}:{port}", err=True)
    uvicorn.run(create_app(url, vault), host=host, port=port, log_level="info", access_log=access_log)


@service.command()
@database_option
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=1, show_default=True, help="Deploys at once."
)
@seconds_option("--heartbeat", 0.1, 5.0, "Seconds between heartbeats.")
@seconds_option(
    "--stalled-after",
    1.0,
    30.0,
    "Seconds without a heartbeat after which a worker counts as dead and its jobs are retried.",
)
@seconds_option(
    "--requeue-after",
    0.5,
    30.0,
    "Seconds after which a deployment recorded without a queued job (its API stopped) is queued.",
)
def worker(
    database_url: str | None, concurrency: int, heartbeat: float, stalled_after: float, requeue_after: float
) -> None:
    """Run deploy jobs (any number of workers, on any machines sharing the database).

    Pulumi's state is kept in the same database (schema `pulumi`) unless PULUMI_BACKEND_URL names
    another backend. Stops on SIGINT/SIGTERM after finishing the deploys in progress.
    """
    from dbtools.byo_policy import enforce_in_this_process
    from service.jobs import run_worker
    from service.runner import WorkerRuntime
    from service.store import open_pool
    from service.vault import Vault

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per vendor call is noise here
    # Tenants' BYO database URLs may reach only public hosts, here and in every deploy process.
    enforce_in_this_process()
    from automation.environment import default_to_service_backend, work_dir
    from automation.worker_project import use_own_project

    url = _database(database_url)
    default_to_service_backend(url)
    # Stack config files, Pulumi's logs and git metadata stay in this worker's own directory.
    use_own_project(work_dir() / "pulumi")
    problem = service_passphrase_problem()
    if problem:
        raise click.ClickException(problem)
    with _user_errors():
        vault = Vault.from_env()
        pool = open_pool(url, max_size=concurrency + 2, name="oneclick-worker")
    try:
        runtime = WorkerRuntime(pool, vault, conninfo=url, stalled_after=stalled_after)
        click.echo(f"worker {runtime.worker} running up to {concurrency} deploy(s) at once", err=True)
        asyncio.run(
            run_worker(
                url,
                runtime,
                concurrency=concurrency,
                heartbeat=heartbeat,
                stalled_after=stalled_after,
                requeue_after=requeue_after,
            )
        )
    finally:
        pool.close()


@service.command("rotate-key")
@database_option
def rotate_key(database_url: str | None) -> None:
    """Re-encrypt every stored secret with the current key (the first of CREDENTIALS_ENCRYPTION_KEYS).

    \b
    1. CREDENTIALS_ENCRYPTION_KEYS="v2:<new>,v1:<old>" on every server and worker, restart them;
    2. oneclick service rotate-key;
    3. CREDENTIALS_ENCRYPTION_KEY="v2:<new>" (the old key is no longer needed), restart.
    """
    from service.store import rotate_keys
    from service.vault import Vault

    url = _database(database_url)
    with _user_errors():
        vault = Vault.from_env()
        with psycopg.connect(url, autocommit=True) as conn:
            counts = rotate_keys(conn, vault)
    for column, count in counts.items():
        click.echo(f"{column}: {count} re-encrypted with {vault.current}")


@service.command("new-key")
@click.option("--version", "label", default="v1", show_default=True, help="The key's version label.")
def new_key(label: str) -> None:
    """Print a fresh encryption key (`version:base64 of 32 random bytes`)."""
    from service.vault import generate_key

    click.echo(generate_key(label))


@service.command()
@click.argument("user_id")
@click.option("--name", default="", help="What the token is for (shown in listings).")
@database_option
def token(user_id: str, name: str, database_url: str | None) -> None:
    """Create an API token for USER_ID; it is printed once and stored only as a hash."""
    from service.auth import create_token

    url = _database(database_url)
    with _user_errors(), psycopg.connect(url, autocommit=True) as conn:
        value = create_token(conn, user_id, name)
    click.echo(value)
    click.echo("store it now: it cannot be shown again", err=True)


@service.command("revoke-token")
@click.argument("prefix")
@database_option
def revoke_token_command(prefix: str, database_url: str | None) -> None:
    """Revoke the token whose prefix (the 8 hex digits after `oc_`) is PREFIX."""
    from service.auth import revoke_token

    url = _database(database_url)
    with _user_errors(), psycopg.connect(url, autocommit=True) as conn:
        count = revoke_token(conn, prefix)
    if not count:
        raise ServiceCommandError(f"no active token has prefix {prefix!r}; check `oc_<prefix>_…`")
    click.echo(f"revoked {count} token(s)")


@service.command("set-tier")
@click.argument("user_id")
@click.argument("tier", type=click.Choice(["free", "starter", "pro", "business", "enterprise"]))
@click.option("--status", default="active", show_default=True, help="Subscription status.")
@database_option
def set_tier(user_id: str, tier: str, status: str, database_url: str | None) -> None:
    """Set USER_ID's subscription tier (normally kept in step with Stripe by billing)."""
    url = _database(database_url)
    with _user_errors(), psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO user_subscriptions (user_id, tier, status) VALUES (%s, %s, %s) "
            "ON CONFLICT (user_id) DO UPDATE SET tier = EXCLUDED.tier, status = EXCLUDED.status, "
            "updated_at = now()",
            [user_id, tier, status],
        )
    click.echo(f"{user_id}: {tier} ({status})")
