"""How the report documents write values: JSON text, UTC datetimes, the spec's date and time
formats, finite numbers or null."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from api.responses import encode


def dumps(value: Any) -> str:
    """Compact JSON text (orjson: numpy arrays serialised, NaN/Infinity as null)."""
    return encode(value).decode()


def as_utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def fmt_date(value: datetime | str | None) -> str:
    dt = as_utc(value)
    return dt.strftime("%d/%m/%Y") if dt else ""


def fmt_time(value: datetime | str | None) -> str:
    dt = as_utc(value)
    return dt.strftime("%I:%M %p") if dt else ""


def number_or_none(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
