"""NeonClient over httpx.MockTransport: retries (429, 423, 5xx), operation polling, failures, paging."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from components.neon.client import NeonClient, NeonOperationError, NeonOperationTimeout
from components.neon.models import Operation
from core.http import VendorAuthError, VendorError, VendorNotFound

KEY = "neon-very-secret-api-key"
PROJECT = {"id": "quiet-river-1", "name": "shop", "region_id": "aws-us-east-2", "pg_version": 17}
BRANCH = {"id": "br-misty-lake-1", "project_id": "quiet-river-1", "name": "main", "default": True}
ROLE = {"branch_id": "br-misty-lake-1", "name": "shop_owner", "password": "npg_pw"}
DATABASE = {"id": 7, "branch_id": "br-misty-lake-1", "name": "shop", "owner_name": "shop_owner"}
URI = "postgresql://shop_owner:npg_pw@ep-x.neon.tech/shop"
CONNECTION = {
    "connection_uri": URI,
    "connection_parameters": {
        "database": "shop",
        "password": "npg_pw",
        "role": "shop_owner",
        "host": "ep-x.neon.tech",
        "pooler_host": "ep-x-pooler.neon.tech",
    },
}


def op(op_id: str, status: str, action: str = "create_timeline", error: str | None = None) -> dict[str, Any]:
    data = {"id": op_id, "project_id": "quiet-river-1", "action": action, "status": status}
    return {**data, "error": error} if error else data


class Api:
    """Scripted answers per `METHOD /path`; a list answers one request per item, in order."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.seen: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.routes[f"{request.method} {request.url.path}"]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def client(self, **kwargs: Any) -> NeonClient:
        options: dict[str, Any] = {"poll_interval": 0.01, "sleep": self.sleeps.append, **kwargs}
        return NeonClient(
            KEY, base_url="http://neon/api/v2", transport=httpx.MockTransport(self.handle), **options
        )

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.seen]


def created(*operations: dict[str, Any]) -> httpx.Response:
    body = {
        "project": PROJECT,
        "branch": BRANCH,
        "roles": [ROLE],
        "databases": [DATABASE],
        "endpoints": [],
        "connection_uris": [CONNECTION],
        "operations": list(operations),
    }
    return httpx.Response(201, json=body)


OPS = "/api/v2/projects/quiet-river-1/operations"


def test_create_project_sends_the_branch_names_and_waits_for_its_operations() -> None:
    api = Api(
        {
            "POST /api/v2/projects": created(op("o1", "running"), op("o2", "finished", "start_compute")),
            f"GET {OPS}/o1": [{"operation": op("o1", "running")}, {"operation": op("o1", "finished")}],
        }
    )
    with api.client() as neon:
        project = neon.create_project(
            "shop", region_id="aws-us-east-2", database_name="shop", role_name="shop_owner"
        )
    assert json.loads(api.seen[0].content) == {
        "project": {
            "name": "shop",
            "region_id": "aws-us-east-2",
            "branch": {"database_name": "shop", "role_name": "shop_owner"},
        }
    }
    assert api.seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert api.paths() == ["POST /api/v2/projects", f"GET {OPS}/o1", f"GET {OPS}/o1"]
    assert project.project.id == "quiet-river-1"
    assert project.connection_uris[0].uri == URI
    assert "npg_pw" not in repr(project), "passwords and URIs stay out of repr"
    assert len(api.sleeps) == 2


def test_wait_false_returns_at_once() -> None:
    api = Api({"POST /api/v2/projects": created(op("o1", "running"))})
    with api.client() as neon:
        assert neon.create_project("shop", wait=False).operations[0].status == "running"
    assert len(api.seen) == 1


def test_423_locked_429_and_503_are_retried_honouring_retry_after() -> None:
    roles = "/api/v2/projects/quiet-river-1/branches/br-misty-lake-1/roles"
    api = Api(
        {
            f"POST {roles}": [
                httpx.Response(423, json={"code": "", "message": "project already has running operations"}),
                httpx.Response(429, headers={"Retry-After": "2"}, json={"code": "", "message": "slow down"}),
                httpx.Response(503, json={"code": "", "message": "unavailable"}),
                httpx.Response(201, json={"role": ROLE, "operations": []}),
            ]
        }
    )
    with api.client() as neon:
        role = neon.create_role("quiet-river-1", "br-misty-lake-1", "shop_owner")
    assert role.password == "npg_pw"
    assert len(api.seen) == 4
    assert api.sleeps[1] == 2.0


def test_423_that_never_clears_ends_in_a_clear_error() -> None:
    locked = httpx.Response(423, json={"code": "", "message": "project already has running operations"})
    api = Api({"PATCH /api/v2/projects/quiet-river-1": [locked]})
    with api.client(retries=2) as neon, pytest.raises(VendorError, match=r"423.*running operations") as error:
        neon.update_project("quiet-river-1", "new")
    assert len(api.seen) == 3
    assert KEY not in str(error.value)


def test_a_failed_operation_raises_naming_it() -> None:
    failed = op("o1", "failed", "start_compute", error="compute quota exceeded")
    api = Api(
        {
            "POST /api/v2/projects": created(op("o1", "running", "start_compute")),
            f"GET {OPS}/o1": [{"operation": op("o1", "running", "start_compute")}, {"operation": failed}],
        }
    )
    with api.client() as neon, pytest.raises(NeonOperationError) as error:
        neon.create_project("shop")
    message = str(error.value)
    assert "start_compute (o1)" in message
    assert "ended failed: compute quota exceeded" in message
    assert error.value.operation is not None
    assert KEY not in message


@pytest.mark.parametrize("status", ["error", "cancelled"])
def test_error_and_cancelled_operations_fail_too(status: str) -> None:
    api = Api({})
    with api.client() as neon, pytest.raises(NeonOperationError, match=f"ended {status}"):
        neon.wait_for_operations("quiet-river-1", [Operation.from_api(op("o9", status))])


def test_operations_still_running_time_out_with_a_clear_error() -> None:
    api = Api({f"GET {OPS}/o1": {"operation": op("o1", "running")}})
    with (
        api.client(sleep=lambda _: None) as neon,
        pytest.raises(NeonOperationTimeout, match=r"still not finished after 0\.05s: create_timeline \(o1"),
    ):
        neon.wait_for_operations("quiet-river-1", [Operation.from_api(op("o1", "running"))], timeout=0.05)


def test_skipped_and_finished_operations_need_no_polling() -> None:
    api = Api({})
    with api.client() as neon:
        done = [Operation.from_api(op("o8", "finished")), Operation.from_api(op("o9", "skipped"))]
        neon.wait_for_operations("quiet-river-1", done)
    assert api.seen == []


def test_list_projects_follows_the_cursor() -> None:
    first = [{**PROJECT, "id": f"p-{i}"} for i in range(100)]
    api = Api(
        {
            "GET /api/v2/projects": [
                {"projects": first, "pagination": {"cursor": "p-99", "limit": 100}},
                {"projects": [{**PROJECT, "id": "p-100"}], "pagination": {"cursor": "p-100", "limit": 100}},
            ]
        }
    )
    with api.client() as neon:
        projects = neon.list_projects(search="p-")
    assert len(projects) == 101
    assert api.seen[1].url.params["cursor"] == "p-99"
    assert api.seen[1].url.params["search"] == "p-"


def test_connection_uri_parameters_and_empty_delete_answers() -> None:
    branch = "/api/v2/projects/quiet-river-1/branches/br-2"
    api = Api(
        {
            "GET /api/v2/projects/quiet-river-1/connection_uri": {"uri": URI},
            f"DELETE {branch}": httpx.Response(204),
        }
    )
    with api.client() as neon:
        assert (
            neon.connection_uri("quiet-river-1", "shop", "shop_owner", branch_id="br-2", pooled=True) == URI
        )
        neon.delete_branch("quiet-river-1", "br-2")
    params = api.seen[0].url.params
    assert dict(params) == {
        "database_name": "shop",
        "role_name": "shop_owner",
        "branch_id": "br-2",
        "pooled": "true",
    }


def test_vendor_errors_are_mapped_and_never_carry_the_key() -> None:
    api = Api(
        {
            "GET /api/v2/projects/nope": httpx.Response(
                404, json={"code": "", "message": "project not found"}
            ),
            "GET /api/v2/projects": httpx.Response(
                401, json={"code": "", "message": "authentication required"}
            ),
        }
    )
    with api.client() as neon:
        with pytest.raises(VendorNotFound, match="project not found") as missing:
            neon.get_project("nope")
        with pytest.raises(VendorAuthError, match="401") as denied:
            neon.list_projects()
    assert KEY not in str(missing.value) + str(denied.value)
