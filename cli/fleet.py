"""`oneclick fleet …`: preview, up, refresh or destroy many app stacks at once."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from automation import fleet
from cli.fleet_jobs import JobsArgs, jobs_options, run_as_jobs
from cli.options import json_option, stacks_options, yes_option
from cli.render.fleet import FleetRenderer
from cli.render.fleet import summary as fleet_summary


@click.group("fleet")
def fleet_group() -> None:
    """Run preview / up / refresh / destroy over many app stacks at once.

    Each stack runs its recorded program (the spec in its stack config): nothing is rewritten.
    A live view goes to stderr, the summary (or --json) to stdout; exit 1 if any stack failed.
    """


def _fleet(
    operation: fleet.FleetOperation,
    app_ids: tuple[str, ...],
    every: bool,
    parallel: int,
    as_json: bool,
    refresh: bool = False,
    jobs: JobsArgs | None = None,
) -> None:
    if jobs is not None and jobs.enabled:
        started = time.monotonic()

        def done(found: dict[str, Any]) -> None:
            run = fleet.StackRun.from_dict(found)
            click.echo(f"  {'✗' if run.state == 'failed' else '✓'} {run.app_id}: {run.state}", err=True)

        found = run_as_jobs(operation, app_ids, every, jobs, refresh, done)
        runs = [fleet.StackRun.from_dict(r) for r in found]
        result = fleet.FleetResult(operation, runs, time.monotonic() - started)
    else:
        apps = fleet.select_apps(app_ids, every)
        click.echo(f"fleet {operation} of {len(apps)} stack(s), {parallel} at a time …", err=True)
        result = fleet.run_fleet(
            operation,
            apps,
            parallel=parallel,
            refresh=refresh,
            on_change=FleetRenderer(sys.stderr.write, sys.stderr.isatty()),
        )
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else fleet_summary(result).rstrip("\n"))
    sys.exit(1 if result.failed else 0)


refresh_option = click.option(
    "--refresh",
    is_flag=True,
    help="Read the real resources first, so changes made outside the stack are seen.",
)


Decorator = Callable[[Callable[..., None]], Callable[..., None]]


def _operation_command(operation: fleet.FleetOperation, summary: str, *, with_refresh: bool) -> None:
    """`fleet <operation>`: the stacks, --parallel, --refresh (if `with_refresh`), --json and --jobs."""

    def command(
        app_ids: tuple[str, ...],
        every: bool,
        parallel: int,
        as_json: bool,
        jobs: JobsArgs,
        refresh: bool = False,
    ) -> None:
        _fleet(operation, app_ids, every, parallel, as_json, refresh, jobs)

    refresh: list[Decorator] = [refresh_option] if with_refresh else []
    options: list[Decorator] = [stacks_options, *refresh, json_option, jobs_options]
    for option in reversed(options):  # the order --help lists them in
        command = option(command)
    fleet_group.command(operation, help=summary)(command)


_operation_command(
    "preview", "Show what `fleet up` would change in each stack, changing nothing.", with_refresh=True
)
_operation_command(
    "up", "Re-apply each stack's recorded program (its last deployed spec).", with_refresh=True
)
_operation_command(
    "refresh",
    "Read each stack's real resources back into its state (accepting the cloud's values).",
    with_refresh=False,
)


@fleet_group.command("destroy")
@stacks_options
@yes_option
@json_option
def fleet_destroy(app_ids: tuple[str, ...], every: bool, parallel: int, yes: bool, as_json: bool) -> None:
    """Delete every resource of each app, then its stack."""
    apps = fleet.select_apps(app_ids, every)
    if not yes and not click.confirm(
        f"Delete every resource of {len(apps)} app(s): {', '.join(apps)}?", err=True
    ):
        raise click.Abort()
    _fleet("destroy", tuple(apps), False, parallel, as_json)
