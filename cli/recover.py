"""`oneclick recover`: make an app deployable again after an update of it was killed."""

from __future__ import annotations

import json

import click

from automation import recover as recovery
from cli.options import app_argument, json_option
from cli.render.events import ProgressPrinter


@click.command()
@app_argument
@click.option(
    "--force",
    is_flag=True,
    help="Remove the lock even when its owner cannot be checked from here (another host, a cloud backend).",
)
@click.option("-v", "--verbose", is_flag=True, help="Also print every resource the refresh reads.")
@json_option
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
