"""`oneclick db …`: the database steps of a deploy, one at a time, against any database URL.

Progress goes to stderr, the result to stdout (`--json` for a machine). Passwords and tokens are
never printed: URLs are shown with `***` in place of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import psycopg

from cli.options import json_option
from dbtools import (
    DatabaseError,
    Executor,
    connect,
    export_dump,
    import_preview,
    load_schema,
    migrate,
    transform_schema,
)
from dbtools.errors import redact
from dbtools.preview_data import open_preview
from libsql.client import LibsqlError

TOKEN_ENV = "TURSO_DB_AUTH_TOKEN"  # noqa: S105 (the variable's name, not a token)
URL_ENV = "DATABASE_URL"

schema_option = click.option(
    "--schema",
    "schema_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The app's Prisma schema (written for SQLite), e.g. prisma/schema.prisma.",
)
url_option = click.option(
    "--url",
    envvar=URL_ENV,
    required=True,
    help=(
        "Database URL: postgresql://USER:PASSWORD@HOST/DB (Neon, your own), libsql://DB-ORG.turso.io or "
        f"http(s)://… (Turso), or file:PATH (a SQLite file). Default: ${URL_ENV}."
    ),
)
token_option = click.option(
    "--auth-token",
    envvar=TOKEN_ENV,
    default=None,
    help=f"Turso database token for libsql:// and http(s):// URLs. Default: ${TOKEN_ENV}.",
)


def _say(line: str) -> None:
    click.echo(line, err=True)


@contextmanager
def _database(url: str, token: str | None) -> Iterator[Executor]:
    """An executor for `url`; driver errors mid-operation become clear, secret-free DatabaseErrors."""
    executor = connect(url, token)
    try:
        yield executor
    except psycopg.Error as exc:
        raise DatabaseError(redact(f"the database failed: {str(exc).strip()}", token)) from None
    except LibsqlError as exc:
        raise DatabaseError(redact(f"the database failed: {exc}", token)) from None
    finally:
        executor.close()


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else text)


@click.group()
def db() -> None:
    """Migrate, import and export an app's database (Turso, Neon, or your own PostgreSQL).

    \b
    oneclick db transform --schema prisma/schema.prisma --target postgresql
    oneclick db migrate   --schema prisma/schema.prisma [--migrations prisma/migrations] --url URL
    oneclick db import    --schema prisma/schema.prisma --data preview.sql --url URL
    oneclick db export    --url URL --out backup.sql
    """


@db.command("transform")
@schema_option
@click.option(
    "--target",
    required=True,
    type=click.Choice(["turso", "postgresql"]),
    help="turso: SQLite with the libSQL driver adapter; postgresql: for Neon or your own PostgreSQL.",
)
def transform_command(schema_path: Path, target: str) -> None:
    """Print the Prisma schema rewritten for TARGET (models and comments unchanged)."""
    click.echo(transform_schema(load_schema(schema_path, "--schema"), target), nl=False)


@db.command("migrate")
@schema_option
@click.option(
    "--migrations",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A prisma/migrations folder, applied in order. Without it, a 0_init migration made from the schema.",
)
@url_option
@token_option
@json_option
def migrate_command(
    schema_path: Path, migrations: Path | None, url: str, auth_token: str | None, as_json: bool
) -> None:
    """Create or update the tables, recording each migration in _prisma_migrations as Prisma does.

    Running it again applies nothing new. A failing statement rolls its migration back and names it.
    """
    schema = load_schema(schema_path, "--schema")
    with _database(url, auth_token) as executor:
        report = migrate(executor, schema, migrations, progress=_say)
    _emit(as_json, asdict(report) | {"summary": report.summary}, report.summary)


@db.command("import")
@schema_option
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Preview data from the in-browser database: a SQL dump (.sql) or a SQLite file (.sqlite).",
)
@url_option
@token_option
@click.option(
    "--allow-non-empty",
    is_flag=True,
    help="Import into tables that already hold rows, adding only rows whose keys are missing.",
)
@json_option
def import_command(
    schema_path: Path, data: Path, url: str, auth_token: str | None, allow_non_empty: bool, as_json: bool
) -> None:
    """Copy the preview rows into the migrated database, in one transaction.

    Runs once per preview: importing the same data again changes nothing.
    """
    schema = load_schema(schema_path, "--schema")
    with open_preview(data, schema, "--data") as preview, _database(url, auth_token) as executor:
        report = import_preview(executor, schema, preview, allow_non_empty=allow_non_empty, progress=_say)
    text = f"{report.rows} rows transferred from preview" if not report.already_imported else report.summary
    _emit(as_json, asdict(report) | {"rows": report.rows, "summary": report.summary}, text)


@db.command("export")
@url_option
@token_option
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the SQLite dump (.sql).",
)
@click.option(
    "--schema",
    "schema_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The app's Prisma schema: the dump then has Prisma's own SQLite tables and indexes.",
)
@json_option
def export_command(
    url: str, auth_token: str | None, out: Path, schema_path: Path | None, as_json: bool
) -> None:
    """Write the database's rows to a SQLite dump, values in Prisma's SQLite representation."""
    schema = load_schema(schema_path, "--schema") if schema_path else None
    with _database(url, auth_token) as executor:
        report = export_dump(executor, out, schema, progress=_say)
    _emit(as_json, asdict(report) | {"rows": report.rows, "summary": report.summary}, report.summary)
