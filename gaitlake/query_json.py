"""``gaitlake query --format json``: every DuckDB result type as JSON, or one sentence naming it.

DuckDB hands results over as Arrow; Python's values of some Arrow types have no JSON form
(``Decimal``, Arrow's ``MonthDayNano`` interval, ``bytes``), and some would come out
misleading (a MAP as a list of pairs, an interval as three bare numbers). Each column is
converted by its Arrow type:

=========================== =====================================================
DuckDB type                 JSON
=========================== =====================================================
DECIMAL, HUGEINT, UHUGEINT  a number (exact for whole numbers of any size)
INTERVAL                    an ISO 8601 duration string, ``"P2M3DT5S"``
DATE, TIME, TIMESTAMP(_NS)  ISO 8601 strings
BLOB                        base64 text
LIST, ARRAY                 an array
STRUCT                      an object
MAP                         an object (text keys) or ``[{"key": k, "value": v}]``
UNION                       the member's value
UUID, ENUM, JSON, VARCHAR   a string
DOUBLE NaN / infinity       ``null``
=========================== =====================================================

A type DuckDB exports as an opaque Arrow extension (VARINT / BIGNUM) is refused with
:class:`UnsupportedColumn`, naming the column and a cast that works.
"""
from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa


class UnsupportedColumn(ValueError):
    """A result column whose type has no JSON form; the message names it and a cast."""


def rows_as_json(table: pa.Table) -> str:
    """The rows of ``table`` as a JSON array of objects (one per row, keys = column names)."""
    converters = [_converter(field.type, field.name) for field in table.schema]
    rows = [{name: convert(value) for (name, value), convert in zip(row.items(), converters)}
            for row in table.to_pylist()]
    # The standard library, not orjson: HUGEINT needs integers beyond 64 bits.
    return json.dumps(rows, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_unsupported)


def _unsupported(value: Any) -> Any:
    raise UnsupportedColumn(f"a value of Python type {type(value).__name__} has no JSON form: cast its column "
                            f"in the query (CAST(column AS VARCHAR))")


def _converter(dtype: pa.DataType, column: str) -> Callable[[Any], Any]:
    """value -> JSON-ready value, for values of Arrow type ``dtype`` (None stays None)."""
    if isinstance(dtype, pa.BaseExtensionType):
        name = getattr(dtype, "type_name", None) or dtype.extension_name
        raise UnsupportedColumn(
            f"column {column!r} has the DuckDB type {name}, which has no JSON form: cast it in the query "
            f"(CAST({column} AS VARCHAR), or AS DOUBLE for a number)")
    if pa.types.is_dictionary(dtype):
        return _converter(dtype.value_type, column)
    if pa.types.is_struct(dtype):
        fields = [(dtype.field(i).name, _converter(dtype.field(i).type, column)) for i in range(dtype.num_fields)]
        return _nullable(lambda v: {name: convert(v.get(name)) for name, convert in fields})
    if pa.types.is_map(dtype):
        key, item = _converter(dtype.key_type, column), _converter(dtype.item_type, column)
        if pa.types.is_string(dtype.key_type) or pa.types.is_large_string(dtype.key_type):
            return _nullable(lambda v: {key(k): item(x) for k, x in v})
        return _nullable(lambda v: [{"key": key(k), "value": item(x)} for k, x in v])
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        element = _converter(dtype.value_type, column)
        return _nullable(lambda v: [element(x) for x in v])
    return _plain  # scalars, and a UNION's member value (its Python type tells which)


def _nullable(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


def _plain(value: Any) -> Any:
    """A scalar of any Arrow type as a JSON-ready value (what orjson takes as it is stays)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, pa.MonthDayNano) or type(value).__name__ == "MonthDayNano":
        return iso_duration(value.months, value.days, value.nanoseconds)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, timedelta):
        return iso_duration(0, value.days, (value.seconds * 10**6 + value.microseconds) * 1000)
    if isinstance(value, (datetime, date, time)):  # pandas' Timestamp (TIMESTAMP_NS) included
        return value.isoformat()
    return value


def iso_duration(months: int, days: int, nanoseconds: int) -> str:
    """An ISO 8601 duration: ``P1Y2M3DT4H5M6.5S``; ``PT0S`` for nothing. Months and days stay
    as they are (a month is not a fixed number of days, as in DuckDB's INTERVAL)."""
    years, months = (n if months >= 0 else -n for n in divmod(abs(months), 12))
    sign = "-" if nanoseconds < 0 else ""
    hours, rest = divmod(abs(nanoseconds), 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds = f"{rest // 10**9}" + (f".{rest % 10**9:09d}".rstrip("0") if rest % 10**9 else "")
    date_part = "".join(f"{n}{unit}" for n, unit in ((years, "Y"), (months, "M"), (days, "D")) if n)
    time_part = "".join(f"{sign}{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    time_part += f"{sign}{seconds}S" if rest else ""
    return "P" + date_part + ("T" + time_part if time_part else "") if date_part or time_part else "PT0S"
