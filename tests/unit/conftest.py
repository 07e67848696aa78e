"""Unit-test fixtures: an event loop for Pulumi's mock runtime and the one way to install Pulumi mocks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pulumi
import pytest

from tests.unit.pulumi_mocks import RecordingMonitor, installed

# Pulumi's mock runtime binds to the thread's event loop when mocks are installed (by `monitor`). A
# test elsewhere that calls asyncio.run() leaves the thread without a current loop afterwards, so
# each unit test puts this one back.
_LOOP = asyncio.new_event_loop()
asyncio.set_event_loop(_LOOP)


@pytest.fixture(autouse=True)
def _pulumi_event_loop() -> None:
    asyncio.set_event_loop(_LOOP)


@pytest.fixture
def monitor(request: pytest.FixtureRequest) -> Iterator[RecordingMonitor]:
    """The test module's `Mocks` installed for one test, behind a monitor that keeps each registration."""
    mocks = request.module.Mocks()
    mine = RecordingMonitor(mocks)
    with installed(mocks, mine):
        yield mine


@pytest.fixture
def mocks(monitor: RecordingMonitor) -> pulumi.runtime.Mocks:
    """The installed mocks (a module's `Mocks`, with `created`)."""
    return monitor.mocks
