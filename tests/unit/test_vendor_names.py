"""The deploy service's vendor names: only those derived from the app id are accepted."""

from __future__ import annotations

import pytest

from components.spec import AppSpec
from service.errors import ApiError
from service.vendor_names import check_vendor_names, foreign_names, spec_error


def spec(**database: str) -> AppSpec:
    return AppSpec.parse({"id": "shop", "database": {"provider": "turso", **database}})


def test_the_derived_name_given_or_left_out_is_accepted() -> None:
    assert foreign_names(spec()) == []
    assert foreign_names(spec(name="shop")) == []
    check_vendor_names(spec(name="shop"))
    assert spec_error(spec()) is None


def test_another_name_is_refused_naming_the_field_and_the_fix() -> None:
    with pytest.raises(ApiError) as refused:
        check_vendor_names(spec(name="someone-elses-db"))
    error = refused.value.body()["error"]
    assert refused.value.status == 422
    assert error["field"] == "database.name"
    assert "'someone-elses-db'" in error["message"]
    assert error["fix"].startswith("omit database.name (the name is 'shop')")
    worker = spec_error(spec(name="someone-elses-db"))
    assert worker is not None
    assert worker.problems[0][0] == "database.name"
