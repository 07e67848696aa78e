"""Python values in and out of Hrana's JSON encoding (see ../shared/contracts/HRANA_NOTES.md).

| Python                           | Hrana                                          |
|----------------------------------|------------------------------------------------|
| None                             | `{"type": "null"}`                             |
| int (and bool, as 0/1)           | `{"type": "integer", "value": "42"}` (string)  |
| float (finite)                   | `{"type": "float", "value": 3.14}`             |
| str                              | `{"type": "text", "value": "hi"}`              |
| bytes, bytearray, memoryview     | `{"type": "blob", "base64": "AAEC"}`           |

Values read back are None, int, float, str or bytes.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

Value = None | int | float | str | bytes
# Arguments of one statement: positional (`?`, `?1`) or named (`:name`, `@name`, `$name`).
Args = Sequence[Value] | Mapping[str, Value]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def encode_value(value: object, where: str = "value") -> dict[str, Any]:
    """A Python value as Hrana JSON; `where` names the argument in error messages."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "integer", "value": "1" if value else "0"}
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"{where}: {value} does not fit in SQLite's 64-bit INTEGER; pass it as str")
        return {"type": "integer", "value": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value} cannot be sent (JSON has no NaN or infinity); use NULL")
        return {"type": "float", "value": value}
    if isinstance(value, str):
        return {"type": "text", "value": value}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "blob", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(
        f"{where}: {type(value).__name__} is not a SQLite value; convert it to None, int, float, str or bytes"
    )


def decode_value(raw: Any) -> Value:
    """A Hrana JSON value as a Python value. A non-finite REAL arrives as null and is read as NaN."""
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "null":
        return None
    if kind == "integer":
        return int(raw["value"])
    if kind == "float":
        return math.nan if raw.get("value") is None else float(raw["value"])
    if kind == "text":
        return str(raw["value"])
    if kind == "blob":
        encoded = str(raw.get("base64", ""))
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    raise ValueError(f"the server sent a value of unknown type {kind!r}")


def encode_stmt(sql: str, args: Args | None = None, *, want_rows: bool = True) -> dict[str, Any]:
    """A Hrana `Stmt`: positional args from a sequence, named args from a mapping."""
    stmt: dict[str, Any] = {"sql": sql, "want_rows": want_rows}
    stmt.update(encode_args(args))
    return stmt


def encode_args(args: Args | None) -> dict[str, Any]:
    if args is None:
        return {}
    if isinstance(args, Mapping):
        return {
            "named_args": [
                {"name": str(name), "value": encode_value(value, f"argument {name!r}")}
                for name, value in args.items()
            ]
        }
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise TypeError(f"args must be a sequence or a mapping of values, not {type(args).__name__}")
    return {"args": [encode_value(value, f"argument {i + 1}") for i, value in enumerate(args)]}
