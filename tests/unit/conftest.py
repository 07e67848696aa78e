"""Unit-test fixtures."""

from __future__ import annotations

import asyncio

import pytest

# Pulumi's mock runtime binds to the thread's event loop when mocks are installed (at import of
# the component tests). A test elsewhere that calls asyncio.run() leaves the thread without a
# current loop afterwards, so each unit test puts this one back.
_LOOP = asyncio.new_event_loop()
asyncio.set_event_loop(_LOOP)


@pytest.fixture(autouse=True)
def _pulumi_event_loop() -> None:
    asyncio.set_event_loop(_LOOP)
