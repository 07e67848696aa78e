"""The `oneclick` root command: every group hangs here, and every user error is rendered here once."""

from __future__ import annotations

from typing import Any

import click

from cli import deploy
from cli.build import build
from cli.db import db
from cli.doctor import doctor
from cli.drift import drift_command
from cli.fleet import fleet_group
from cli.gateway import gateway
from cli.postgres import postgres
from cli.recover import recover
from cli.sandbox import sandbox
from cli.service import service
from cli.stack import stack
from cli.state import state
from core.errors import OneclickError, UserError


class OneclickGroup(click.Group):
    """Renders every OneclickError as one clear message (and its fix) with exit code 1: no tracebacks.

    Anything else is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OneclickError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            if isinstance(exc, UserError) and exc.fix and exc.fix not in str(exc):
                click.secho(f"fix: {exc.fix}", err=True)
            ctx.exit(1)


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


for command in deploy.COMMANDS:
    main.add_command(command)
main.add_command(stack, "stack")
main.add_command(sandbox, "sandbox")
main.add_command(postgres, "postgres")
main.add_command(doctor, "doctor")
main.add_command(gateway, "gateway")
main.add_command(service, "service")
main.add_command(db, "db")
main.add_command(recover, "recover")
main.add_command(drift_command, "drift")
main.add_command(fleet_group, "fleet")
main.add_command(build, "build")
main.add_command(state, "state")
