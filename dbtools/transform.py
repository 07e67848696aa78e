"""The app's Prisma schema, rewritten for where it is deployed.

- `turso`: still the `sqlite` provider (libSQL is SQLite), with the libSQL driver adapter switched on
  in the client generator (`previewFeatures = ["driverAdapters"]`), as `@prisma/adapter-libsql` needs.
- `postgresql` (Neon, BYO): the `postgresql` provider reading `env("DATABASE_URL")`. No field needs a
  `@db.` native type to keep its meaning: Prisma's own PostgreSQL mapping already matches what the
  SQLite preview stored (DateTime at millisecond precision → timestamp(3), Json → jsonb, Float →
  double precision, Decimal → decimal(65,30), Bytes → bytea, Int stays 32-bit, enums become types).

Only the datasource and generator blocks are rewritten; models, enums, comments and layout stay
exactly as the user wrote them.
"""

from __future__ import annotations

from dbtools.errors import SchemaError
from dbtools.prisma_schema import (
    Arg,
    Call,
    ConfigBlock,
    Ident,
    PrismaSchema,
    Str,
    Value,
    parse_schema,
)

TARGETS = ("turso", "postgresql")
DRIVER_ADAPTERS = "driverAdapters"
CLIENT_GENERATORS = ("prisma-client-js", "prisma-client")


def render_value(value: Value) -> str:
    if isinstance(value, Str):
        return '"' + value.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, Ident):
        return value.name
    if isinstance(value, Call):
        args = ", ".join((f"{a.name}: " if a.name else "") + render_value(a.value) for a in value.args)
        return f"{value.name}({args})"
    return str(value)


def _render_block(block: ConfigBlock, properties: dict[str, Value]) -> str:
    width = max((len(k) for k in properties), default=0)
    lines = [f"  {key.ljust(width)} = {render_value(value)}" for key, value in properties.items()]
    return f"{block.kind} {block.name} {{\n" + "\n".join(lines) + "\n}"


def _with_driver_adapters(block: ConfigBlock) -> dict[str, Value]:
    properties = dict(block.properties)
    features = properties.get("previewFeatures")
    current = [v.value for v in features if isinstance(v, Str)] if isinstance(features, tuple) else []
    if DRIVER_ADAPTERS not in current:
        current.append(DRIVER_ADAPTERS)
    properties["previewFeatures"] = tuple(Str(v) for v in current)
    return properties


def transform_schema(schema: PrismaSchema, target: str) -> str:
    """The schema text for `target`: `turso` (libSQL) or `postgresql` (Neon, BYO)."""
    if target not in TARGETS:
        raise SchemaError(f"unknown target {target!r}; use one of {', '.join(TARGETS)}")
    if schema.provider != "sqlite":
        raise SchemaError(
            f"{schema.source}: the datasource provider is {schema.provider!r}; oneclick deploys "
            f'schemas written for the in-browser preview, with provider = "sqlite"'
        )
    replacements: list[tuple[int, int, str]] = []
    if target == "postgresql":
        datasource = schema.datasources[0]
        properties = dict(datasource.properties)
        properties["provider"] = Str("postgresql")
        properties["url"] = Call("env", (Arg(None, Str("DATABASE_URL")),))
        replacements.append((datasource.start, datasource.end, _render_block(datasource, properties)))
    else:
        for generator in schema.generators:
            if generator.string("provider") in CLIENT_GENERATORS:
                block = _render_block(generator, _with_driver_adapters(generator))
                replacements.append((generator.start, generator.end, block))
    text = schema.text
    for start, end, block in sorted(replacements, reverse=True):
        text = text[:start] + block + text[end:]
    parse_schema(text, schema.source)  # what we hand back must itself be a readable schema
    return text
