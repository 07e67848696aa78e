"""AppSpec: what one deployed app is made of. Validated once, before anything is provisioned."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from components.errors import SpecError

# Stack names double as app ids: keep them DNS- and file-name-safe.
APP_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Turso: "only lowercase letters, numbers, dashes. No longer than 64 characters."
TURSO_DATABASE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TursoDatabaseSpec(StrictModel):
    provider: Literal["turso"] = "turso"
    name: str | None = Field(default=None, description="Database name; defaults to the app id.")
    group: str = Field(default="default", description="Turso group the database is created in.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not TURSO_DATABASE_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid Turso database name; use 1-64 lowercase letters, digits "
                "and dashes, starting and ending with a letter or digit (e.g. 'my-app-db')"
            )
        return value


class AppSpec(StrictModel):
    id: str = Field(description="App id; also the Pulumi stack name.")
    database: TursoDatabaseSpec = Field(default_factory=TursoDatabaseSpec)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not APP_ID.match(value):
            raise ValueError(
                f"{value!r} is not a valid app id; use 1-63 lowercase letters, digits and dashes, "
                "starting and ending with a letter or digit (e.g. 'app-123')"
            )
        return value

    @property
    def database_name(self) -> str:
        return self.database.name or self.id

    @staticmethod
    def parse(data: Any) -> AppSpec:
        """Validate a mapping; raises SpecError naming each bad field."""
        if not isinstance(data, dict):
            raise SpecError.single("(spec)", "must be a mapping of fields, e.g. {id: app-123}")
        try:
            return AppSpec.model_validate(data)
        except ValidationError as exc:
            raise SpecError.from_validation(exc) from None

    @staticmethod
    def load(path: Path) -> AppSpec:
        """Read a YAML or JSON spec file."""
        try:
            text = path.read_text()
        except OSError as exc:
            raise SpecError.single(str(path), f"cannot be read ({exc.strerror}); check the path") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise SpecError.single(str(path), f"is not valid YAML/JSON: {exc}") from None
        return AppSpec.parse(data)
