"""The app's Prisma schema, rewritten for where it is deployed.

- `turso`: still the `sqlite` provider (libSQL is SQLite), with the libSQL driver adapter switched on
  in the client generator (`previewFeatures = ["driverAdapters"]`), as `@prisma/adapter-libsql` needs.
- `postgresql` (Neon, BYO): the `postgresql` provider reading `env("DATABASE_URL")`. No field needs a
  `@db.` native type to keep its meaning: Prisma's own PostgreSQL mapping already matches what the
  SQLite preview stored (DateTime at millisecond precision → timestamp(3), Json → jsonb, Float →
  double precision, Decimal → decimal(65,30), Bytes → bytea, Int stays 32-bit, enums become types).

Prisma 7 (`prisma_version=7`, what oneclick's build runs `prisma generate` on) takes the connection
from the driver adapter only: a `url` in the datasource is an error (P1012) there, so the datasource
keeps just its provider (`sqlite` for Turso, `postgresql`), and the client generator becomes the
`prisma-client` one, generating ES modules for the Workers runtime (`runtime = "workerd"`) into the
user's `output` folder (`../generated/prisma` when none is given). `driverAdapters` is no longer a
preview feature there and is dropped from `previewFeatures`.

Only the datasource and generator blocks are rewritten; models, enums, comments and layout stay
exactly as the user wrote them.
"""

from __future__ import annotations

from typing import Literal

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
PRISMA_VERSIONS = (6, 7)
# Where Prisma 7's client is generated when the schema names no `output` (relative to the schema).
DEFAULT_CLIENT_OUTPUT = "../generated/prisma"
# Connection settings Prisma 7 refuses in a schema (they belong to the driver adapter or prisma.config.ts).
CONNECTION_PROPERTIES = ("url", "directUrl", "shadowDatabaseUrl")


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


def _prisma7_generator(block: ConfigBlock) -> dict[str, Value]:
    properties = dict(block.properties)
    features = properties.pop("previewFeatures", ())
    kept = (
        [v for v in features if isinstance(v, Str) and v.value != DRIVER_ADAPTERS]
        if isinstance(features, tuple)
        else []
    )
    properties["provider"] = Str("prisma-client")
    properties.setdefault("output", Str(DEFAULT_CLIENT_OUTPUT))
    properties["runtime"] = Str("workerd")
    properties["moduleFormat"] = Str("esm")
    properties.pop("engineType", None)  # Prisma 7 has no engine choice; the query compiler is wasm
    if kept:
        properties["previewFeatures"] = tuple(kept)
    return properties


def _prisma7_blocks(schema: PrismaSchema, provider: str) -> list[tuple[int, int, str]]:
    datasource = schema.datasources[0]
    properties = {k: v for k, v in datasource.properties.items() if k not in CONNECTION_PROPERTIES}
    properties["provider"] = Str(provider)
    replacements = [(datasource.start, datasource.end, _render_block(datasource, properties))]
    for generator in schema.generators:
        if generator.string("provider") in CLIENT_GENERATORS:
            block = _render_block(generator, _prisma7_generator(generator))
            replacements.append((generator.start, generator.end, block))
    return replacements


def transform_schema(schema: PrismaSchema, target: str, *, prisma_version: Literal[6, 7] = 6) -> str:
    """The schema text for `target`: `turso` (libSQL) or `postgresql` (Neon, BYO).

    `prisma_version=6` is what migrations and Prisma 6 clients read (the datasource reads
    `env("DATABASE_URL")` for PostgreSQL); `7` is what a Prisma 7 client is generated from.
    """
    if target not in TARGETS:
        raise SchemaError(f"unknown target {target!r}; use one of {', '.join(TARGETS)}")
    if prisma_version not in PRISMA_VERSIONS:
        raise SchemaError(f"unknown Prisma version {prisma_version!r}; use 6 or 7")
    if schema.provider != "sqlite":
        raise SchemaError(
            f"{schema.source}: the datasource provider is {schema.provider!r}; oneclick deploys "
            f'schemas written for the in-browser preview, with provider = "sqlite"'
        )
    replacements: list[tuple[int, int, str]] = []
    if prisma_version == 7:
        replacements = _prisma7_blocks(schema, "sqlite" if target == "turso" else "postgresql")
    elif target == "postgresql":
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
