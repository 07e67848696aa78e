"""`oneclick postgres …`: the throwaway local PostgreSQL cluster."""

from __future__ import annotations

import sys

import click

from automation.localpg import LocalPostgres


@click.group()
def postgres() -> None:
    """A throwaway local PostgreSQL cluster (.state/postgres) for tests and the service."""


@postgres.command("start")
def postgres_start() -> None:
    """Initialise (first time) and start the cluster; prints its URL."""
    click.echo(LocalPostgres.default().start())


@postgres.command("stop")
def postgres_stop() -> None:
    """Stop the cluster cleanly."""
    click.echo("stopped" if LocalPostgres.default().stop() else "was not running")


@postgres.command("status")
def postgres_status() -> None:
    """Print the URL if running (exit 1 if not)."""
    pg = LocalPostgres.default()
    if pg.running():
        click.echo(f"running: {pg.url}")
    else:
        click.echo("not running; start it with `oneclick postgres start`")
        sys.exit(1)
