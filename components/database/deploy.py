"""DatabaseSchema and PreviewData: migrations and the preview import as steps of every deploy.

Both are dynamic resources whose inputs are the content that matters (schema text, migration
checksums, the preview file's checksum) so that a redeploy with nothing new does nothing, while a
new migration or new preview data runs on the next deploy. Neither ever drops anything: deleting
the app's database removes the data; a BYO database is left as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.database.errors import ImportRefused
from components.database.executors import Executor, connect
from components.database.importer import import_preview
from components.database.migrations import migrate, read_migrations
from components.database.prisma_schema import parse_schema
from components.database.transform import transform_schema

CONNECTION = ("url", "auth_token")


@contextlib.contextmanager
def _executor(props: dict[str, Any]) -> Iterator[Executor]:
    executor = connect(str(props["url"]), props.get("auth_token") or None)
    try:
        yield executor
    finally:
        executor.close()


def _target(provider: str) -> str:
    return "turso" if provider == "turso" else "postgresql"


class SchemaProvider(ResourceProvider):
    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        schema = parse_schema(str(props["schema_text"]), str(props["schema_path"]))
        migrations_dir = Path(str(props["migrations_dir"])) if props.get("migrations_dir") else None
        with _executor(props) as executor:
            report = migrate(executor, schema, migrations_dir)
        return {
            **props,
            "tables": report.tables,
            "indexes": report.indexes,
            "applied": list(report.applied),
            "summary": report.summary,
            "transformed_schema": transform_schema(schema, _target(str(props["provider"]))),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        digest = hashlib.sha256(str(props["schema_text"]).encode()).hexdigest()[:16]
        return CreateResult(id_=f"schema-{digest}", outs=self._apply(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props, {k: v for k, v in props.items() if k in SCHEMA_INPUTS})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in SCHEMA_INPUTS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news))  # migrate() applies only what is new

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # the schema goes with its database


SCHEMA_INPUTS = (
    "provider",
    "url",
    "auth_token",
    "schema_text",
    "schema_path",
    "migrations_dir",
    "migrations",
)


class PreviewDataProvider(ResourceProvider):
    def _import(self, props: dict[str, Any]) -> dict[str, Any]:
        schema = parse_schema(str(props["schema_text"]), str(props["schema_path"]))
        with _executor(props) as executor:
            try:
                report = import_preview(
                    executor,
                    schema,
                    Path(str(props["data_path"])),
                    allow_non_empty=bool(props["allow_non_empty"]),
                )
            except ImportRefused as exc:
                # The database already holds data (e.g. the app has been used): keep it, say so.
                return {**props, "rows": 0, "tables": {}, "summary": f"data not imported: {exc}"}
        return {
            **props,
            "rows": report.rows,
            "tables": {t.table: t.rows for t in report.tables},
            "summary": report.summary,
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"preview-{str(props['checksum'])[:16]}", outs=self._import(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props, {k: v for k, v in props.items() if k in PREVIEW_INPUTS})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A new database (its URL changes on replacement) or new preview data is imported once.
        keys = ("url", "checksum", "schema_text")
        changed = [key for key in keys if olds.get(key) != news.get(key)]
        token_only = olds.get("auth_token") != news.get("auth_token")
        return DiffResult(changes=bool(changed) or token_only, replaces=[], stables=[])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if all(olds.get(k) == news.get(k) for k in ("url", "checksum", "schema_text")):
            return UpdateResult(outs={**olds, "auth_token": news.get("auth_token")})
        return UpdateResult(outs=self._import(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # imported rows belong to the app now


PREVIEW_INPUTS = ("provider", "url", "auth_token", "schema_text", "schema_path", "data_path", "checksum")


@dataclass(frozen=True)
class DatabaseContentArgs:
    provider: str  # turso | neon | byo
    url: pulumi.Input[str]
    auth_token: pulumi.Input[str] | None
    schema_path: Path
    migrations_dir: Path | None = None
    preview_data: Path | None = None
    allow_non_empty: bool = False


class SchemaResource(Resource):
    """The provider-backed resource; use DatabaseSchema."""


class PreviewDataResource(Resource):
    """The provider-backed resource; use PreviewData."""


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class DatabaseSchema(pulumi.ComponentResource):
    """The app's Prisma schema applied to its database; outputs the schema transformed for it."""

    def __init__(
        self, name: str, args: DatabaseContentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("oneclick:database:Schema", name, None, opts)
        migrations = (
            {m.name: m.checksum for m in read_migrations(args.migrations_dir)} if args.migrations_dir else {}
        )
        props = {
            "provider": args.provider,
            "url": pulumi.Output.secret(args.url),
            "auth_token": pulumi.Output.secret(args.auth_token) if args.auth_token is not None else None,
            "schema_text": args.schema_path.read_text(encoding="utf-8"),
            "schema_path": str(args.schema_path),
            "migrations_dir": str(args.migrations_dir) if args.migrations_dir else None,
            "migrations": migrations,
        }
        outs = {"tables": None, "indexes": None, "applied": None, "summary": None, "transformed_schema": None}
        self.resource = SchemaResource(
            SchemaProvider(),
            name,
            {**props, **outs},
            pulumi.ResourceOptions(parent=self, additional_secret_outputs=list(CONNECTION)),
        )
        self.summary: pulumi.Output[str] = self.resource.summary  # type: ignore[attr-defined]
        self.transformed_schema: pulumi.Output[str] = self.resource.transformed_schema  # type: ignore[attr-defined]
        self.register_outputs({"summary": self.summary})


class PreviewData(pulumi.ComponentResource):
    """The preview's rows, imported once into the migrated database."""

    def __init__(
        self,
        name: str,
        args: DatabaseContentArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("oneclick:database:PreviewData", name, None, opts)
        assert args.preview_data is not None
        props = {
            "provider": args.provider,
            "url": pulumi.Output.secret(args.url),
            "auth_token": pulumi.Output.secret(args.auth_token) if args.auth_token is not None else None,
            "schema_text": args.schema_path.read_text(encoding="utf-8"),
            "schema_path": str(args.schema_path),
            "data_path": str(args.preview_data),
            "checksum": _file_sha256(args.preview_data),
            "allow_non_empty": args.allow_non_empty,
        }
        self.resource = PreviewDataResource(
            PreviewDataProvider(),
            name,
            {**props, "rows": None, "tables": None, "summary": None},
            pulumi.ResourceOptions(parent=self, additional_secret_outputs=list(CONNECTION)),
        )
        self.summary: pulumi.Output[str] = self.resource.summary  # type: ignore[attr-defined]
        self.rows: pulumi.Output[int] = self.resource.rows  # type: ignore[attr-defined]
        self.register_outputs({"summary": self.summary})
