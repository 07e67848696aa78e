"""DDL for a Prisma schema, for `sqlite` (also libSQL/Turso) and `postgresql`.

The output follows what `prisma migrate diff --from-empty --to-schema-datamodel` prints: the same
steps (`-- CreateEnum`, `-- CreateTable`, `-- CreateIndex`, `-- AddForeignKey`) in the same order,
the same types (TIMESTAMP(3), DECIMAL(65,30), JSONB, SERIAL …), constraint names and quoting, so a
generated `migration.sql` reads like one Prisma wrote and Prisma's later migrations agree with it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from dbtools.errors import SchemaError
from dbtools.layout import Column, ForeignKey, Index, Layout, Table, build_layout
from dbtools.prisma_schema import Call, Ident, PrismaSchema, Str, Value

INDENT = "    "

POSTGRES_TYPES = {
    "String": "TEXT",
    "Boolean": "BOOLEAN",
    "Int": "INTEGER",
    "BigInt": "BIGINT",
    "Float": "DOUBLE PRECISION",
    "Decimal": "DECIMAL(65,30)",
    "DateTime": "TIMESTAMP(3)",
    "Json": "JSONB",
    "Bytes": "BYTEA",
}
SQLITE_TYPES = {
    "String": "TEXT",
    "Boolean": "BOOLEAN",
    "Int": "INTEGER",
    "BigInt": "BIGINT",
    "Float": "REAL",
    "Decimal": "DECIMAL",
    "DateTime": "DATETIME",
    "Json": "JSONB",  # Prisma's marker type for Json on SQLite; the value is JSON text
    "Bytes": "BLOB",
    "Enum": "TEXT",
}
# `@db.X` spellings that are not simply X in upper case.
POSTGRES_NATIVE = {
    "DoublePrecision": "DOUBLE PRECISION",
    "Timestamptz": "TIMESTAMPTZ",
    "Timetz": "TIMETZ",
    "VarChar": "VARCHAR",
    "ByteA": "BYTEA",
    "JsonB": "JSONB",
    "VarBit": "VARBIT",
}
SERIAL_TYPES = {"Int": "SERIAL", "BigInt": "BIGSERIAL", "SmallInt": "SMALLSERIAL"}


@dataclass(frozen=True)
class Step:
    kind: str  # CreateEnum, CreateTable, CreateIndex, AddForeignKey
    sql: str


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def string_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def migration_steps(layout: Layout) -> list[Step]:
    """The statements that create `layout` from an empty database, in Prisma's order."""
    steps: list[Step] = []
    if layout.dialect == "postgresql":
        for enum in layout.enums:
            values = ", ".join(string_literal(v) for v in enum.values)
            steps.append(Step("CreateEnum", f"CREATE TYPE {quote(enum.name)} AS ENUM ({values})"))
    for table in layout.tables:
        render = _postgres_table if layout.dialect == "postgresql" else _sqlite_table
        steps.append(Step("CreateTable", render(table)))
    for table in layout.tables:
        for index in table.indexes:
            steps.append(Step("CreateIndex", _index(table, index)))
    if layout.dialect == "postgresql":
        for table in layout.tables:
            for fk in table.foreign_keys:
                steps.append(
                    Step("AddForeignKey", f"ALTER TABLE {quote(table.name)} ADD {_foreign_key(fk, '')}")
                )
    return steps


def render_migration(layout: Layout) -> str:
    """A `migration.sql` text, byte for byte in Prisma's layout."""
    return "\n".join(f"-- {step.kind}\n{step.sql};\n" for step in migration_steps(layout))


def schema_ddl(schema: PrismaSchema, dialect: str) -> str:
    return render_migration(build_layout(schema, dialect))


def _index(table: Table, index: Index) -> str:
    unique = "UNIQUE " if index.unique else ""
    orders = index.orders or (None,) * len(index.columns)
    columns = ", ".join(
        quote(c) + (f" {o}" if o else "") for c, o in zip(index.columns, orders, strict=False)
    )
    return f"CREATE {unique}INDEX {quote(index.name)} ON {quote(table.name)}({columns})"


def _foreign_key(fk: ForeignKey, space: str) -> str:
    columns = ", ".join(quote(c) for c in fk.columns)
    referenced = ", ".join(quote(c) for c in fk.referenced_columns)
    return (
        f"CONSTRAINT {quote(fk.name)} FOREIGN KEY ({columns}) REFERENCES {quote(fk.referenced_table)}{space}"
        f"({referenced}) ON DELETE {fk.on_delete} ON UPDATE {fk.on_update}"
    )


# --- PostgreSQL ------------------------------------------------------------------------------------


def postgres_type(column: Column) -> str:
    native = column.native_type
    if column.autoincrement:
        key = native.name if native is not None and native.name in SERIAL_TYPES else column.scalar
        if key not in SERIAL_TYPES:
            raise SchemaError(f"column {column.name}: autoincrement() needs an Int or BigInt field")
        return SERIAL_TYPES[key]
    if column.enum is not None:
        base = quote(column.enum)
    elif native is not None:
        base = POSTGRES_NATIVE.get(native.name, native.name.upper())
        if native.args:
            base += "(" + ",".join(str(_plain(a.value)) for a in native.args) + ")"
    else:
        base = POSTGRES_TYPES[column.scalar]
    return base + ("[]" if column.is_list else "")


def _postgres_column(column: Column) -> str:
    line = f"{INDENT}{quote(column.name)} {postgres_type(column)}"
    if not column.nullable and not column.is_list:
        line += " NOT NULL"
    default = default_sql(column, "postgresql")
    if default is not None:
        line += f" DEFAULT {default}"
    return line


def _postgres_table(table: Table) -> str:
    lines = [_postgres_column(c) for c in table.columns]
    body = ",\n".join(lines)
    if table.primary_key:
        columns = ",".join(quote(c) for c in table.primary_key)
        body += f",\n\n{INDENT}CONSTRAINT {quote(table.primary_key_name)} PRIMARY KEY ({columns})"
    return f"CREATE TABLE {quote(table.name)} (\n{body}\n)"


# --- SQLite ----------------------------------------------------------------------------------------


def _sqlite_table(table: Table) -> str:
    single_pk = table.primary_key[0] if len(table.primary_key) == 1 else None
    lines = []
    for column in table.columns:
        if column.is_list:
            raise SchemaError(f"column {table.name}.{column.name}: SQLite has no list columns")
        line = f"{quote(column.name)} {SQLITE_TYPES[column.scalar]}"
        if not column.nullable:
            line += " NOT NULL"
        if column.name == single_pk:
            line += " PRIMARY KEY"
            # Prisma marks every single-column Int primary key AUTOINCREMENT on SQLite.
            if column.scalar == "Int":
                line += " AUTOINCREMENT"
        default = default_sql(column, "sqlite")
        if default is not None:
            line += f" DEFAULT {default}"
        lines.append(INDENT + line)
    body = ",\n".join(lines)
    if len(table.primary_key) > 1:
        body += f",\n\n{INDENT}PRIMARY KEY (" + ", ".join(quote(c) for c in table.primary_key) + ")"
    for fk in table.foreign_keys:
        body += f",\n{INDENT}{_foreign_key(fk, ' ')}"
    return f"CREATE TABLE {quote(table.name)} (\n{body}\n)"


# --- defaults --------------------------------------------------------------------------------------


def _plain(value: Value) -> object:
    if isinstance(value, Str):
        return value.value
    if isinstance(value, Ident):
        return value.name
    return value


def _datetime_literal(text: str) -> str:
    """Prisma renders DateTime defaults as `YYYY-MM-DD HH:MM:SS[.fff] +HH:MM`."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SchemaError(f"@default({text!r}) is not an ISO 8601 date-time") from exc
    rendered = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        rendered += f".{moment.microsecond:06d}".rstrip("0")
    offset = moment.strftime("%z") or "+0000"
    return f"{rendered} {offset[:3]}:{offset[3:]}"


def default_sql(column: Column, dialect: str) -> str | None:
    """The DEFAULT expression for a column, or None when the database holds no default."""
    value = column.default
    if value is None:
        return None
    if isinstance(value, Call):
        if value.name == "now":
            return "CURRENT_TIMESTAMP"
        if value.name == "dbgenerated":
            expression = value.args[0].value if value.args else None
            return expression.value if isinstance(expression, Str) else None
        raise SchemaError(f"column {column.name}: @default({value.name}()) is not supported")
    if isinstance(value, tuple):
        if dialect != "postgresql":
            raise SchemaError(f"column {column.name}: list defaults need PostgreSQL")
        items = ", ".join(_scalar_default(column, v, dialect) for v in value)
        return f"ARRAY[{items}]::{postgres_type(column)}"
    return _scalar_default(column, value, dialect)


def _scalar_default(column: Column, value: Value, dialect: str) -> str:
    scalar = column.scalar
    if isinstance(value, Ident):
        if value.name in ("true", "false") and scalar == "Boolean":
            return value.name
        return string_literal(value.name)  # an enum value
    if isinstance(value, bool | int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, Str):
        text = value.value
        if scalar == "DateTime":
            return string_literal(_datetime_literal(text))
        if scalar == "Json":
            try:
                json.loads(text)
            except ValueError as exc:
                raise SchemaError(f"column {column.name}: @default({text!r}) is not valid JSON") from exc
        if scalar == "Bytes":
            raw = base64.b64decode(text)
            return f"'\\x{raw.hex()}'" if dialect == "postgresql" else string_literal(raw.hex())
        return string_literal(text)
    raise SchemaError(f"column {column.name}: unsupported default {value!r}")
