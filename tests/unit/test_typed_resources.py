"""Typed dynamic resources under Pulumi mocks: their type, outputs, secrets and the aliases that keep
deployed stacks from replacing them."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import textwrap
from typing import Any

import pulumi
import pytest
from google.protobuf.json_format import MessageToDict

from components.byo.database import ByoDatabase, ByoDatabaseArgs
from components.cloudflare.domain import CustomDomainArgs
from components.cloudflare.pages import PagesProjectArgs
from components.commands import LocalCommand
from components.database.deploy import DatabaseContentArgs
from components.generated_secret import GeneratedSecret
from components.neon.project import NeonProjectArgs
from components.project_files import ProjectFiles
from components.turso.database import TursoDatabase, TursoDatabaseArgs
from components.typed_resource import TypedResource
from tests.unit.pulumi_mocks import RecordingMocks
from tests.unit.pulumi_mocks import RecordingMonitor as Monitor

pytestmark = pytest.mark.usefixtures("monitor")


class Mocks(RecordingMocks):
    def outputs_of(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == TursoDatabase.TYPE:
            outputs.update(url="libsql://shop-o.turso.io", auth_token="db-token")
        if args.typ == ByoDatabase.TYPE:
            outputs.update(host="db.example.com", database_name="app")
        return f"{args.name}-id", outputs


class Parent(pulumi.ComponentResource):
    def __init__(self) -> None:
        super().__init__("oneclick:app:App", "shop")


def request_of(monitor: Monitor, name: str) -> dict[str, Any]:
    [request] = [r for r in monitor.requests if r.name == name]
    found: dict[str, Any] = MessageToDict(request)
    return found


def test_each_resource_names_its_own_type() -> None:
    assert TursoDatabase.TYPE == "pulumi-python:dynamic/turso:Database"
    assert GeneratedSecret.TYPE == "pulumi-python:dynamic/app:GeneratedSecret"
    assert ProjectFiles.TYPE == "pulumi-python:dynamic/app:ProjectFiles"
    assert LocalCommand.TYPE == "pulumi-python:dynamic/command:Local"


def test_outputs_are_the_annotated_attributes_in_their_order() -> None:
    assert TursoDatabase.OUTPUTS == ("name", "db_id", "hostname", "url", "auth_token", "primary_region")
    assert ByoDatabase.OUTPUTS == ("host", "database_name", "url")

    class Sub(ByoDatabase, module="byo", name="Sub"):  # a subclass adds to what it inherits
        extra: pulumi.Output[str]
        plain: int  # not an output

    assert Sub.OUTPUTS == ("host", "database_name", "url", "extra")


def test_a_subclass_that_names_no_type_is_refused_when_defined() -> None:
    # The SDK would give it `pulumi-python:dynamic:Resource`: a silent change of identity.
    with pytest.raises(TypeError, match="Untyped: name its type"):

        class Untyped(ByoDatabase):
            pass


@pytest.mark.parametrize(
    "args",
    [
        TursoDatabaseArgs,
        NeonProjectArgs,
        PagesProjectArgs,
        CustomDomainArgs,
        ByoDatabaseArgs,
        DatabaseContentArgs,
    ],
)
def test_every_args_field_has_its_own_docstring(args: type[Any]) -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(args)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    documented = {
        stmt.target.id
        for stmt, after in itertools.pairwise(body)
        if isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.target, ast.Name)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
    }
    assert {f.name for f in dataclasses.fields(args)} == documented


@pulumi.runtime.test
def test_a_wrapped_resource_aliases_its_old_place_under_its_wrapper(monitor: Monitor) -> Any:
    parent = Parent()
    args = TursoDatabaseArgs(name="shop", group="default", api_url="http://x", org="o", api_token="t")
    db = TursoDatabase("shop-db", args, pulumi.ResourceOptions(parent=parent))

    def check(values: list[Any]) -> None:
        parent_urn = values[0]
        request = request_of(monitor, "shop-db")
        assert request["type"] == TursoDatabase.TYPE
        assert request["parent"] == parent_urn, "the wrapper's place: right under App"
        [alias] = request["aliases"]
        assert alias["spec"]["type"] == "pulumi-python:dynamic:Resource"
        wrapper = parent_urn.replace("::shop", "$oneclick:turso:Database::shop-db")
        assert alias["spec"]["parentUrn"] == wrapper
        assert sorted(request["additionalSecretOutputs"]) == ["api_token", "auth_token"]

    return pulumi.Output.all(parent.urn, db.url).apply(check)


@pulumi.runtime.test
def test_a_resource_that_had_no_wrapper_aliases_the_old_type_under_the_same_parent(monitor: Monitor) -> Any:
    secret = GeneratedSecret("shop-secret", opts=pulumi.ResourceOptions(parent=Parent()))

    def check(_: Any) -> None:
        request = request_of(monitor, "shop-secret")
        [alias] = request["aliases"]
        assert alias["spec"]["type"] == "pulumi-python:dynamic:Resource"
        assert not alias["spec"].get("parentUrn"), "name and parent as they are"
        assert request["additionalSecretOutputs"] == ["value"]

    return secret.value.apply(check)


@pulumi.runtime.test
def test_a_wrapped_resource_at_the_stack_root_aliases_a_root_wrapper(monitor: Monitor) -> Any:
    byo = ByoDatabase("mine-db", ByoDatabaseArgs(url="postgresql://u:pw@db.example.com/app"))

    def check(_: Any) -> None:
        [alias] = request_of(monitor, "mine-db")["aliases"]
        # The engine leaves the root stack resource out of URNs: so did the wrapper's.
        assert alias["spec"]["parentUrn"] == "urn:pulumi:stack::project::oneclick:byo:Database::mine-db"

    return byo.host.apply(check)


@pulumi.runtime.test
def test_secret_outputs_are_secret_in_the_program_too() -> Any:
    byo = ByoDatabase("sec-db", ByoDatabaseArgs(url="postgresql://u:pw@db.example.com/app"))

    def check(values: list[Any]) -> None:
        url_secret, host_secret = values
        assert url_secret, "the URL embeds the password"
        assert not host_secret

    return pulumi.Output.all(byo.url.is_secret(), byo.host.is_secret()).apply(check)


def test_a_resource_class_has_a_type_only_when_declared_with_one() -> None:
    assert issubclass(TursoDatabase, TypedResource)
    assert "/" in TursoDatabase.TYPE.split(":", 1)[1], "module= was given: not the SDK's one dynamic type"
