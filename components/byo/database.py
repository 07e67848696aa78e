"""ByoDatabase: the user's own PostgreSQL, checked before use and never owned by the stack (type
`pulumi-python:dynamic/byo:Database`).

Nothing is created or deleted: the resource records that the database was validated, keeps its
URL as a secret, and exposes only the host and database name in plaintext.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.typed_resource import TypedResource
from dbtools.byo import validate_byo_url


def _public(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {"host": parts.hostname or "", "database_name": parts.path.lstrip("/")}


# Stack state names this provider by this module's path and its class name: it stays here.
class ByoDatabaseProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        url = str(props["url"])
        validate_byo_url(url, allow_non_empty=bool(props.get("allow_non_empty", False)))
        parts = _public(url)
        return CreateResult(id_=f"{parts['host']}/{parts['database_name']}", outs={**props, **parts})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # The database is the user's: there is nothing of ours to drift. Report what we recorded.
        return ReadResult(id_, props, {k: props[k] for k in ("url", "allow_non_empty") if k in props})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("url") != news.get("url") or olds.get("allow_non_empty") != news.get(
            "allow_non_empty"
        )
        return DiffResult(changes=changed, replaces=[], stables=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        url = str(news["url"])
        # A changed URL (new password, new host) is validated again; the data is never touched here.
        validate_byo_url(url, allow_non_empty=True)
        return UpdateResult(outs={**news, **_public(url)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # never drop a database we did not create


@dataclass(frozen=True)
class ByoDatabaseArgs:
    url: pulumi.Input[str]
    """The PostgreSQL URL (secret; spec `database.url`): checked before use, kept encrypted in state."""
    allow_non_empty: bool = False
    """Whether a database that already holds tables may be used (spec `database.allowNonEmpty`)."""


class ByoDatabase(TypedResource, module="byo", name="Database"):
    """The user's PostgreSQL; `url` is a secret, `host` and `database_name` are plain."""

    SECRET_OUTPUTS = ("url",)

    host: pulumi.Output[str]
    database_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: ByoDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        inputs = {"url": pulumi.Output.secret(args.url), "allow_non_empty": args.allow_non_empty}
        super().__init__(ByoDatabaseProvider(), name, inputs, opts)
