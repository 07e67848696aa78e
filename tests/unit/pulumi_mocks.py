"""Pulumi mocks for unit tests: a recording base for each module's `Mocks`, a recording monitor, and
installing them for one test with the previous ones put back afterwards (the `monitor` fixture)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import SETTINGS


class RecordingMocks(pulumi.runtime.Mocks):
    """Keeps every resource the program registers in `created`; calls return nothing. A test module's
    `Mocks` says what a new resource's id and outputs are in `outputs_of` (by default: its inputs)."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.created.append(args)
        return self.outputs_of(args)

    def outputs_of(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(MockMonitor):
    """Keeps each registration request, so tests can see its options (secret outputs)."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.requests: list[Any] = []

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        self.requests.append(request)
        return super().RegisterResource(request)


@contextlib.contextmanager
def installed(mocks: pulumi.runtime.Mocks, monitor: MockMonitor | None = None) -> Iterator[None]:
    previous = SETTINGS.monitor
    pulumi.runtime.set_mocks(mocks, preview=False, monitor=monitor)
    yield
    if isinstance(previous, MockMonitor):
        pulumi.runtime.set_mocks(previous.mocks, preview=False, monitor=previous)
