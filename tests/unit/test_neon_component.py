"""NeonProject under Pulumi mocks: no engine, no network."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from google.protobuf.json_format import MessageToDict
from pulumi.runtime import rpc

from components.errors import SpecError
from components.neon.project import NeonProject, NeonProjectArgs
from tests.unit.pulumi_mocks import RecordingMocks
from tests.unit.pulumi_mocks import RecordingMonitor as Monitor

URI = "postgresql://app_owner_k3j9x2ab:npg_secret@127.0.0.1:5432/app_q8w7e6r5"


pytestmark = pytest.mark.usefixtures("monitor")


class Mocks(RecordingMocks):
    def outputs_of(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == NeonProject.TYPE:
            outputs.update(
                project_id="quiet-river-12345678",
                branch_id="br-misty-lake-a1b2c3d4",
                host="127.0.0.1:5432",
                connection_uri=URI,
            )
            return "quiet-river-12345678", outputs
        return f"{args.name}-id", outputs


def args(**changes: Any) -> NeonProjectArgs:
    values: dict[str, Any] = {
        "project_name": "shop",
        "region_id": "aws-eu-central-1",
        "database_name": "shop",
        "role_name": "shop_owner",
        "api_url": "http://127.0.0.1:1/api/v2",
        "api_key": "neon-api-key",
        **changes,
    }
    return NeonProjectArgs(**values)


@pulumi.runtime.test
def test_project_outputs_host_ids_and_names(mocks: Mocks) -> Any:
    neon = NeonProject("shop-db", args())

    def check(values: list[Any]) -> None:
        project_id, branch_id, host, database_name, role_name = values
        assert project_id == "quiet-river-12345678"
        assert branch_id.startswith("br-")
        assert host == "127.0.0.1:5432"
        assert (database_name, role_name) == ("shop", "shop_owner")
        [dynamic] = [r for r in mocks.created if r.name == "shop-db"]
        assert dynamic.inputs["region_id"] == "aws-eu-central-1"
        assert dynamic.inputs["project_name"] == "shop"
        assert dynamic.typ == "pulumi-python:dynamic/neon:Project", "the resource itself, no wrapper"

    return pulumi.Output.all(
        neon.project_id, neon.branch_id, neon.host, neon.database_name, neon.role_name
    ).apply(check)


@pulumi.runtime.test
def test_connection_uri_is_secret() -> Any:
    neon = NeonProject("secret-db", args())

    def check(values: list[Any]) -> None:
        secret, uri = values
        assert secret, "connection_uri is not secret"
        assert uri == URI

    return pulumi.Output.all(
        pulumi.Output.from_input(neon.connection_uri.is_secret()), neon.connection_uri
    ).apply(check)


@pulumi.runtime.test
def test_api_key_and_uri_are_secret_in_the_registration(monitor: Monitor) -> Any:
    neon = NeonProject("key-db", args())

    def check(_: Any) -> None:
        request = [r for r in monitor.requests if r.type == NeonProject.TYPE][-1]
        assert sorted(request.additionalSecretOutputs) == ["api_key", "connection_uri"]
        inputs = MessageToDict(request.object)
        assert rpc.is_rpc_secret(inputs["api_key"]), "the API key must reach the provider as a secret"
        assert not rpc.is_rpc_secret(inputs["project_name"])

    return neon.project_id.apply(check)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"database_name": "Shop-DB"}, "database.database_name", "not a valid database name"),
        ({"role_name": "pg_owner"}, "database.role_name", "reserved by Neon"),
        ({"database_name": "template1"}, "database.database_name", "reserved by Neon"),
        ({"region_id": "Mars"}, "database.region", "not a Neon region id"),
        ({"project_name": ""}, "database.project_name", "not a valid Neon project name"),
        ({"api_url": "console.neon.tech"}, "api_url", "not an http(s) URL"),
    ],
)
def test_bad_names_are_refused_naming_the_field(
    mocks: Mocks, changes: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(SpecError) as refused:
        NeonProject("bad-db", args(**changes))
    assert refused.value.problems[0][0] == field
    assert message in refused.value.problems[0][1]
    assert mocks.created == []


def test_every_bad_name_is_reported_at_once() -> None:
    with pytest.raises(SpecError) as refused:
        args(database_name="1db", role_name="Bad Role")
    assert [field for field, _ in refused.value.problems] == ["database.database_name", "database.role_name"]
