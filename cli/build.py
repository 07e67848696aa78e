"""`oneclick build desktop|ios|android SPEC`: rebuild one native target of a deployed app.

`oneclick deploy` builds every target the spec asks for inside the stack; this rebuilds one, outside
it, from the same generators: the desktop packages on Linux (reused when nothing changed, unless
--force), or the mobile project with its EAS/fastlane commands, run when the vendor answers and
otherwise printed as ready to submit. Store credentials are read from the environment (EXPO_TOKEN,
ASC_KEY_ID, ASC_ISSUER_ID, ASC_KEY_P8, PLAY_SERVICE_ACCOUNT_JSON) and never printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import click

from automation import operations
from automation.workspace import StackNotFound
from cli.extras import require_extra
from cli.options import json_option, spec_argument
from components.native_run import TARGETS, NativeResult, Target, check_target, run_native
from components.spec import AppSpec
from core.errors import UserError

_MARKS = {"running": "…", "done": "✓", "skipped": "-", "failed": "✗"}


class NotDeployed(UserError):
    """The app has no deployed site for the native app to wrap."""


def deployed_url(app_id: str) -> str:
    try:
        url = operations.outputs(app_id).get("url")
    except StackNotFound:
        url = None
    if not url:
        raise NotDeployed(
            f"app {app_id!r} has no deployed site for the native app to wrap",
            fix="deploy it first (oneclick deploy SPEC), or give the site's address with --url",
        )
    return str(url)


def _print(result: NativeResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.outputs(), indent=2))
        return
    click.echo(f"{result.target} of {result.project_dir}: {result.status}")
    for artifact in result.artifacts:
        click.echo(f"  {artifact['path']}  {artifact['size']} bytes  sha256 {artifact['sha256']}")
    for command in result.commands:
        needs = ", ".join(command.environment)
        click.echo(f"  {command.step}: (cd {command.dir} && {command.command})  needs {needs}")


@click.command("build")
@click.argument("target", type=click.Choice(TARGETS))
@spec_argument
@click.option("--url", default=None, help="The site the app wraps (default: the deployed stack's url).")
@click.option("--force", is_flag=True, help="Build the desktop packages even if nothing changed.")
@json_option
def build(target: str, spec: Path, url: str | None, force: bool, as_json: bool) -> None:
    """Rebuild one native TARGET (desktop, ios, android) of the app described by SPEC."""
    require_extra("mobile", "build")  # icons (Pillow) and store credentials (cryptography)
    app = AppSpec.load(spec)
    check_target(app, cast(Target, target))  # before looking for the deployed site

    def step(_key: str, title: str, state: str, detail: str) -> None:
        click.echo(f"{_MARKS.get(state, ' ')} {title:<18} {detail}", err=True)

    result = run_native(app, cast(Target, target), url or deployed_url(app.id), on_step=step, force=force)
    _print(result, as_json)
