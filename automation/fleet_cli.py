"""`oneclick recover`, `oneclick drift` and `oneclick fleet`: commands over one or many app stacks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from pulumi import automation as auto

from automation import drift, drift_report, fleet
from automation import recover as recovery
from automation.fleet_render import FleetRenderer
from automation.fleet_render import summary as fleet_summary
from automation.progress import ProgressPrinter
from automation.workspace import DeployError
from components.errors import SpecError
from components.targets import TargetError

# The engine and provider hosts are CPU-bound start-ups (bench/drift): one stack per core is fastest.
DEFAULT_PARALLEL = max(2, os.cpu_count() or 2)
# Anything that stops a drift run before or around the checks: exit 2, never 1 (which means drift).
DRIFT_ERRORS = (DeployError, SpecError, TargetError, auto.CommandError, click.UsageError, OSError)


@click.command()
@click.argument("app_id")
@click.option(
    "--force",
    is_flag=True,
    help="Remove the lock even when its owner cannot be checked from here (another host, a cloud backend).",
)
@click.option("-v", "--verbose", is_flag=True, help="Also print every resource the refresh reads.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def recover(app_id: str, force: bool, verbose: bool, as_json: bool) -> None:
    """Make APP_ID deployable again after an update of it was killed.

    Removes the dead update's lock, checks each interrupted operation against the real resources
    (adopting what was created, dropping what was not) and refreshes the stack, so the next deploy
    converges. Refuses while the update still runs.
    """
    printer = ProgressPrinter(lambda line: click.echo(line, err=True)) if verbose else None
    report = recovery.recover(app_id, force=force, on_event=printer)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    if not report.recovered:
        click.echo(f"{app_id}: nothing to recover (no lock, no interrupted operations)")
        return
    click.echo(f"{app_id}: recovered; the next deploy converges")
    if report.lock_removed:
        click.echo("  removed the lock of the killed update")
    for label, names in (
        ("adopted (exists in the vendor)", report.adopted),
        ("dropped (not created)", report.dropped),
        ("re-read", report.cleared),
    ):
        if names:
            click.echo(f"  {label}: {', '.join(names)}")
    for warning in report.warnings:
        click.secho(f"  warning: {warning}", fg="yellow")


apps_argument = click.argument("app_ids", nargs=-1, metavar="[APP]...")
all_option = click.option("--all", "every", is_flag=True, help="Every app stack in the state backend.")
parallel_option = click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=DEFAULT_PARALLEL,
    show_default=True,
    help="Stacks worked on at once.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")


def _stderr_tty() -> bool:
    return sys.stderr.isatty()


def _check_line(result: drift.StackDrift) -> None:
    mark = {"clean": "✓", "drift": "!", "error": "✗"}[result.status]
    what = {
        "clean": "no drift",
        "drift": f"{len(result.resources)} resource(s) drifted",
        "error": "could not be checked",
    }[result.status]
    click.echo(f"  {mark} {result.app_id}: {what} ({result.seconds:.1f}s)", err=True)


@click.command("drift")
@apps_argument
@all_option
@parallel_option
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
def drift_command(
    app_ids: tuple[str, ...],
    every: bool,
    parallel: int,
    as_json: bool,
    junit_file: Path | None,
    fix: bool,
    yes: bool,
) -> None:
    """Check that each app's real resources still match its stack, writing nothing.

    Reports every resource changed or deleted outside the stack, with the properties that differ
    (secrets masked). Exit codes: 0 no drift, 1 drift found, 2 a check failed.

    --fix re-applies the program of every drifted app, so the cloud matches the app's spec again
    (changes made by hand are undone; a deleted resource is created anew), then checks again.
    """
    try:
        code = _drift(app_ids, every, parallel, as_json, junit_file, fix, yes)
    except DRIFT_ERRORS as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        code = 2
    sys.exit(code)


def _drift(
    app_ids: tuple[str, ...],
    every: bool,
    parallel: int,
    as_json: bool,
    junit_file: Path | None,
    fix: bool,
    yes: bool,
) -> int:
    if fix and not yes and not sys.stdin.isatty():
        raise click.UsageError("--fix asks before changing anything; pass --yes in non-interactive runs")
    apps = fleet.select_apps(app_ids, every)
    click.echo(f"checking {len(apps)} stack(s) for drift, {parallel} at a time …", err=True)
    results = drift.check_many(apps, parallel, _check_line)
    if junit_file is not None:
        junit_file.write_text(drift_report.junit(results))
    code = drift.exit_code(results)
    drifted = [r.app_id for r in results if r.status == "drift"]
    if not (fix and drifted):
        click.echo(drift_report.as_json(results) if as_json else drift_report.table(results), nl=False)
        return code
    if not as_json:
        click.echo(drift_report.table(results), nl=False)
    if not yes and not click.confirm(f"Re-apply the program of {len(drifted)} drifted app(s)?", err=True):
        click.echo("nothing fixed", err=True)
        return code
    fixed = fleet.run_fleet(
        "up",
        drifted,
        parallel=parallel,
        refresh=True,
        on_change=FleetRenderer(sys.stderr.write, _stderr_tty()),
    )
    after = {r.app_id: r for r in drift.check_many(drifted, parallel, _check_line)}
    final = [after.get(r.app_id, r) for r in results]
    if as_json:
        click.echo(drift_report.as_json(final, fixed=[r.as_dict() for r in fixed.runs]), nl=False)
    else:
        click.echo(fleet_summary(fixed), nl=False)
        click.echo("after the fix:")
        click.echo(drift_report.table([after[a] for a in drifted]), nl=False)
    return max(drift.exit_code(final), 2 if fixed.failed else 0)


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
) -> None:
    apps = fleet.select_apps(app_ids, every)
    click.echo(f"fleet {operation} of {len(apps)} stack(s), {parallel} at a time …", err=True)
    result = fleet.run_fleet(
        operation,
        apps,
        parallel=parallel,
        refresh=refresh,
        on_change=FleetRenderer(sys.stderr.write, _stderr_tty()),
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
def fleet_preview(app_ids: tuple[str, ...], every: bool, parallel: int, refresh: bool, as_json: bool) -> None:
    """Show what `fleet up` would change in each stack, changing nothing."""
    _fleet("preview", app_ids, every, parallel, as_json, refresh)


@fleet_group.command("up")
@apps_argument
@all_option
@parallel_option
@refresh_option
@json_option
def fleet_up(app_ids: tuple[str, ...], every: bool, parallel: int, refresh: bool, as_json: bool) -> None:
    """Re-apply each stack's recorded program (its last deployed spec)."""
    _fleet("up", app_ids, every, parallel, as_json, refresh)


@fleet_group.command("refresh")
@apps_argument
@all_option
@parallel_option
@json_option
def fleet_refresh(app_ids: tuple[str, ...], every: bool, parallel: int, as_json: bool) -> None:
    """Read each stack's real resources back into its state (accepting the cloud's values)."""
    _fleet("refresh", app_ids, every, parallel, as_json)


@fleet_group.command("destroy")
@apps_argument
@all_option
@parallel_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def fleet_destroy(app_ids: tuple[str, ...], every: bool, parallel: int, yes: bool, as_json: bool) -> None:
    """Delete every resource of each app, then its stack."""
    apps = fleet.select_apps(app_ids, every)
    if not yes and not click.confirm(
        f"Delete every resource of {len(apps)} app(s): {', '.join(apps)}?", err=True
    ):
        raise click.Abort()
    _fleet("destroy", tuple(apps), False, parallel, as_json)
