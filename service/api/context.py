"""What every request handler shares: the connection pool, the vault, the job queue and the limits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import procrastinate
import psycopg
from psycopg_pool import ConnectionPool

from service.archives import UploadLimits
from service.vault import Vault


@dataclass
class ServiceContext:
    """Made once by the app's lifespan (app.py); routes receive it through `Ctx` (dependencies.py)."""

    pool: ConnectionPool
    vault: Vault
    queue: procrastinate.App
    poll_seconds: float
    stream_limit_seconds: float
    upload_limits: UploadLimits

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        with self.pool.connection() as conn:
            yield conn
