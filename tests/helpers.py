"""Helpers the tests and benchmarks share: free loopback ports, polling, app ids and their stack files,
the example shop's database, stack state, signed Stripe events. Standard library only at import: the
conftest and the benchmarks import it before any project module reads the environment."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
SHOP = REPO / "examples" / "shop"
STATIC_SITE = REPO / "tests" / "fixtures" / "static-site"


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


def forget_stack(app_id: str) -> None:
    """Remove the stack config file a deploy of `app_id` wrote into stacks/ (there or not)."""
    (REPO / "stacks" / f"Pulumi.{app_id}.yaml").unlink(missing_ok=True)


def new_app(app_ids: list[str], prefix: str = "t") -> str:
    """A fresh app id, added to `app_ids` (the conftest's fixture forgets their stacks afterwards)."""
    app = f"{prefix}-{uuid.uuid4().hex[:8]}"
    app_ids.append(app)
    return app


@contextlib.contextmanager
def destroyed_afterwards(prefix: str) -> Iterator[str]:
    """A fresh app id; afterwards its app is destroyed (if it was deployed) and its stack file removed."""
    from automation import operations  # here: the conftest imports this module before setting the environment

    app = f"{prefix}-{uuid.uuid4().hex[:8]}"
    yield app
    with contextlib.suppress(operations.DeployError):
        operations.destroy(app)
    forget_stack(app)


def shop_database(provider: str = "turso") -> dict[str, str]:
    """The example shop's `database` section: its Prisma schema, migrations and preview data."""
    return {
        "provider": provider,
        "prismaSchema": str(SHOP / "prisma" / "schema.prisma"),
        "migrations": str(SHOP / "prisma" / "migrations"),
        "previewData": str(SHOP / "prisma" / "preview.sql"),
    }


def checkpoint_text(app_id: str) -> str:
    """The text of an app stack's checkpoint in the test session's local state backend."""
    from sandbox.endpoint import state_root  # the state directory the session's conftest set

    return (state_root() / "pulumi" / ".pulumi" / "stacks" / "oneclick" / f"{app_id}.json").read_text()


def stripe_signed(payload: bytes, secret: str) -> dict[str, str]:
    """Headers of a webhook signed now as Stripe signs it: v1 = HMAC-SHA256(secret, f"{t}.{payload}")."""
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return {"Stripe-Signature": f"t={timestamp},v1={digest.hexdigest()}", "Content-Type": "application/json"}
