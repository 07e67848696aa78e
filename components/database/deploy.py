"""DatabaseSchema and PreviewData: migrations and the preview import as steps of every deploy.

Both are dynamic resources whose inputs identify the content that matters (the schema's, each
migration's and the preview file's sha256) so that a redeploy with nothing new does nothing, while a
new migration or new preview data runs on the next deploy. No input holds a file's content (inputs
are plaintext in the state, and a spec can name any file): the program reads each file safely and
checks it before any resource exists, and the provider reads it again, refusing it if it changed.
Neither ever drops anything: deleting the app's database removes the data; a BYO database is left
as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.errors import SpecError
from components.typed_resource import TypedResource
from core.files import shown
from dbtools.connection import connect
from dbtools.errors import DatabaseError, DataError, ImportRefused, SchemaError
from dbtools.executor import Executor
from dbtools.importer import import_preview
from dbtools.migrations import migrate, read_migrations
from dbtools.preview_data import open_preview, read_preview
from dbtools.prisma_schema import PrismaSchema, parse_schema, read_schema_text
from dbtools.transform import transform_schema

CONNECTION = ("url", "auth_token")
SCHEMA_FIELD = "database.prismaSchema"


@contextlib.contextmanager
def _executor(props: dict[str, Any]) -> Iterator[Executor]:
    byo = props.get("provider") == "byo"  # a tenant's own URL: the service's network policy applies
    executor = connect(str(props["url"]), props.get("auth_token") or None, byo=byo)
    try:
        yield executor
    finally:
        executor.close()


def _target(provider: str) -> str:
    return "turso" if provider == "turso" else "postgresql"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _schema(props: dict[str, Any]) -> PrismaSchema:
    """The schema the program checked, read again from its file (the inputs hold its checksum only)."""
    path = Path(str(props["schema_path"]))
    text = read_schema_text(path, SCHEMA_FIELD)
    if _sha256(text) != props["schema_sha256"]:
        raise SchemaError(f"{SCHEMA_FIELD}: {shown(path)} changed during the deploy; deploy again")
    return parse_schema(text, f"{SCHEMA_FIELD}: {shown(path)}")


def _old_schema_sha256(olds: dict[str, Any]) -> str | None:
    """The schema checksum of a state written before inputs held checksums (they held the text)."""
    if olds.get("schema_sha256"):
        return str(olds["schema_sha256"])
    legacy = olds.get(LEGACY_SCHEMA_TEXT)
    return _sha256(str(legacy)) if legacy is not None else None


# Inputs used to hold the schema's text; a state that still does is updated once, which drops it.
LEGACY_SCHEMA_TEXT = "schema_text"


# Stack state names both providers by this module's path and their class names (dill pickles an
# importable class by reference), so they stay here under these names.
class SchemaProvider(ResourceProvider):
    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        schema = _schema(props)
        migrations_dir = Path(str(props["migrations_dir"])) if props.get("migrations_dir") else None
        if migrations_dir is not None:
            found = {m.name: m.checksum for m in read_migrations(migrations_dir)}
            if found != (props.get("migrations") or {}):
                raise DatabaseError(
                    f"database.migrations: {shown(migrations_dir)} changed during the deploy; deploy again"
                )
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
        return CreateResult(id_=f"schema-{str(props['schema_sha256'])[:16]}", outs=self._apply(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props, {k: v for k, v in props.items() if k in SCHEMA_INPUTS})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # What is deployed, not where the files lie: the service unpacks them afresh for each deploy.
        changed = [key for key in SCHEMA_DIFFED if olds.get(key) != news.get(key)]
        moved = bool(olds.get("migrations_dir")) != bool(news.get("migrations_dir"))
        legacy = LEGACY_SCHEMA_TEXT in olds
        return DiffResult(changes=bool(changed) or moved or legacy, replaces=[], stables=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._apply(news))  # migrate() applies only what is new

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # the schema goes with its database


# No input holds a file's content: a spec can name any file, and inputs are stored in plaintext.
SCHEMA_INPUTS = (
    "provider",
    "url",
    "auth_token",
    "schema_sha256",
    "schema_path",
    "migrations_dir",
    "migrations",
)
SCHEMA_DIFFED = ("provider", "url", "auth_token", "schema_sha256", "migrations")


class PreviewDataProvider(ResourceProvider):
    def _import(self, props: dict[str, Any]) -> dict[str, Any]:
        schema = _schema(props)
        path = Path(str(props["data_path"]))
        preview = open_preview(path, schema)
        try:
            if preview.checksum != props["checksum"]:
                changed = f"{shown(path)} changed during the deploy; deploy again"
                raise DataError(f"database.previewData: {changed}")
            with _executor(props) as executor:
                try:
                    report = import_preview(
                        executor, schema, preview, allow_non_empty=bool(props["allow_non_empty"])
                    )
                except ImportRefused as exc:
                    # The database already holds data (e.g. the app has been used): keep it, say so.
                    return {**props, "rows": 0, "tables": {}, "summary": f"data not imported: {exc}"}
        finally:
            preview.close()
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

    @staticmethod
    def _same_data(olds: dict[str, Any], news: dict[str, Any]) -> bool:
        """A new database (its URL changes on replacement), new data or a new schema import again."""
        return (
            olds.get("url") == news.get("url")
            and olds.get("checksum") == news.get("checksum")
            and _old_schema_sha256(olds) == news.get("schema_sha256")
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        token_only = olds.get("auth_token") != news.get("auth_token")
        legacy = LEGACY_SCHEMA_TEXT in olds
        changes = not self._same_data(olds, news) or token_only or legacy
        return DiffResult(changes=changes, replaces=[], stables=[])

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if self._same_data(olds, news):
            kept = {k: v for k, v in olds.items() if k != LEGACY_SCHEMA_TEXT}
            inputs = {k: news.get(k) for k in (*PREVIEW_INPUTS, "allow_non_empty")}
            return UpdateResult(outs={**kept, **inputs})
        return UpdateResult(outs=self._import(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # imported rows belong to the app now


PREVIEW_INPUTS = ("provider", "url", "auth_token", "schema_sha256", "schema_path", "data_path", "checksum")


@dataclass(frozen=True)
class DatabaseContentArgs:
    provider: str
    """The database's kind: turso | neon | byo (chooses the SQL dialect and the network policy)."""
    url: pulumi.Input[str]
    """The database's URL (secret for PostgreSQL: it embeds the password)."""
    auth_token: pulumi.Input[str] | None
    """Turso's auth token (secret); None for PostgreSQL."""
    schema_path: Path
    """The Prisma schema (spec `database.prismaSchema`); only its sha256 reaches the state."""
    migrations_dir: Path | None = None
    """Prisma migrations to apply in order (spec `database.migrations`); None: the schema as is."""
    preview_data: Path | None = None
    """The preview rows to import once (spec `database.previewData`); PreviewData only."""
    allow_non_empty: bool = False
    """Whether the preview import may go into a database that already holds rows."""


def checked_schema(path: Path) -> str:
    """The schema's text, read safely and parsed here, in the program: a file that is not a Prisma
    schema stops the deploy before any resource is made, and neither its text nor any of it reaches
    the stack's state or the error."""
    try:
        text = read_schema_text(path, SCHEMA_FIELD)
        parse_schema(text, shown(path))
    except SchemaError as exc:
        raise _spec_error(SCHEMA_FIELD, exc, "fix the schema and deploy again") from None
    return text


def _spec_error(field: str, exc: Exception, fix: str = "") -> SpecError:
    """`exc` as a SpecError naming `field` (once), for the program to report without a traceback."""
    message = str(exc).removeprefix(f"{field}: ")
    return SpecError.single(field, f"{message}; {fix}" if fix and "; " not in message else message)


class DatabaseSchema(TypedResource, module="database", name="Schema"):
    """The app's Prisma schema applied to its database; outputs the schema transformed for it."""

    SECRET_OUTPUTS = CONNECTION

    tables: pulumi.Output[int]
    indexes: pulumi.Output[int]
    applied: pulumi.Output[list[str]]
    summary: pulumi.Output[str]
    transformed_schema: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseContentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        text = checked_schema(args.schema_path)
        try:
            found = read_migrations(args.migrations_dir) if args.migrations_dir else []
        except DatabaseError as exc:
            raise _spec_error("database.migrations", exc) from None
        inputs = {
            "provider": args.provider,
            "url": pulumi.Output.secret(args.url),
            "auth_token": pulumi.Output.secret(args.auth_token) if args.auth_token is not None else None,
            "schema_sha256": _sha256(text),
            "schema_path": str(args.schema_path),
            "migrations_dir": str(args.migrations_dir) if args.migrations_dir else None,
            "migrations": {m.name: m.checksum for m in found},
        }
        super().__init__(SchemaProvider(), name, inputs, opts)


class PreviewData(TypedResource, module="database", name="PreviewData"):
    """The preview's rows, imported once into the migrated database."""

    SECRET_OUTPUTS = CONNECTION

    rows: pulumi.Output[int]
    tables: pulumi.Output[dict[str, int]]
    summary: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseContentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        if args.preview_data is None:
            raise SpecError.single("database.previewData", "is not set; name the preview file to import")
        text = checked_schema(args.schema_path)
        try:
            _, checksum = read_preview(args.preview_data)
        except DataError as exc:
            raise _spec_error("database.previewData", exc) from None
        inputs = {
            "provider": args.provider,
            "url": pulumi.Output.secret(args.url),
            "auth_token": pulumi.Output.secret(args.auth_token) if args.auth_token is not None else None,
            "schema_sha256": _sha256(text),
            "schema_path": str(args.schema_path),
            "data_path": str(args.preview_data),
            "checksum": checksum,
            "allow_non_empty": args.allow_non_empty,
        }
        super().__init__(PreviewDataProvider(), name, inputs, opts)
