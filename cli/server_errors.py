"""What a server command (`oneclick service …`, `oneclick gateway …`) could not do, as a UserError
said for the person who ran it: no traceback for bad configuration or an unreachable database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

from core.errors import UserError


@contextlib.contextmanager
def said_plainly(error: type[UserError], database: str, known: tuple[type[Exception], ...]) -> Iterator[None]:
    """Re-raise the `known` errors (their messages say the fix already) and an unreachable
    `database` as `error`."""
    try:
        yield
    except known as exc:
        raise error(str(exc)) from None
    except psycopg.OperationalError as exc:  # psycopg_pool.PoolTimeout is one too
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(
            f"cannot reach {database} ({first_line}); check --database-url, "
            "or start the local one with `oneclick postgres start`"
        ) from None
