"""`oneclick drift`: do app stacks still match their real resources? Optionally re-apply them."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from pulumi import automation as auto

from automation import drift, drift_report, fleet
from automation.workspace import DeployError
from cli.fleet_jobs import JobsArgs, jobs_options, run_as_jobs
from cli.options import json_option, stacks_options
from cli.render.fleet import FleetRenderer
from cli.render.fleet import summary as fleet_summary
from components.errors import SpecError
from components.targets import TargetError

# Anything that stops a drift run before or around the checks: exit 2, never 1 (which means drift).
DRIFT_ERRORS = (DeployError, SpecError, TargetError, auto.CommandError, click.UsageError, OSError)


def _check_line(result: drift.StackDrift) -> None:
    mark = {"clean": "✓", "drift": "!", "error": "✗"}[result.status]
    what = {
        "clean": "no drift",
        "drift": f"{len(result.resources)} resource(s) drifted",
        "error": "could not be checked",
    }[result.status]
    click.echo(f"  {mark} {result.app_id}: {what} ({result.seconds:.1f}s)", err=True)


@dataclass(frozen=True)
class DriftRun:
    """What `oneclick drift` was asked to do."""

    app_ids: tuple[str, ...]
    every: bool
    parallel: int
    as_json: bool
    junit_file: Path | None
    fix: bool
    yes: bool
    engine: bool


@click.command("drift")
@stacks_options
@json_option
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write a JUnit XML report (one testcase per stack) to this file.",
)
@click.option(
    "--fix", is_flag=True, help="Re-apply each drifted app's program (refresh, then up), then check again."
)
@click.option("--yes", is_flag=True, help="Fix without asking for confirmation.")
@click.option(
    "--engine",
    is_flag=True,
    help="Check every stack with a Pulumi refresh preview, even where oneclick can read it directly.",
)
@jobs_options
def drift_command(jobs: JobsArgs, **asked: Any) -> None:
    """Check that each app's real resources still match its stack, writing nothing.

    Reports every resource changed or deleted outside the stack, with the properties that differ
    (secrets masked). Exit codes: 0 no drift, 1 drift found, 2 a check failed.

    --fix re-applies the program of every drifted app, so the cloud matches the app's spec again
    (changes made by hand are undone; a deleted resource is created anew), then checks again.
    """
    run = DriftRun(**asked)
    try:
        code = _drift_jobs(run, jobs) if jobs.enabled else _drift(run)
    except DRIFT_ERRORS as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        code = 2
    sys.exit(code)


def _write_junit(run: DriftRun, results: list[drift.StackDrift]) -> None:
    if run.junit_file is not None:
        run.junit_file.write_text(drift_report.junit(results))


def _drift_jobs(run: DriftRun, jobs: JobsArgs) -> int:
    """One drift check per stack as jobs on the service's workers; the same report from their results."""
    if run.fix:
        raise click.UsageError("--fix re-applies programs from this process; run it without --jobs")
    if run.engine:
        raise click.UsageError("--engine chooses how this process checks; run it without --jobs")
    found = run_as_jobs(
        "drift", run.app_ids, run.every, jobs, on_done=lambda r: _check_line(drift.StackDrift.from_dict(r))
    )
    results = [drift.StackDrift.from_dict(r) for r in found]
    _write_junit(run, results)
    click.echo(drift_report.as_json(results) if run.as_json else drift_report.table(results), nl=False)
    return drift.exit_code(results)


def _drift(run: DriftRun) -> int:
    if run.fix and not run.yes and not sys.stdin.isatty():
        raise click.UsageError("--fix asks before changing anything; pass --yes in non-interactive runs")
    apps = fleet.select_apps(run.app_ids, run.every)
    click.echo(f"checking {len(apps)} stack(s) for drift, {run.parallel} at a time …", err=True)
    results = drift.check_many(apps, run.parallel, _check_line, run.engine)
    _write_junit(run, results)
    code = drift.exit_code(results)
    drifted = [r.app_id for r in results if r.status == "drift"]
    if not (run.fix and drifted):
        click.echo(drift_report.as_json(results) if run.as_json else drift_report.table(results), nl=False)
        return code
    if not run.as_json:
        click.echo(drift_report.table(results), nl=False)
    if not run.yes and not click.confirm(f"Re-apply the program of {len(drifted)} drifted app(s)?", err=True):
        click.echo("nothing fixed", err=True)
        return code
    fixed = fleet.run_fleet(
        "up",
        drifted,
        parallel=run.parallel,
        refresh=True,
        on_change=FleetRenderer(sys.stderr.write, sys.stderr.isatty()),
    )
    after = {r.app_id: r for r in drift.check_many(drifted, run.parallel, _check_line, run.engine)}
    final = [after.get(r.app_id, r) for r in results]
    if run.as_json:
        click.echo(drift_report.as_json(final, fixed=[r.as_dict() for r in fixed.runs]), nl=False)
    else:
        click.echo(fleet_summary(fixed), nl=False)
        click.echo("after the fix:")
        click.echo(drift_report.table([after[a] for a in drifted]), nl=False)
    return max(drift.exit_code(final), 2 if fixed.failed else 0)
