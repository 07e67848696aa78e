"""`--jobs` for `oneclick drift` and `oneclick fleet`: one job per stack on the deploy service's queue.

The workers of every host share the run (service/fleet_jobs.py); this process only lists the stacks,
queues the jobs and gathers their results from PostgreSQL, then renders them as a local run would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import click

from cli.extras import require_extra
from cli.options import database_url_option
from core.errors import UserError

DEFAULT_TIMEOUT = 1800.0


@dataclass(frozen=True)
class JobsArgs:
    """What --jobs, --database-url and --timeout said."""

    enabled: bool
    database_url: str | None
    timeout: float


def jobs_options(command: Callable[..., None]) -> Callable[..., None]:
    """--jobs, the service's --database-url and --timeout, handed to `command` as one `jobs: JobsArgs`."""

    @functools.wraps(command)
    def folded(*args: Any, jobs: bool, database_url: str | None, timeout: float, **kwargs: Any) -> None:
        command(*args, jobs=JobsArgs(jobs, database_url, timeout), **kwargs)

    function = click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=DEFAULT_TIMEOUT,
        show_default=True,
        help="With --jobs: seconds to wait for every stack's result.",
    )(folded)
    function = database_url_option("ONECLICK_SERVICE_DATABASE_URL")(function)
    function = click.option(
        "--jobs",
        is_flag=True,
        help="Queue one job per stack for the deploy service's workers (any host) and gather the "
        "results from its database; the stacks are those of the service's state backend.",
    )(function)
    return function


def run_as_jobs(
    operation: str,
    app_ids: Iterable[str],
    every: bool,
    jobs: JobsArgs,
    refresh: bool = False,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Every selected stack's result (as `as_dict` gives it), in the order of the stacks."""
    require_extra("service", "--jobs")
    import psycopg

    from automation import fleet
    from automation.environment import default_to_service_backend
    from cli.server_errors import said_plainly
    from service.fleet_jobs import start_run, wait_run
    from service.jobs import app_lock, build_queue
    from service.store import resolve_database_url

    url = resolve_database_url(jobs.database_url)
    # One plain connection first: a wrong URL fails in seconds, not after the pool's retries.
    with (
        said_plainly(UserError, "the deploy service's database", ()),
        psycopg.connect(url, autocommit=True, connect_timeout=10) as conn,
    ):
        default_to_service_backend(url)  # the stacks listed are the ones the workers operate on
        apps = fleet.select_apps(app_ids, every)
        say = f"queueing {operation} of {len(apps)} stack(s) as jobs for the service's workers …"
        click.echo(say, err=True)
        queue = build_queue(url)
        with queue.open():
            run = start_run(conn, queue, operation, apps, app_lock, refresh)  # type: ignore[arg-type]
            return wait_run(conn, run, jobs.timeout, on_done)
