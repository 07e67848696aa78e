"""`oneclick state migrate --to URL`: move the stacks, with their history, to another backend."""

from __future__ import annotations

import json

import click

from automation.environment import backend_url
from cli.options import json_option


@click.group()
def state() -> None:
    """Where Pulumi keeps the stacks (PULUMI_BACKEND_URL; default the file backend under .state/)."""


@state.command()
@click.option(
    "--to",
    "destination",
    required=True,
    metavar="URL",
    help="The backend to move into: postgres://user:pass@host/db?options=-csearch_path%3Dpulumi or file://DIR.",
)
@click.option(
    "--from",
    "source",
    metavar="URL",
    help="The backend to move from (default: PULUMI_BACKEND_URL, else the file backend under .state/).",
)
@json_option
def migrate(destination: str, source: str | None, as_json: bool) -> None:
    """Copy every stack, with its history and config, into the backend at --to.

    \b
    Secrets stay encrypted with the same passphrase. Refuses (copying nothing) when a stack already
    exists at the destination or an update holds a stack's lock. The source is left untouched: switch
    with PULUMI_BACKEND_URL=URL once `oneclick list` there shows every app.
    """
    from automation.state_migration import migrate as move

    moved = move(source or backend_url(), destination)
    if as_json:
        click.echo(json.dumps({"stacks": [m.as_dict() for m in moved]}, indent=2))
        return
    if not moved:
        click.echo("no stacks to migrate")
        return
    for stack in moved:
        config = ", config" if stack.config else ""
        click.echo(f"{stack.name}: moved ({stack.updates} update(s) of history, {stack.blobs} blobs{config})")
    click.echo(f"{len(moved)} stack(s) migrated; use them with PULUMI_BACKEND_URL set to the new URL")
