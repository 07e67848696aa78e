"""Installing Pulumi mocks for one test and putting the previous ones back afterwards.

Some component tests install their mocks at import; a test that installs its own must restore them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import SETTINGS


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
