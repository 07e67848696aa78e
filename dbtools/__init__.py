"""dbtools: from preview SQLite to production data: schema transform, migrations, data import and export.

schema = load_schema(Path("prisma/schema.prisma"))
transform_schema(schema, "postgresql")                   # the schema text for the deployed app
executor = connect("postgresql://…")                     # or libsql://… with a token, or file:…
migrate(executor, schema, Path("prisma/migrations"))     # -> MigrationReport
import_preview(executor, schema, Path("preview.sql"))    # -> ImportReport
export_dump(executor, Path("backup.sql"), schema)        # -> ExportReport
validate_byo_url(url, allow_non_empty, schema=schema)    # -> ByoCheck, or ByoError
"""

# The names resolve on first use (PEP 562): importing one submodule (the Pulumi program and the
# provider host import dbtools.executors, dbtools.byo …) must not import all of them, psycopg and
# the libSQL client included: that was about 0.1 s of CPU in every engine process.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbtools.byo import ByoCheck, validate_byo_url
    from dbtools.connection import connect
    from dbtools.ddl import render_migration, schema_ddl
    from dbtools.errors import (
        ConnectionFailed,
        DatabaseError,
        DataError,
        ImportRefused,
        MigrationError,
        SchemaError,
    )
    from dbtools.executor import Executor
    from dbtools.executors import PostgresExecutor, SqliteExecutor
    from dbtools.exporter import ExportReport, export_dump
    from dbtools.importer import ImportReport, TableCount, import_preview
    from dbtools.layout import build_layout
    from dbtools.migrations import MigrationReport, generated_migration, migrate
    from dbtools.postgres_url import ByoError
    from dbtools.prisma_schema import PrismaSchema, load_schema, parse_schema
    from dbtools.transform import transform_schema

_HOMES = {
    "ByoCheck": "dbtools.byo",
    "ByoError": "dbtools.postgres_url",
    "ConnectionFailed": "dbtools.errors",
    "DataError": "dbtools.errors",
    "DatabaseError": "dbtools.errors",
    "Executor": "dbtools.executor",
    "ExportReport": "dbtools.exporter",
    "ImportRefused": "dbtools.errors",
    "ImportReport": "dbtools.importer",
    "MigrationError": "dbtools.errors",
    "MigrationReport": "dbtools.migrations",
    "PostgresExecutor": "dbtools.executors",
    "PrismaSchema": "dbtools.prisma_schema",
    "SchemaError": "dbtools.errors",
    "SqliteExecutor": "dbtools.executors",
    "TableCount": "dbtools.importer",
    "build_layout": "dbtools.layout",
    "connect": "dbtools.connection",
    "export_dump": "dbtools.exporter",
    "generated_migration": "dbtools.migrations",
    "import_preview": "dbtools.importer",
    "load_schema": "dbtools.prisma_schema",
    "migrate": "dbtools.migrations",
    "parse_schema": "dbtools.prisma_schema",
    "render_migration": "dbtools.ddl",
    "schema_ddl": "dbtools.ddl",
    "transform_schema": "dbtools.transform",
    "validate_byo_url": "dbtools.byo",
}

__all__ = [
    "ByoCheck",
    "ByoError",
    "ConnectionFailed",
    "DataError",
    "DatabaseError",
    "Executor",
    "ExportReport",
    "ImportRefused",
    "ImportReport",
    "MigrationError",
    "MigrationReport",
    "PostgresExecutor",
    "PrismaSchema",
    "SchemaError",
    "SqliteExecutor",
    "TableCount",
    "build_layout",
    "connect",
    "export_dump",
    "generated_migration",
    "import_preview",
    "load_schema",
    "migrate",
    "parse_schema",
    "render_migration",
    "schema_ddl",
    "transform_schema",
    "validate_byo_url",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dbtools' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
