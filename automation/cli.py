"""The `oneclick` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from automation import doctor as doctor_checks
from automation import operations
from automation.db_cli import db as db_group
from automation.fleet_cli import drift_command, fleet_group
from automation.fleet_cli import recover as recover_command
from automation.localpg import LocalPostgres, PostgresError
from automation.progress import ProgressPrinter
from automation.render import StepRenderer
from components.database import DatabaseError
from components.errors import SpecError
from components.files import FileRefused
from components.http import VendorError
from components.spec import AppSpec
from components.targets import TargetError
from sandbox import server as sandbox_server
from sandbox.endpoint import DEFAULT_PORT, sandbox_dir
from service.cli import ServiceCommandError
from service.cli import service as service_commands
from service.gateway.cli import GatewayCommandError
from service.gateway.cli import gateway as gateway_commands

USER_ERRORS = (
    SpecError,
    TargetError,
    operations.DeployError,
    VendorError,
    sandbox_server.SandboxError,
    PostgresError,
    DatabaseError,
    GatewayCommandError,
    ServiceCommandError,
    FileRefused,
)


class OneclickGroup(click.Group):
    """Turns every error a user can cause into one clear message and exit code 1: no tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(1)


def _engine_lines(verbose: bool) -> ProgressPrinter | None:
    return ProgressPrinter(lambda line: click.echo(line, err=True)) if verbose else None


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


spec_argument = click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
app_argument = click.argument("app_id")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Also print every resource the engine touches."
)


@click.group(cls=OneclickGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oneclick")
def main() -> None:
    """Deploy a generated full-stack app with one call.

    \b
    Each vendor deploys for real when its token is set, else into the local sandbox:
      Turso       TURSO_API_TOKEN + TURSO_ORG_ID
      Neon        NEON_API_KEY
      Cloudflare  CLOUDFLARE_API_TOKEN + CLOUDFLARE_ACCOUNT_ID
    Start the sandbox with `oneclick sandbox start`. State lives in .state/ unless
    PULUMI_BACKEND_URL is set.
    """


@main.command()
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
        app, on_event=_engine_lines(verbose), on_status=_steps(), health_check=not no_health_check
    )
    _print_result(result, as_json)


@main.command()
@spec_argument
@verbose_option
@json_option
def preview(spec: Path, verbose: bool, as_json: bool) -> None:
    """Show what deploying SPEC would change, without changing any resource."""
    app = AppSpec.load(spec)
    result = operations.preview(app, on_event=ProgressPrinter(lambda line: click.echo(line, err=True)))
    _print_result(result, as_json)


@main.command()
@app_argument
@click.option("--preview-only", is_flag=True, help="Report differences without writing the state.")
@verbose_option
@json_option
def refresh(app_id: str, preview_only: bool, verbose: bool, as_json: bool) -> None:
    """Read APP_ID's real resources back into its stack state."""
    _print_result(
        operations.refresh(app_id, on_event=_engine_lines(verbose), preview_only=preview_only), as_json
    )


@main.command()
@app_argument
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--keep-stack", is_flag=True, help="Keep the (empty) stack with its history and config.")
@verbose_option
@json_option
def destroy(app_id: str, yes: bool, keep_stack: bool, verbose: bool, as_json: bool) -> None:
    """Delete every resource of APP_ID, then its stack (history and config) unless --keep-stack."""
    if not yes and not click.confirm(f"Delete every resource of {app_id}?", err=True):
        raise click.Abort()
    printer = ProgressPrinter(lambda line: click.echo(line, err=True))
    _print_result(operations.destroy(app_id, on_event=printer, remove_stack=not keep_stack), as_json)


@main.command()
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


@main.command("list")
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


@main.command()
@app_argument
@click.option(
    "--to", "deployment_id", default=None, help="Deployment id to restore (default: the previous one)."
)
@json_option
def rollback(app_id: str, deployment_id: str | None, as_json: bool) -> None:
    """Serve APP_ID's previous Cloudflare Pages deployment again (files and env vars as they were)."""
    result = operations.rollback(app_id, deployment_id)
    _print_result(result, as_json)


@main.command()
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


@main.command()
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


@main.group()
def stack() -> None:
    """Manage app stacks for `pulumi up -s <app>` by hand."""


@stack.command("init")
@spec_argument
def stack_init(spec: Path) -> None:
    """Create the stack for SPEC and write its config (stacks/Pulumi.<app>.yaml), deploying nothing."""
    app = AppSpec.load(spec)
    operations.init_stack(app)
    click.echo(f"stack {app.id} ready: run `pulumi up -s {app.id}` (after `source scripts/env.sh`)")


@main.group()
def sandbox() -> None:
    """Run the local cloud (Turso, Neon, Cloudflare emulators) on loopback."""


dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State directory, kept across restarts (default: .state/sandbox).",
)


@sandbox.command("start")
@click.option(
    "--port",
    type=int,
    default=lambda: int(os.environ.get("ONECLICK_SANDBOX_PORT", DEFAULT_PORT)),
    show_default=f"{DEFAULT_PORT} or ONECLICK_SANDBOX_PORT",
    help="TCP port; 0 picks a free one.",
)
@click.option(
    "--postgres-url",
    default=lambda: os.environ.get("ONECLICK_SANDBOX_PG_URL"),
    show_default="ONECLICK_SANDBOX_PG_URL, else the local cluster (`oneclick postgres start`)",
    help="Superuser URL of the PostgreSQL server that holds sandbox Neon projects.",
)
@dir_option
def sandbox_start(port: int, postgres_url: str | None, directory: Path | None) -> None:
    """Start the sandbox in the background (does nothing if it already runs).

    Sandbox Neon projects are real databases, so the local PostgreSQL cluster is started too
    unless --postgres-url names another server.
    """
    if not postgres_url:
        postgres_url = LocalPostgres.default().start()
    endpoint = sandbox_server.start(directory or sandbox_dir(), port, postgres_url=postgres_url)
    click.echo(f"sandbox running at {endpoint.url} (pid {endpoint.pid})")


@sandbox.command("stop")
@dir_option
def sandbox_stop(directory: Path | None) -> None:
    """Stop the sandbox; its state is kept for the next start."""
    stopped = sandbox_server.stop(directory or sandbox_dir())
    click.echo("sandbox stopped" if stopped else "sandbox was not running")


@sandbox.command("status")
@dir_option
def sandbox_status(directory: Path | None) -> None:
    """Say whether the sandbox runs, where, and with what state directory (exit 1 if stopped)."""
    state = sandbox_server.status(directory or sandbox_dir())
    if state.running and state.endpoint is not None:
        click.echo(f"running at {state.endpoint.url} (pid {state.endpoint.pid}), state in {state.directory}")
    else:
        click.echo(f"not running (state in {state.directory}); start it with `oneclick sandbox start`")
        sys.exit(1)


@main.group()
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


@main.command()
@click.option("--strict", is_flag=True, help="Also fail when an optional tool is missing.")
def doctor(strict: bool) -> None:
    """Check every tool oneclick needs; exit 1 if a required one is missing, with the fix."""
    failed = False
    for check in doctor_checks.run_checks():
        mark = (
            click.style("ok  ", fg="green")
            if check.ok
            else click.style("FAIL" if check.required else "warn", fg="red" if check.required else "yellow")
        )
        click.echo(f"{mark} {check.name:<22} {check.detail}")
        if not check.ok:
            if check.fix:
                click.echo(f"     fix: {check.fix}")
            failed = failed or check.required or strict
    sys.exit(1 if failed else 0)


main.add_command(gateway_commands, "gateway")
main.add_command(service_commands, "service")
main.add_command(db_group, "db")
main.add_command(recover_command, "recover")
main.add_command(drift_command, "drift")
main.add_command(fleet_group, "fleet")
