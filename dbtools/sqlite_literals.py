"""SQLite literals: values written into SQL text so that SQLite reads back exactly the same value.

Used where values travel inside SQL rather than as bound parameters: multi-row INSERTs sent to
libSQL (parsed in C by the server, far cheaper than one JSON object per value) and SQL dumps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def _text(value: str) -> str:
    if "\x00" in value:  # SQL text cannot hold NUL: spell the UTF-8 bytes and cast them
        return f"CAST(X'{value.encode('utf-8').hex()}' AS TEXT)"
    return "'" + value.replace("'", "''") + "'"


def _real(value: float) -> str:
    if math.isnan(value):
        return "NULL"  # SQLite stores NaN as NULL
    if math.isinf(value):
        return "9e999" if value > 0 else "-9e999"
    return repr(value)


LITERALS: dict[type, Callable[[Any], str]] = {
    type(None): lambda _: "NULL",
    bool: lambda v: "1" if v else "0",
    int: str,
    float: _real,
    str: _text,
    bytes: lambda v: f"X'{v.hex()}'",
    bytearray: lambda v: f"X'{bytes(v).hex()}'",
    memoryview: lambda v: f"X'{bytes(v).hex()}'",
    Decimal: str,
}


def sql_literal(value: Any) -> str:
    """A SQLite literal that reads back as exactly `value`."""
    try:
        return LITERALS[type(value)](value)
    except KeyError:
        raise TypeError(f"{type(value).__name__} is not a SQLite value") from None
