"""`oneclick deploy | preview | refresh | destroy | rollback | status | list | outputs | schema`: one app."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from automation import operations
from cli.options import app_argument, json_option, spec_argument, verbose_option, yes_option
from cli.render.events import ProgressPrinter
from cli.render.steps import StepRenderer
from components.spec import AppSpec


def _engine_lines(verbose: bool) -> ProgressPrinter | None:
    return ProgressPrinter(lambda line: click.echo(line, err=True)) if verbose else None


def _build_lines(verbose: bool) -> Callable[[str], None] | None:
    """With -v, the build's own output (npm, next build), one prefixed line each."""
    return (lambda line: click.echo(f"  build │ {line}", err=True)) if verbose else None


def _steps() -> StepRenderer:
    return StepRenderer(sys.stderr.write, tty=sys.stderr.isatty())


def _print_result(result: operations.OperationResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    changes = ", ".join(f"{count} {op}" for op, count in result.changes.items()) or "no changes"
    click.echo(f"{result.operation} of {result.app_id}: {changes} ({result.seconds:.1f}s)")
    for key, value in result.outputs.items():
        click.echo(f"  {key:<24} {_short(value)}")


def _short(value: Any) -> str:
    """One line per output: long text (the transformed schema) is summarised, --json has it all."""
    text = str(value)
    if "\n" in text:
        return f"({text.count(chr(10)) + 1} lines; see --json or `oneclick outputs APP --json`)"
    return text


@click.command()
@spec_argument
@click.option("--no-health-check", is_flag=True, help="Skip the HTTP and database checks after deploying.")
@verbose_option
@json_option
def deploy(spec: Path, no_health_check: bool, verbose: bool, as_json: bool) -> None:
    """Create or update the app described by SPEC (YAML or JSON), check its health, print its URL.

    Progress goes to stderr; the result (outputs, secrets masked) to stdout.
    """
    app = AppSpec.load(spec)
    click.echo(f"deploying {app.id} …", err=True)
    result = operations.deploy(
        app,
        on_event=_engine_lines(verbose),
        on_status=_steps(),
        health_check=not no_health_check,
        on_build_line=_build_lines(verbose),
    )
    _print_result(result, as_json)


@click.command()
@spec_argument
@verbose_option
@json_option
def preview(spec: Path, verbose: bool, as_json: bool) -> None:
    """Show what deploying SPEC would change, without changing any resource."""
    app = AppSpec.load(spec)
    result = operations.preview(app, on_event=ProgressPrinter(lambda line: click.echo(line, err=True)))
    _print_result(result, as_json)


@click.command()
@app_argument
@click.option("--preview-only", is_flag=True, help="Report differences without writing the state.")
@verbose_option
@json_option
def refresh(app_id: str, preview_only: bool, verbose: bool, as_json: bool) -> None:
    """Read APP_ID's real resources back into its stack state."""
    _print_result(
        operations.refresh(app_id, on_event=_engine_lines(verbose), preview_only=preview_only), as_json
    )


@click.command()
@app_argument
@yes_option
@click.option("--keep-stack", is_flag=True, help="Keep the (empty) stack with its history and config.")
@verbose_option
@json_option
def destroy(app_id: str, yes: bool, keep_stack: bool, verbose: bool, as_json: bool) -> None:
    """Delete every resource of APP_ID, then its stack (history and config) unless --keep-stack."""
    if not yes and not click.confirm(f"Delete every resource of {app_id}?", err=True):
        raise click.Abort()
    printer = ProgressPrinter(lambda line: click.echo(line, err=True))
    _print_result(operations.destroy(app_id, on_event=printer, remove_stack=not keep_stack), as_json)


@click.command()
@app_argument
@json_option
def status(app_id: str, as_json: bool) -> None:
    """Show APP_ID's last update (kind, result, time, changes) and its outputs."""
    info = operations.status(app_id)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    last = info["lastUpdate"]
    if last is None:
        click.echo(f"{app_id}: never updated")
    else:
        changes = ", ".join(f"{n} {op}" for op, n in last["changes"].items()) or "no changes"
        when = last["finished"] or last["started"]
        click.echo(f"{app_id}: last {last['kind']} {last['result']} at {when} ({changes})")
    for key, value in info["outputs"].items():
        click.echo(f"  {key:<24} {value}")


@click.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List every deployed app (stack) in the state backend."""
    apps = operations.list_apps()
    if as_json:
        click.echo(json.dumps([a.as_dict() for a in apps], indent=2))
        return
    if not apps:
        click.echo("no apps deployed")
    for a in apps:
        busy = "  (update in progress)" if a.update_in_progress else ""
        click.echo(
            f"{a.app_id:<32} {a.resource_count or 0:>3} resources  last update {a.last_update or '-'}{busy}"
        )


@click.command()
@app_argument
@click.option(
    "--to", "deployment_id", default=None, help="Deployment id to restore (default: the previous one)."
)
@json_option
def rollback(app_id: str, deployment_id: str | None, as_json: bool) -> None:
    """Serve APP_ID's previous Cloudflare Pages deployment again (files and env vars as they were)."""
    result = operations.rollback(app_id, deployment_id)
    _print_result(result, as_json)


@click.command()
@app_argument
@click.option("--show-secrets", is_flag=True, help="Print secret outputs in plaintext.")
@json_option
def outputs(app_id: str, show_secrets: bool, as_json: bool) -> None:
    """Print APP_ID's stack outputs (secrets masked unless --show-secrets)."""
    values = operations.outputs(app_id, show_secrets=show_secrets)
    if as_json:
        click.echo(json.dumps(values, indent=2))
    else:
        for key, value in values.items():
            click.echo(f"{key:<24} {value}")


@click.command()
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of stdout."
)
def schema(out: Path | None) -> None:
    """Print the JSON Schema of the app spec (what the platform sends to deploy an app)."""
    text = json.dumps(AppSpec.json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text)
        click.echo(f"wrote {out}", err=True)


COMMANDS = (deploy, preview, refresh, destroy, rollback, status, list_command, outputs, schema)
