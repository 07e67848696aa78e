"""From preview SQLite to production data: schema transform, migrations, data import and export.

schema = load_schema(Path("prisma/schema.prisma"))
transform_schema(schema, "postgresql")                   # the schema text for the deployed app
executor = connect("postgresql://…")                     # or libsql://… with a token, or file:…
migrate(executor, schema, Path("prisma/migrations"))     # -> MigrationReport
import_preview(executor, schema, Path("preview.sql"))    # -> ImportReport
export_dump(executor, Path("backup.sql"), schema)        # -> ExportReport
validate_byo_url(url, allow_non_empty, schema=schema)    # -> ByoCheck, or ByoError
"""

from components.database.byo import ByoCheck, validate_byo_url
from components.database.connection import connect
from components.database.ddl import render_migration, schema_ddl
from components.database.errors import (
    ConnectionFailed,
    DatabaseError,
    DataError,
    ImportRefused,
    MigrationError,
    SchemaError,
)
from components.database.executor import Executor
from components.database.executors import PostgresExecutor, SqliteExecutor
from components.database.exporter import ExportReport, export_dump
from components.database.importer import ImportReport, TableCount, import_preview
from components.database.layout import build_layout
from components.database.migrations import MigrationReport, generated_migration, migrate
from components.database.postgres_url import ByoError
from components.database.prisma_schema import PrismaSchema, load_schema, parse_schema
from components.database.transform import transform_schema

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
