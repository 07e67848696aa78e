"""Fixtures for the attack tests: the deploy service's (API, workers, PostgreSQL) and the sandbox's."""

from __future__ import annotations

# Fixtures shared with tests/service: a migrated database, the API server, worker processes, app ids.
from tests.service.conftest import api, app_ids, service_db, vault, workers  # noqa: F401
