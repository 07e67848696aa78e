"""Options and arguments that several command groups share, so each reads and helps the same way."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# The engine and provider hosts are CPU-bound start-ups (bench/drift): one stack per core is fastest.
DEFAULT_PARALLEL = max(2, os.cpu_count() or 2)

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
spec_argument = click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
app_argument = click.argument("app_id")
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Also print every resource the engine touches."
)
yes_option = click.option("--yes", is_flag=True, help="Do not ask for confirmation.")

# Commands over many stacks (drift, fleet): name them, or --all.
apps_argument = click.argument("app_ids", nargs=-1, metavar="[APP]...")
all_option = click.option("--all", "every", is_flag=True, help="Every app stack in the state backend.")
parallel_option = click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=DEFAULT_PARALLEL,
    show_default=True,
    help="Stacks worked on at once.",
)


def stacks_options(command: F) -> F:
    """[APP]... or --all, and --parallel: the stacks a many-stack command works on, and how many at once."""
    return apps_argument(all_option(parallel_option(command)))


# Servers (the service, the gateway) listen on loopback unless told otherwise.
host_option = click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")


def listen_options(port: Callable[[], int], shown: str) -> Callable[[F], F]:
    """--host and --port of a server; `port` gives the default port when the command runs, `shown`
    says it in --help."""
    port_option = click.option("--port", type=int, default=port, show_default=shown, help="TCP port.")

    def decorate(command: F) -> F:
        return host_option(port_option(command))

    return decorate


no_migrate_option = click.option(
    "--no-migrate", is_flag=True, help="Do not apply database migrations before serving."
)


def database_url_option(variable: str) -> Callable[[F], F]:
    """--database-url of a server (the service, the gateway) whose own default is `variable`."""
    return click.option(
        "--database-url",
        default=None,
        metavar="URL",
        help=f"PostgreSQL URL (default: {variable}, DATABASE_URL, "
        "else database `oneclick` on the local cluster, started if need be).",
    )
