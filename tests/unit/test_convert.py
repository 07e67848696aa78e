"""Property tests: preview values in Prisma's SQLite representation ↔ what PostgreSQL takes."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import apsw
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbtools.convert import (
    ConversionError,
    datetime_to_millis,
    parse_datetime_text,
    sqlite_millis_to_timestamp,
    to_boolean,
    to_bytes,
    to_datetime,
    to_decimal,
    to_float,
    to_integer,
    to_json_text,
    to_sqlite_value,
    to_text,
)
from dbtools.preview_data import PreviewData, PreviewTable
from dbtools.sqlite_literals import sql_literal

MIN_MS, MAX_MS = -62_135_596_800_000, 253_402_300_799_999  # years 1 to 9999
millis = st.integers(MIN_MS, MAX_MS)
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def js_iso(ms: int) -> str:
    """What JavaScript's Date.prototype.toISOString (and Prisma's libSQL adapter) writes."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@given(millis)
def test_prisma_milliseconds_round_trip(ms: int) -> None:
    moment = to_datetime(ms)
    assert moment is not None
    assert moment.tzinfo is None  # timestamp(3) holds naive UTC, as Prisma writes it
    assert datetime_to_millis(moment) == ms
    assert to_sqlite_value(moment) == ms


@given(millis)
def test_iso_text_and_milliseconds_mean_the_same_instant(ms: int) -> None:
    assert to_datetime(js_iso(ms)) == to_datetime(ms)
    assert to_datetime(str(ms)) == to_datetime(ms)  # digits in a TEXT column are still milliseconds


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)), offsets, st.booleans())
def test_offsets_are_converted_to_utc(local: datetime, zone: timezone, spaced: bool) -> None:
    aware = local.replace(tzinfo=zone)
    text = aware.isoformat(sep=" " if spaced else "T")
    if spaced:  # SQLite's own `YYYY-MM-DD HH:MM:SS +HH:MM` form
        text = text[:-6] + " " + text[-6:]
    assert parse_datetime_text(text) == aware.astimezone(UTC).replace(tzinfo=None)


@given(st.text())
def test_any_text_is_a_date_or_a_conversion_error(text: str) -> None:
    try:
        result = parse_datetime_text(text)
    except ConversionError:
        return
    assert isinstance(result, datetime)


@given(st.booleans())
def test_booleans_from_every_sqlite_spelling(flag: bool) -> None:
    assert to_boolean(int(flag)) is flag
    assert to_boolean(float(flag)) is flag
    assert to_boolean(str(flag).lower()) is flag
    assert to_boolean(to_sqlite_value(flag)) is flag


@given(st.integers().filter(lambda n: n not in (0, 1)))
def test_other_integers_are_not_booleans(number: int) -> None:
    with pytest.raises(ConversionError, match="is not a boolean"):
        to_boolean(number)


@given(json_values)
def test_json_survives_sqlite_affinity_and_conversion(value: Any) -> None:
    """Prisma declares Json columns JSONB on SQLite (NUMERIC affinity): `123` comes back an integer."""
    text = json.dumps(value)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (j JSONB)")
    db.execute("INSERT INTO t VALUES (?)", (text,))
    stored = db.execute("SELECT j FROM t").fetchone()[0]
    converted = to_json_text(stored)
    assert converted is not None
    back = json.loads(converted)
    if isinstance(value, float) and isinstance(back, float):
        assert math.isclose(back, value, rel_tol=1e-15, abs_tol=0)
    else:
        assert back == value


@given(st.text())
def test_text_that_is_not_json_is_refused(text: str) -> None:
    try:
        json.loads(text)
    except ValueError:
        with pytest.raises(ConversionError, match="not valid JSON"):
            to_json_text(text)
    else:
        assert to_json_text(text) == text


@given(st.integers(-(2**63), 2**63 - 1))
def test_bigint_from_integer_text_and_exact_floats(number: int) -> None:
    assert to_integer(number) == number
    assert to_integer(str(number)) == number
    if float(number) == number:
        assert to_integer(float(number)) == number


@given(st.decimals(allow_nan=False, allow_infinity=False, places=30))
def test_decimals_round_trip_through_text(value: Decimal) -> None:
    assert to_decimal(str(value)) == value
    exported = to_sqlite_value(value)
    assert Decimal(exported) == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_decimal_from_real_keeps_the_shortest_exact_text(value: float) -> None:
    decimal = to_decimal(value)
    assert decimal is not None
    assert float(decimal) == value
    assert to_float(value) == value


@given(st.binary())
def test_bytes_and_text(blob: bytes) -> None:
    assert to_bytes(blob) == blob
    assert to_bytes(memoryview(blob)) == blob
    assert to_sqlite_value(memoryview(blob)) == blob
    assert to_text(blob.decode("utf-8", errors="replace")) == blob.decode("utf-8", errors="replace")


@given(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(), st.binary()))
def test_sqlite_literals_read_back_exactly(value: Any) -> None:
    read = sqlite3.connect(":memory:").execute(f"SELECT {sql_literal(value)}").fetchone()[0]
    if isinstance(value, float) and math.isnan(value):
        assert read is None
    else:
        assert read == value
        assert type(read) is type(value)


def test_values_of_the_wrong_kind_say_what_was_expected() -> None:
    with pytest.raises(ConversionError, match="not a date-time"):
        to_datetime("next tuesday")
    with pytest.raises(ConversionError, match="not an integer"):
        to_integer("12.5")
    with pytest.raises(ConversionError, match="not a decimal"):
        to_decimal("ten")


@given(st.lists(st.integers(MIN_MS, MAX_MS) | st.none(), min_size=1, max_size=50))
def test_sqlite_writes_the_same_timestamps_python_would(values: list[int | None]) -> None:
    """Uniform millisecond columns are converted by SQLite itself during a PostgreSQL import."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (ms INTEGER)")
    db.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    sql = f"SELECT {sqlite_millis_to_timestamp('ms')} FROM t ORDER BY rowid"  # noqa: S608
    rendered = [r[0] for r in db.execute(sql)]
    for ms, text in zip(values, rendered, strict=True):
        if ms is None:
            assert text is None
        else:
            assert parse_datetime_text(text) == to_datetime(ms)


preview_values = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(),
)


def assert_rendered_rows_read_back(db: sqlite3.Connection, table: str, columns: list[str]) -> None:
    """Every row SQLite renders for `table` reads back on another SQLite (the server's) exactly."""
    select = [f'"{c}"' for c in columns]
    # In stored order, as the rows are rendered (a WITHOUT ROWID table has no rowid to order by).
    stored = db.execute(f'SELECT {", ".join(select)} FROM "{table}"').fetchall()  # noqa: S608
    rendered = PreviewTable(PreviewData(db, "", "memory"), table, select)
    texts = [text for block in rendered.sql_value_blocks() for text in block]
    server = apsw.Connection(":memory:")
    assert len(texts) == len(stored)
    for text, want in zip(texts, stored, strict=True):
        got = next(server.execute(f"SELECT * FROM (VALUES {text})"))  # noqa: S608
        assert got == want
        assert [type(v) for v in got] == [type(v) for v in want]


@given(st.lists(st.tuples(preview_values, preview_values, preview_values), min_size=1, max_size=30))
def test_sqlite_rendered_rows_read_back_exactly(rows: list[tuple[Any, ...]]) -> None:
    """A libSQL import sends preview rows as SQL literals written by SQLite; a server with a correct
    number parser (the sandbox's SQLite) must read back exactly what the preview holds."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (a, b, c)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    assert_rendered_rows_read_back(db, "t", ["a", "b", "c"])


@given(
    st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1),
            st.text() | st.none(),
            st.floats(allow_nan=False) | st.none(),
            st.integers(-(2**63), 2**63 - 1) | st.none(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_uniform_columns_render_through_their_printf_conversions(rows: list[tuple[Any, ...]]) -> None:
    """Columns of integers only (%d) and of text and NULLs (%Q), as preview tables usually are."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (i INTEGER, s TEXT, r REAL, n INTEGER)")
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    assert_rendered_rows_read_back(db, "t", ["i", "s", "r", "n"])


def test_a_table_wider_than_one_printf_call_renders_whole() -> None:
    columns = [f"c{i}" for i in range(250)]
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE wide ({', '.join(columns)})")
    marks = ", ".join("?" * len(columns))
    db.executemany(
        f"INSERT INTO wide VALUES ({marks})",  # noqa: S608
        [tuple(i * 1000 + c if c % 3 else f"'{c}\x00" for c in range(len(columns))) for i in range(3)]
        + [tuple(range(len(columns)))],
    )
    assert_rendered_rows_read_back(db, "wide", columns)


def test_a_without_rowid_table_is_written_by_python() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE w (k TEXT PRIMARY KEY, v REAL) WITHOUT ROWID")
    db.executemany("INSERT INTO w VALUES (?, ?)", [("a", 0.1), ("b\x00c", 1e308)])
    assert_rendered_rows_read_back(db, "w", ["k", "v"])
