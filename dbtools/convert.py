"""Row values between Prisma's SQLite representation and PostgreSQL.

Prisma's native SQLite connector stores DateTime as integer milliseconds since the Unix epoch, its
libSQL driver adapter (and many hand-written previews) as ISO 8601 text; Boolean as 0/1; Json as JSON
text in a `JSONB`-declared column (NUMERIC affinity, so `123` may come back as an integer); Decimal with
NUMERIC affinity too. PostgreSQL wants real booleans, `timestamp(3)` (UTC, no zone, as Prisma writes
it), `jsonb`, `numeric`, `bytea`. Converters are chosen once per column so rows convert in a tight loop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import UserError
from dbtools.errors import DataError
from dbtools.layout import Column
from dbtools.preview_data import ColumnProfile

Converter = Callable[[Any], Any]
EPOCH = datetime(1970, 1, 1)  # naive UTC, as Prisma keeps DateTime in timestamp(3) columns
_TRUE = frozenset({"1", "true", "t", "yes"})
_FALSE = frozenset({"0", "false", "f", "no"})
_SPACE_BEFORE_OFFSET = re.compile(r"\s+([+-]\d\d:?\d\d)$")
_DIGITS = re.compile(r"-?\d+")


class ConversionError(UserError, ValueError):
    """One value could not be converted; the importer adds the table, column and row."""


def to_boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        raise ConversionError(f"{value!r} is not a boolean (expected 0 or 1)")
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConversionError(f"{value!r} is not a boolean (expected 0 or 1)")


def millis_to_datetime(millis: int | float) -> datetime:
    """Prisma's SQLite DateTime (ms since the epoch) as a naive UTC datetime."""
    try:
        return EPOCH + timedelta(milliseconds=millis)
    except (OverflowError, ValueError):
        raise ConversionError(f"{millis!r} ms is outside the years 1 to 9999") from None


def datetime_to_millis(moment: datetime) -> int:
    """The inverse: naive datetimes are UTC (as in Prisma's timestamp(3) columns)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_datetime_text(text: str) -> datetime:
    """ISO 8601 and SQLite's text forms (`2024-05-01T10:00:00.000Z`, `2024-05-01 10:00:00 +02:00`,
    `2024-05-01`) as naive UTC; a string of digits is milliseconds, as Prisma would read it."""
    raw = text.strip()
    if _DIGITS.fullmatch(raw):
        return millis_to_datetime(int(raw))
    normal = _SPACE_BEFORE_OFFSET.sub(r"\1", raw)
    if normal.endswith(("Z", "z")):
        normal = normal[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(normal)
    except ValueError:
        raise ConversionError(f"{text!r} is not a date-time (expected ISO 8601 or milliseconds)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def to_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool):
        raise ConversionError(f"{value!r} is not a date-time")
    if isinstance(value, int | float):
        return millis_to_datetime(value)
    if isinstance(value, str):
        return parse_datetime_text(value)
    raise ConversionError(f"{value!r} is not a date-time")


def to_json_text(value: Any) -> str | None:
    """JSON text for a jsonb column; numbers SQLite's NUMERIC affinity made of JSON text go back to text."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            raise ConversionError(f"{value[:60]!r} is not valid JSON") from None
        return value
    return json.dumps(value, separators=(",", ":"))


def to_integer(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise ConversionError(f"{value!r} is not an integer")


def to_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ConversionError(f"{value!r} is not a number")


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ConversionError(f"{value!r} is not a decimal")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text that round-trips, not the binary expansion
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise ConversionError(f"{value!r} is not a decimal")


def to_bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ConversionError(f"{value!r} is not binary data")


def to_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def _enum_checker(column: Column, values: frozenset[str]) -> Converter:
    def check(value: Any) -> Any:
        if value is None or value in values:
            return value
        raise ConversionError(f"{value!r} is not a value of enum {column.enum} ({', '.join(sorted(values))})")

    return check


_POSTGRES_CONVERTERS: dict[str, Converter] = {
    "Boolean": to_boolean,
    "DateTime": to_datetime,
    "Json": to_json_text,
    "BigInt": to_integer,
    "Int": to_integer,
    "Float": to_float,
    "Decimal": to_decimal,
    "Bytes": to_bytes,
    "String": to_text,
}


def postgres_converter(column: Column, enum_values: frozenset[str] | None = None) -> Converter | None:
    """How to turn a preview value of `column` into what PostgreSQL takes; None means unchanged."""
    if column.is_list:
        raise DataError(f"column {column.name}: list columns cannot come from SQLite preview data")
    if column.scalar == "Enum":
        return _enum_checker(column, enum_values) if enum_values is not None else None
    return _POSTGRES_CONVERTERS.get(column.scalar)


MIN_MILLIS, MAX_MILLIS = -62_135_596_800_000, 253_402_300_799_999  # years 1 to 9999


def sqlite_millis_to_timestamp(expression: str) -> str:
    """SQLite SQL turning integer milliseconds into PostgreSQL timestamp text (UTC), in exact integer
    arithmetic: `YYYY-MM-DD HH:MM:SS.mmm+00` (the offset matters only to timestamptz columns)."""
    ms = f"((({expression}) % 1000) + 1000) % 1000"  # the millisecond part, also below the epoch
    seconds = f"((({expression}) - {ms}) / 1000)"
    return (
        f"CASE WHEN {expression} IS NULL THEN NULL "
        f"ELSE strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') "
        f"|| '.' || printf('%03d', {ms}) || '+00' END"
    )


def postgres_column_plan(
    column: Column, profile: ColumnProfile, expression: str, enum_values: frozenset[str] | None = None
) -> tuple[str, Converter | None]:
    """How to read a preview column for PostgreSQL: a SQLite expression and, only when the column holds
    values SQLite cannot convert by itself, a Python converter. Uniform columns (the usual case: all
    integers, all text …) are converted by SQLite or need nothing, which keeps large imports fast.

    COPY takes the integers 0/1 for booleans, Python floats for numeric, JSON text for jsonb."""
    scalar = column.scalar
    slow = (expression, postgres_converter(column, enum_values))
    if scalar in ("Int", "BigInt"):
        return (expression, None) if profile.only("integer") else slow
    if scalar in ("Float", "Decimal"):
        return (expression, None) if profile.only("integer", "real") else slow
    if scalar == "Boolean":
        in_range = profile.min_integer in (None, 0, 1) and profile.max_integer in (None, 0, 1)
        return (expression, None) if profile.only("integer") and in_range else slow
    if scalar == "DateTime":
        in_range = (profile.min_integer is None or profile.min_integer >= MIN_MILLIS) and (
            profile.max_integer is None or profile.max_integer <= MAX_MILLIS
        )
        return (
            (sqlite_millis_to_timestamp(expression), None) if profile.only("integer") and in_range else slow
        )
    if scalar == "Json":
        if profile.only("text", "integer") and profile.invalid_json == 0:
            integer = f"typeof({expression}) = 'integer'"
            as_text = f"CASE WHEN {integer} THEN CAST({expression} AS TEXT) ELSE {expression} END"
            return as_text, None
        return slow
    if scalar == "Bytes":
        return (expression, None) if profile.only("blob") else slow
    if scalar == "String":
        return (expression, None) if profile.only("text") else slow
    if scalar == "Enum":
        return (expression, None) if profile.only("text") and enum_values is None else slow
    return slow


# --- PostgreSQL values back to Prisma's SQLite representation (export) ---------------------------


def to_sqlite_value(value: Any) -> Any:
    """A value read from PostgreSQL as Prisma's SQLite connector would have stored it."""
    if value is None or (isinstance(value, int | float | str | bytes) and not isinstance(value, bool)):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return datetime_to_millis(value)
    if isinstance(value, Decimal):
        # numeric(65,30) pads 30 zeros that say nothing (normalize() would round to 28 digits instead).
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)
