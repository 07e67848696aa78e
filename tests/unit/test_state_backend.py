"""The service's PostgreSQL backend URL, and the DIY layout read the same on any backend."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from automation.environment import pulumi_env, service_backend_url
from automation.stack_locks import locks_in
from automation.state_blobs import FileBlobs, PostgresBlobs, has_stack, lock_keys, stack_names
from components.targets import TargetError


def test_the_service_backend_is_a_schema_of_its_own_database() -> None:
    url = service_backend_url(
        "postgresql://svc:p%40ss@db.internal:5433/oneclick?sslmode=verify-full&channel_binding=require"
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "postgres",
        "svc:p%40ss@db.internal:5433",
        "/oneclick",
    )
    query = parse_qs(parts.query)
    assert query == {
        "sslmode": ["verify-full"],
        "options": ["-csearch_path=pulumi"],
    }  # lib/pq lacks channel_binding
    assert parse_qs(urlsplit(service_backend_url("postgresql://u@h/d")).query)["sslmode"] == ["prefer"]
    given = parse_qs(
        urlsplit(service_backend_url("postgresql://u@h/d?options=-cstatement_timeout%3D0")).query
    )
    assert given["options"] == ["-cstatement_timeout=0 -csearch_path=pulumi"]
    blobs = PostgresBlobs(url)
    assert (blobs.schema, blobs.table, blobs.prefix) == ("pulumi", "pulumi_state", "oneclick/")
    assert PostgresBlobs(url + "&table=state").table == "state"


def test_a_key_value_database_url_names_the_fix() -> None:
    with pytest.raises(TargetError, match="PULUMI_BACKEND_URL"):
        service_backend_url("host=db dbname=oneclick")


def test_listing_in_parallel_is_off_on_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", service_backend_url("postgresql://u@h/d"))
    assert pulumi_env(True)["PULUMI_DIY_BACKEND_PARALLEL"] == "1"
    monkeypatch.setenv("PULUMI_BACKEND_URL", "file:///tmp/x")
    assert "PULUMI_DIY_BACKEND_PARALLEL" not in pulumi_env(True)


def test_stacks_and_locks_are_read_from_the_layout(tmp_path: Path) -> None:
    blobs = FileBlobs(tmp_path)
    for key in (
        ".pulumi/stacks/oneclick/app-1.json",
        ".pulumi/stacks/oneclick/app-1.json.bak",
        ".pulumi/stacks/oneclick/app-2.json.attrs",
        ".pulumi/stacks/oneclick/app-3.json.gz",
        ".pulumi/stacks/other/app-9.json",
    ):
        blobs.write(key, b"{}")
    assert stack_names(blobs, "oneclick") == ["app-1", "app-3"]
    assert has_stack(blobs, "oneclick", "app-1")
    assert has_stack(blobs, "oneclick", "app-3")  # gzipped
    assert not has_stack(blobs, "oneclick", "app-2")  # only go-cloud's attributes
    assert not has_stack(blobs, "oneclick", "app-9")  # another project's
    blobs.write(
        ".pulumi/locks/organization/oneclick/app-1/abc.json",
        b'{"pid": 42, "hostname": "host-a", "timestamp": "2026-01-05T12:00:00Z"}',
    )
    blobs.write(".pulumi/locks/organization/oneclick/app-1/bad.json", b"not json")
    assert len(lock_keys(blobs, "app-1")) == 2
    assert lock_keys(blobs, "app-3") == []
    locks = {lock.key.rsplit("/", 1)[1]: lock for lock in locks_in(blobs, "app-1")}
    assert (locks["abc.json"].hostname, locks["abc.json"].pid) == ("host-a", 42)
    assert locks["abc.json"].timestamp is not None
    assert (locks["bad.json"].pid, locks["bad.json"].timestamp) == (0, None)  # still a lock
