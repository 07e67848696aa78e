"""GeneratedSecret: a random value made once at create time and kept (encrypted) in state.

Used for values the app needs but nobody supplies, such as NEXTAUTH_SECRET: it must stay the same
across redeploys (sessions would break otherwise), so it cannot be generated in the program.
"""

from __future__ import annotations

import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider

from components.typed_resource import TypedResource


class GeneratedSecretProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        value = secrets.token_urlsafe(int(props["bytes"]))
        return CreateResult(id_=secrets.token_hex(8), outs={**props, "value": value})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props, {"bytes": props.get("bytes", 32)})  # nothing remote to drift

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["bytes"] if olds.get("bytes") != news.get("bytes") else []
        return DiffResult(changes=bool(replaces), replaces=replaces, stables=["value"])


class GeneratedSecret(TypedResource, module="app", name="GeneratedSecret"):
    """`value` is a URL-safe random string of `bytes` bytes of entropy, a Pulumi secret."""

    SECRET_OUTPUTS = ("value",)

    value: pulumi.Output[str]

    def __init__(self, name: str, bytes_: int = 32, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(GeneratedSecretProvider(), name, {"bytes": bytes_}, opts)
