"""Fixtures for the attack tests: the deploy service's (API, workers, PostgreSQL) and the sandbox's."""

from __future__ import annotations

# The gateway's and billing's: a migrated database, the vendor stand-ins, a running gateway,
# stripe-mock, and a gateway in front of a hostile vendor.
from tests.gateway.conftest import gateway_db, running_gateway, stripe_mock, upstream  # noqa: F401
from tests.security.gateway_fixtures import hostile_gateway  # noqa: F401

# Fixtures shared with tests/service: a migrated database, the API server, worker processes, and
# `deploys`, the three together.
from tests.service.conftest import api, deploys, service_db, vault, workers  # noqa: F401
