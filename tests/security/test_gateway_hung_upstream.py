"""A caller who gives up on a hung vendor gets their reservation back at once, not after 600 s.

Issue 13, medium item: "a hung upstream keeps its reservation for 600 s after the client left".
A call's maximum cost stays committed in its gateway's budget lease until it is settled, and what
is committed counts against the spend limit, so a tenant (or a vendor outage) could pin a
user's whole limit. The hostile vendor never answers; the caller times out after a second.
"""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from tests.databases import query
from tests.gateway.conftest import make_account, make_key
from tests.helpers import wait_for
from tests.security.gateway_fixtures import HostileGateway

HANG = {"model": "hang", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_caller_leaving_a_hung_call_releases_its_reservation(
    hostile_gateway: HostileGateway, stream: bool
) -> None:
    gw = hostile_gateway
    user_id = make_account(gw.db, limit_cents=10_000)
    key = make_key(gw.db, user_id)
    hung_before, abandoned_before = gw.vendor.hung_calls, gw.vendor.abandoned_calls
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gw.url}/api/proxy/openai/v1/chat/completions",
            json={**HANG, "stream": stream},
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(10, read=1),
        )
    assert gw.vendor.hung_calls == hung_before + 1  # the call did reach the vendor and was held there

    def released() -> tuple[Decimal, Decimal] | None:
        # The call's maximum is no longer committed in the gateway's lease, and its cost is spent.
        lease = gw.gateway.leases.lease(user_id)
        spend = query(
            gw.db, "SELECT spent_cents, reserved_cents FROM api_spend WHERE user_id = %s", [user_id]
        )
        done = lease is not None and lease.committed == 0 and spend and spend[0][0] > 0
        return spend[0] if done else None

    settled = wait_for(released, timeout=10)
    assert settled is not None, "the reservation is still held after the caller left"
    assert time.monotonic() - started < 10
    [(units, metadata)] = query(
        gw.db, "SELECT units, request_metadata FROM api_usage WHERE user_id = %s", [user_id]
    )
    assert metadata["usage"] == "estimated: the caller left before the answer"
    assert 0 < units < 100  # an estimate of the prompt, not the reserved maximum
    assert settled[0] == Decimal("0.004") * units
    # The gateway dropped the vendor request too, instead of waiting for it.
    assert wait_for(lambda: gw.vendor.abandoned_calls == abandoned_before + 1, timeout=5)
