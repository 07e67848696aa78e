"""`oneclick stack …`: app stacks prepared for `pulumi up -s <app>` by hand."""

from __future__ import annotations

from pathlib import Path

import click

from automation import operations
from cli.options import spec_argument
from components.spec import AppSpec


@click.group()
def stack() -> None:
    """Manage app stacks for `pulumi up -s <app>` by hand."""


@stack.command("init")
@spec_argument
def stack_init(spec: Path) -> None:
    """Create the stack for SPEC and write its config (stacks/Pulumi.<app>.yaml), deploying nothing."""
    app = AppSpec.load(spec)
    operations.init_stack(app)
    click.echo(f"stack {app.id} ready: run `pulumi up -s {app.id}` (after `source scripts/env.sh`)")
