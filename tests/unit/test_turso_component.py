"""TursoDatabase under Pulumi mocks: no engine, no network."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.errors import SpecError
from components.turso.database import TursoDatabase, TursoDatabaseArgs
from tests.unit.pulumi_mocks import RecordingMocks


class Mocks(RecordingMocks):
    def outputs_of(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == TursoDatabase.TYPE:
            name = args.inputs["name"]
            outputs.update(
                hostname=f"{name}-o.turso.io",
                db_id="id-1",
                url=f"libsql://{name}-o.turso.io",
                auth_token="db-token",
            )
            return name, outputs
        return f"{args.name}-id", outputs


pytestmark = pytest.mark.usefixtures("monitor")


def args(name: str = "shop") -> TursoDatabaseArgs:
    return TursoDatabaseArgs(name=name, group="default", api_url="http://x", org="o", api_token="api-token")


@pulumi.runtime.test
def test_database_outputs_url_and_a_secret_token(mocks: Mocks) -> Any:
    db = TursoDatabase("shop-db", args())

    def check(values: list[Any]) -> None:
        url, hostname = values
        assert url == "libsql://shop-o.turso.io"
        assert hostname == "shop-o.turso.io"
        [dynamic] = [r for r in mocks.created if r.name == "shop-db"]
        assert dynamic.typ == "pulumi-python:dynamic/turso:Database"
        assert dynamic.inputs["group"] == "default"
        assert dynamic.inputs["org"] == "o"

    return pulumi.Output.all(db.url, db.hostname).apply(check)


@pulumi.runtime.test
def test_token_outputs_are_secret() -> Any:
    db = TursoDatabase("shop2-db", args("shop2"))
    # The engine makes it secret through additional_secret_outputs (tests/integration checks the
    # state file); the resource marks it secret itself too, which is what the mocks see.
    return pulumi.Output.from_input(db.auth_token.is_secret()).apply(
        lambda secret: None if secret else pytest.fail("token is not secret")
    )


def test_invalid_name_is_refused_before_any_resource(mocks: Mocks) -> None:
    before = len(mocks.created)
    with pytest.raises(SpecError, match=r"database\.name"):
        TursoDatabase("bad-db", args("Bad_Name"))
    assert len(mocks.created) == before
