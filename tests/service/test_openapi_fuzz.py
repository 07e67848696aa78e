"""Schemathesis against the served OpenAPI document: no input makes the API fail with a 5xx.

Every route, the native-build ones included, must answer below 500 whatever it is sent. Bounded:
a couple of dozen examples per operation, a few hundred requests in all. No worker runs, so a
generated spec that happens to be valid is only queued.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.service.conftest import ApiServer, make_user


@pytest.fixture(scope="module")
def fuzz_token(service_db: str) -> str:
    return make_user(service_db, "business")[1]


def test_no_input_gives_a_server_error(api: ApiServer, fuzz_token: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    headers = {"Authorization": f"Bearer {fuzz_token}"}
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: Any) -> None:
            response = case.call(base_url=api.url, headers=headers, timeout=30)
            calls[case.path] = calls.get(case.path, 0) + 1
            assert response.status_code < 500, (
                f"{case.method} {case.path}: {response.status_code} {response.text[:500]}"
            )
            if response.status_code >= 400:
                assert "error" in response.json(), response.text[:500]

        no_server_error()
    assert len(calls) >= 15, calls  # every route was exercised
    assert sum(calls.values()) >= 200, calls
