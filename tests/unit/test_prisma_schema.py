"""Reading Prisma schemas, rewriting them for a target, and splitting migration scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtools.errors import SchemaError
from dbtools.prisma_schema import (
    Arg,
    Call,
    Ident,
    Str,
    field_names,
    load_schema,
    parse_schema,
    sort_orders,
)
from dbtools.sql_split import split_statements
from dbtools.transform import transform_schema

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "prisma" / "schema.prisma"

SCHEMA = """
// a comment
generator client {
  provider        = "prisma-client-js"
  previewFeatures = ["fullTextSearch"]
}

datasource db {
  provider = "sqlite"
  url      = env("DATABASE_URL")
}

/// Who can do what
enum Role {
  USER  @map("user")
  ADMIN
  @@map("roles")
}

model Post {
  id        String    @id @default(cuid())
  title     String    @default("it's \\"new\\"")
  views     Int       @default(-1)
  score     Float?    @default(1.5)
  tags      Tag[]
  author    User?     @relation("Writes", fields: [authorId], references: [id],
                        onDelete: Cascade, map: "p_fk")
  authorId  Int?      @map("author_id")
  createdAt DateTime  @default(now()) @updatedAt
  raw       Unsupported("circle")?

  @@unique([title, authorId], name: "titleAuthor")
  @@index([createdAt(sort: Desc), views], map: "post_recent")
  @@map("posts")
}

model User {
  id    Int    @id @default(autoincrement())
  posts Post[] @relation("Writes")
}

model Tag {
  name  String @id
  posts Post[]
}
"""


def test_blocks_fields_modifiers_and_attributes_are_read() -> None:
    schema = parse_schema(SCHEMA)
    assert schema.provider == "sqlite"
    assert schema.datasources[0].properties["url"] == Call("env", (Arg(None, Str("DATABASE_URL")),))
    assert schema.generators[0].properties["previewFeatures"] == (Str("fullTextSearch"),)
    post = schema.model("Post")
    assert post is not None
    assert post.db_name == "posts"
    assert [f.name for f in post.fields][:4] == ["id", "title", "views", "score"]
    assert post.field("id").default == Call("cuid")
    assert post.field("title").default == Str('it\'s "new"')
    assert post.field("views").default == -1
    assert post.field("score").optional
    assert post.field("score").default == 1.5
    assert post.field("tags").is_list
    assert schema.is_relation(post.field("tags"))
    relation = post.field("author").attribute("relation")
    assert relation is not None
    assert relation.arg("name") == Str("Writes")
    assert field_names(relation.arg("fields", None)) == ["authorId"]
    assert relation.arg("onDelete", None) == Ident("Cascade")
    assert post.field("authorId").db_name == "author_id"
    assert post.field("createdAt").has("updatedAt")
    assert post.field("raw").type_name == 'Unsupported("circle")'
    assert post.field("raw").optional
    index = post.block_attributes("index")[0]
    assert field_names(index.arg("fields")) == ["createdAt", "views"]
    assert sort_orders(index.arg("fields")) == ["DESC", None]
    assert index.arg("map", None) == Str("post_recent")
    role = schema.enum("Role")
    assert role is not None
    assert role.db_name == "roles"
    assert [v.db_name for v in role.values] == ["user", "ADMIN"]


def test_the_example_shop_schema_reads() -> None:
    schema = load_schema(SHOP)
    assert [m.name for m in schema.models] == [
        "User",
        "Category",
        "Product",
        "Tag",
        "Order",
        "OrderItem",
        "Review",
    ]
    assert [e.name for e in schema.enums] == ["Role", "OrderStatus"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model A {\n  id Int @id\n  id String\n}", "line 3: field A.id is defined twice"),
        ("model A {\n  id Int @id\n  b Strin\n}", "line 3: field A.b has unknown type 'Strin'"),
        ("model A {\n  id Int @id @default(\n}", "line 3"),
        ("model A {\n  name String\n}", "model A has no @id"),
        ("modle A {\n}", "line 1, column 1: unknown block; expected model, enum, datasource or generator"),
        ("model A {\n  id Int @id\n}\nmodel A {\n  id Int @id\n}", "A is defined twice"),
        ('model A {\n  id Int @id @default("x)\n}', "line 2, column 23: a character a Prisma schema cannot"),
    ],
)
def test_mistakes_name_the_line(text: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message.replace("(", r"\(")):
        parse_schema(text)


def test_missing_schema_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match=r"database\.prismaSchema: '.*nope\.prisma' does not exist"):
        load_schema(tmp_path / "nope.prisma")


def test_turso_keeps_sqlite_and_adds_the_driver_adapter_and_nothing_else() -> None:
    schema = parse_schema(SCHEMA)
    text = transform_schema(schema, "turso")
    assert 'previewFeatures = ["fullTextSearch", "driverAdapters"]' in text
    assert 'provider = "sqlite"' in text
    # Everything outside the generator block is the user's text, byte for byte.
    before, after = (
        SCHEMA.split("generator client {")[1].split("}", 1)[1],
        text.split("generator client {")[1],
    )
    assert after.split("}", 1)[1] == before
    again = transform_schema(parse_schema(text), "turso")
    assert again.count("driverAdapters") == 1


def test_postgresql_switches_the_provider_and_reads_database_url() -> None:
    text = transform_schema(load_schema(SHOP), "postgresql")
    assert 'provider = "postgresql"' in text
    assert 'url      = env("DATABASE_URL")' in text
    assert "sqlite" not in text.split("datasource db")[1].split("}")[0]
    assert text.split("enum Role")[1] == SHOP.read_text().split("enum Role")[1]
    assert parse_schema(text).provider == "postgresql"


def test_transform_refuses_unknown_targets_and_non_sqlite_schemas() -> None:
    with pytest.raises(SchemaError, match="unknown target 'mysql'"):
        transform_schema(parse_schema(SCHEMA), "mysql")
    pg = parse_schema('datasource db {\n  provider = "postgresql"\n  url = "x"\n}\n')
    with pytest.raises(SchemaError, match="provider is 'postgresql'"):
        transform_schema(pg, "turso")


def test_split_statements_knows_quotes_comments_dollar_quotes_and_triggers() -> None:
    script = """-- CreateTable
CREATE TABLE "a;b" (x TEXT DEFAULT 'it''s; fine');
/* a; comment */ INSERT INTO t VALUES ('--not a comment');
CREATE TRIGGER tr AFTER INSERT ON t BEGIN
  UPDATE t SET x = CASE WHEN 1 THEN 'a;' END;
  DELETE FROM u;
END;
BEGIN;
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
COMMIT;
-- trailing comment only
"""
    assert split_statements(script) == [
        "CREATE TABLE \"a;b\" (x TEXT DEFAULT 'it''s; fine')",
        "INSERT INTO t VALUES ('--not a comment')",
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
        "  UPDATE t SET x = CASE WHEN 1 THEN 'a;' END;\n  DELETE FROM u;\nEND",
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
    ]
