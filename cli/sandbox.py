"""`oneclick sandbox …`: start, stop and look at the local cloud (the only place the product starts it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from automation.localpg import LocalPostgres
from cli.extras import require_extra
from core.settings import Local, settings
from sandbox import hostnames, hostsfile
from sandbox import server as sandbox_server
from sandbox.endpoint import sandbox_dir


@click.group()
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
    default=lambda: settings().local.sandbox_port,
    show_default=f"{Local.sandbox_port} or ONECLICK_SANDBOX_PORT",
    help="TCP port; 0 picks a free one.",
)
@click.option(
    "--postgres-url",
    default=lambda: settings().local.sandbox_postgres_url,
    show_default="ONECLICK_SANDBOX_PG_URL, else the local cluster (`oneclick postgres start`)",
    help="Superuser URL of the PostgreSQL server that holds sandbox Neon projects.",
)
@click.option(
    "--tls-port",
    type=int,
    default=lambda: settings().local.sandbox_tls_port,
    show_default=f"{Local.sandbox_tls_port} or ONECLICK_SANDBOX_TLS_PORT",
    help="TCP port for TLS (what libsql:// hostnames carry); 0 picks a free one.",
)
@dir_option
def sandbox_start(port: int, tls_port: int, postgres_url: str | None, directory: Path | None) -> None:
    """Start the sandbox in the background (does nothing if it already runs).

    Sandbox Neon projects are real databases, so the local PostgreSQL cluster is started too
    unless --postgres-url names another server. TLS certificates come from the local CA
    (.state/ca/ca.crt), made on first start: point clients at it with NODE_EXTRA_CA_CERTS,
    SSL_CERT_FILE or PGSSLROOTCERT.
    """
    require_extra("sandbox", "sandbox start")
    if not postgres_url:
        postgres_url = LocalPostgres.default().start()
    endpoint = sandbox_server.start(
        directory or sandbox_dir(), port, postgres_url=postgres_url, tls_port=tls_port
    )
    click.echo(f"sandbox running at {endpoint.url} and {endpoint.tls_url} (pid {endpoint.pid})")
    click.echo(f"local CA certificate: {endpoint.ca_file}")


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
        endpoint = state.endpoint
        tls = f" and {endpoint.tls_url}" if endpoint.tls_url else ""
        click.echo(f"running at {endpoint.url}{tls} (pid {endpoint.pid}), state in {state.directory}")
    else:
        click.echo(f"not running (state in {state.directory}); start it with `oneclick sandbox start`")
        sys.exit(1)


@sandbox.command("hosts")
@click.option(
    "--install",
    is_flag=True,
    help="Write the lines into the hosts file (/etc/hosts, or ONECLICK_HOSTS_FILE) in this sandbox's "
    "own marked block, replacing the block written before; needs permission to write the file.",
)
@click.option("--remove", is_flag=True, help="Remove this sandbox's block from the hosts file.")
@dir_option
def sandbox_hosts(install: bool, remove: bool, directory: Path | None) -> None:
    """Print hosts-file lines for the sandbox's current host names (databases, sites, deployments).

    curl and browsers resolve any *.localhost name to loopback by themselves; Node, Python and
    other programs using the system resolver only find what the hosts file lists. Run again with
    --install after creating databases or deploying (names are added as they appear).
    """
    if install and remove:
        raise click.UsageError("give --install or --remove, not both")
    state = (directory or sandbox_dir()).resolve()
    names = hostnames.current(state)
    owner = str(state)
    if remove:
        changed = hostsfile.remove(owner)
        click.echo(f"{hostsfile.hosts_file()}: " + ("block removed" if changed else "no block to remove"))
        return
    if install:
        changed = hostsfile.install(owner, names)
        click.echo(f"{hostsfile.hosts_file()}: {len(names)} names" + ("" if changed else " (unchanged)"))
        return
    click.echo(hostsfile.block(owner, names), nl=False)
