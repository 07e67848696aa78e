"""dbtools: from preview SQLite to production data: schema transform, migrations, data import and export.

schema = load_schema(Path("prisma/schema.prisma"))
transform_schema(schema, "postgresql")                   # the schema text for the deployed app
executor = connect("postgresql://…")                     # or libsql://… with a token, or file:…
migrate(executor, schema, Path("prisma/migrations"))     # -> MigrationReport
import_preview(executor, schema, Path("preview.sql"))    # -> ImportReport
export_dump(executor, Path("backup.sql"), schema)        # -> ExportReport
validate_byo_url(url, allow_non_empty, schema=schema)    # -> ByoCheck, or ByoError
"""

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
