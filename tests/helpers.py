"""Helpers the tests and benchmarks share: free loopback ports, polling, stack state, signed Stripe events."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy or `timeout` seconds pass; returns its last value
    (work that lands in the background: usage batches, queued deploys, lock waits)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def checkpoint_text(app_id: str) -> str:
    """The text of an app stack's checkpoint in the test session's local state backend."""
    from sandbox.endpoint import state_root  # the state directory the session's conftest set

    return (state_root() / "pulumi" / ".pulumi" / "stacks" / "oneclick" / f"{app_id}.json").read_text()


def stripe_signed(payload: bytes, secret: str) -> dict[str, str]:
    """Headers of a webhook signed now as Stripe signs it: v1 = HMAC-SHA256(secret, f"{t}.{payload}")."""
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return {"Stripe-Signature": f"t={timestamp},v1={digest.hexdigest()}", "Content-Type": "application/json"}
