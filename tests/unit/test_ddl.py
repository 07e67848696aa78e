"""DDL from Prisma schemas: byte for byte what Prisma's schema engine prints (prisma_golden/README.md)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dbtools.ddl import schema_ddl
from dbtools.errors import SchemaError
from dbtools.layout import build_layout, constraint_name
from dbtools.migrations import generated_migration
from dbtools.prisma_schema import load_schema, parse_schema

GOLDEN = Path(__file__).parent / "prisma_golden"
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "prisma" / "schema.prisma"
SHOP_MIGRATION = SHOP.parent / "migrations" / "20250101000000_init" / "migration.sql"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_shop_ddl_is_prismas(dialect: str) -> None:
    assert schema_ddl(load_schema(SHOP), dialect) == (GOLDEN / f"shop.{dialect}.sql").read_text()


def test_shop_migrations_folder_is_the_generated_sqlite_migration() -> None:
    migration = generated_migration(load_schema(SHOP), "sqlite")
    assert migration.name == "0_init"
    assert SHOP_MIGRATION.read_text() == migration.sql


def test_postgresql_kitchen_sink_is_prismas() -> None:
    """Native types, lists and list defaults, mapped enums, BigInt autoincrement, composite ids, named
    constraints, sort orders, a self many-to-many relation and names cut to 63 characters."""
    schema = load_schema(GOLDEN / "kitchen_sink.postgresql.prisma")
    assert schema_ddl(schema, "postgresql") == (GOLDEN / "kitchen_sink.postgresql.sql").read_text()


def test_sqlite_kitchen_sink_is_prismas_except_a_quoted_json_default() -> None:
    schema = load_schema(GOLDEN / "kitchen_sink.sqlite.prisma")
    prisma = (GOLDEN / "kitchen_sink.sqlite.sql").read_text()
    # Prisma leaves a Json default unquoted, which SQLite cannot parse; ours is quoted.
    expected = prisma.replace('DEFAULT {"a": 1}', "DEFAULT '{\"a\": 1}'")
    assert expected != prisma
    ours = schema_ddl(schema, "sqlite")
    assert ours == expected
    sqlite3.connect(":memory:").executescript(ours)  # and it runs


def test_index_order_is_field_uniques_then_indexes_then_compound_uniques() -> None:
    schema = load_schema(GOLDEN / "index_order.sqlite.prisma")
    assert schema_ddl(schema, "sqlite") == (GOLDEN / "index_order.sqlite.sql").read_text()


def test_sqlite_ddl_runs_and_postgres_counts_match() -> None:
    schema = load_schema(SHOP)
    db = sqlite3.connect(":memory:")
    db.executescript(schema_ddl(schema, "sqlite"))
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"User", "Category", "Product", "Tag", "Order", "OrderItem", "reviews", "_ProductToTag"} <= tables
    layout = build_layout(schema, "postgresql")
    assert (len(layout.tables), layout.index_count) == (8, 9)
    assert [e.name for e in layout.enums] == ["Role", "OrderStatus"]
    assert build_layout(schema, "sqlite").index_count == 10  # plus the join table's unique index


def test_default_constraint_names_are_cut_before_the_suffix() -> None:
    assert constraint_name("User", ["email"], "key", "postgresql") == "User_email_key"
    long = constraint_name("T" * 70, ["column"], "idx", "postgresql")
    assert len(long) == 63
    assert long.endswith("_idx")
    assert constraint_name("T" * 70, ["column"], "idx", "sqlite") == "T" * 70 + "_column_idx"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('id Int @id\n  c Unsupported("circle")', "cannot be deployed"),
        ('id Int @id\n  d DateTime @default("yesterday")', "is not an ISO 8601 date-time"),
        ('id Int @id\n  j Json @default("{nope")', "is not valid JSON"),
    ],
)
def test_what_cannot_become_ddl_is_explained(fields: str, message: str) -> None:
    schema = parse_schema(f'datasource db {{\n  provider = "sqlite"\n}}\nmodel A {{\n  {fields}\n}}\n')
    with pytest.raises(SchemaError, match=message):
        schema_ddl(schema, "postgresql")
