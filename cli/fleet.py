"""`oneclick fleet …`: preview, up, refresh or destroy many app stacks at once."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import click

from automation import fleet
from cli.fleet_jobs import jobs_options, run_as_jobs
from cli.options import all_option, apps_argument, json_option, parallel_option, yes_option
from cli.render.fleet import FleetRenderer
from cli.render.fleet import summary as fleet_summary


@dataclass(frozen=True)
class JobsArgs:
    enabled: bool
    database_url: str | None
    timeout: float


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

        found = run_as_jobs(operation, app_ids, every, jobs.database_url, jobs.timeout, refresh, done)
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


@fleet_group.command("preview")
@apps_argument
@all_option
@parallel_option
@refresh_option
@json_option
@jobs_options
def fleet_preview(
    app_ids: tuple[str, ...],
    every: bool,
    parallel: int,
    refresh: bool,
    as_json: bool,
    jobs: bool,
    database_url: str | None,
    timeout: float,
) -> None:
    """Show what `fleet up` would change in each stack, changing nothing."""
    _fleet("preview", app_ids, every, parallel, as_json, refresh, JobsArgs(jobs, database_url, timeout))


@fleet_group.command("up")
@apps_argument
@all_option
@parallel_option
@refresh_option
@json_option
@jobs_options
def fleet_up(
    app_ids: tuple[str, ...],
    every: bool,
    parallel: int,
    refresh: bool,
    as_json: bool,
    jobs: bool,
    database_url: str | None,
    timeout: float,
) -> None:
    """Re-apply each stack's recorded program (its last deployed spec)."""
    _fleet("up", app_ids, every, parallel, as_json, refresh, JobsArgs(jobs, database_url, timeout))


@fleet_group.command("refresh")
@apps_argument
@all_option
@parallel_option
@json_option
@jobs_options
def fleet_refresh(
    app_ids: tuple[str, ...],
    every: bool,
    parallel: int,
    as_json: bool,
    jobs: bool,
    database_url: str | None,
    timeout: float,
) -> None:
    """Read each stack's real resources back into its state (accepting the cloud's values)."""
    _fleet("refresh", app_ids, every, parallel, as_json, jobs=JobsArgs(jobs, database_url, timeout))


@fleet_group.command("destroy")
@apps_argument
@all_option
@parallel_option
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
