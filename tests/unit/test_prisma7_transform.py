"""The Prisma 7 schema a build generates its client from: no connection in the datasource, the
`prisma-client` generator for the Workers runtime, and the user's models untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtools.errors import SchemaError
from dbtools.prisma_schema import Str, load_schema, parse_schema
from dbtools.transform import transform_schema

GOLDEN = Path(__file__).parent / "prisma_golden"
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "prisma" / "schema.prisma"

CUSTOM = """generator client {
  provider        = "prisma-client-js"
  output          = "../src/db"
  previewFeatures = ["driverAdapters", "fullTextSearchPostgres"]
  engineType      = "library"
}

generator erd {
  provider = "prisma-erd-generator"
}

datasource db {
  provider          = "sqlite"
  url               = env("DATABASE_URL")
  directUrl         = env("DIRECT_URL")
  shadowDatabaseUrl = "file:./shadow.db"
  relationMode      = "prisma"
}

model Note {
  id Int @id @default(autoincrement())
}
"""


@pytest.mark.parametrize("target", ["turso", "postgresql"])
def test_the_shop_schema_matches_its_golden_file(target: str) -> None:
    # The golden files pass `prisma validate` (Prisma 7.10.1); regenerate them when this changes.
    text = transform_schema(load_schema(SHOP), target, prisma_version=7)
    assert text == (GOLDEN / f"shop.prisma7.{target}.prisma").read_text()


@pytest.mark.parametrize(("target", "provider"), [("turso", "sqlite"), ("postgresql", "postgresql")])
def test_connection_settings_go_and_other_settings_stay(target: str, provider: str) -> None:
    schema = parse_schema(transform_schema(parse_schema(CUSTOM), target, prisma_version=7))
    datasource = schema.datasources[0]
    assert datasource.properties == {"provider": Str(provider), "relationMode": Str("prisma")}
    client, erd = schema.generators
    assert client.properties == {
        "provider": Str("prisma-client"),
        "output": Str("../src/db"),  # the user's folder: their imports name it
        "runtime": Str("workerd"),
        "moduleFormat": Str("esm"),
        "previewFeatures": (Str("fullTextSearchPostgres"),),
    }
    assert erd.properties == {"provider": Str("prisma-erd-generator")}
    assert schema.model("Note") is not None


def test_a_generator_without_output_gets_the_default_folder_and_no_empty_feature_list() -> None:
    text = transform_schema(load_schema(SHOP), "turso", prisma_version=7)
    generator = parse_schema(text).generators[0]
    assert generator.string("output") == "../generated/prisma"
    assert "previewFeatures" not in generator.properties
    assert transform_schema(parse_schema(text), "turso", prisma_version=7) == text  # a fixed point


def test_everything_outside_the_two_blocks_is_the_users_text() -> None:
    original = SHOP.read_text()
    text = transform_schema(load_schema(SHOP), "postgresql", prisma_version=7)
    assert text.split("enum Role", 1)[1] == original.split("enum Role", 1)[1]
    assert text.split("generator client", 1)[0] == original.split("generator client", 1)[0]


def test_prisma_6_output_is_unchanged_by_default() -> None:
    schema = load_schema(SHOP)
    assert transform_schema(schema, "postgresql") == transform_schema(schema, "postgresql", prisma_version=6)
    assert 'env("DATABASE_URL")' in transform_schema(schema, "postgresql")


def test_an_unknown_prisma_version_is_refused() -> None:
    with pytest.raises(SchemaError, match="unknown Prisma version 5; use 6 or 7"):
        transform_schema(load_schema(SHOP), "turso", prisma_version=5)  # type: ignore[arg-type]
