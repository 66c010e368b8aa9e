"""Timestamps as the platform writes them.

Seen in answers of this API family: ISO 8601 with an offset
(`2023-09-07T09:00:24.000+00:00`), local wall time (`2023-09-07 23:28:00`, also
without zero padding: `2022-2-15 15:20:12`), a bare date, epoch seconds and
epoch milliseconds, as numbers or as strings. All become aware datetimes.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

# Epoch values above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_MS_THRESHOLD = 100_000_000_000
_LOCAL = re.compile(
    r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})"
    r"(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6})\d*)?)?)?\s*$"
)


def parse_platform_time(value: Any, tz: tzinfo) -> datetime | None:
    """An aware datetime from any time format the platform uses; None for null/empty.

    `tz` is the platform's local zone, used for wall-clock strings.
    Raises `ValueError` for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        return from_epoch(value)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {type(value).__name__}")
    s = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return from_epoch(float(s))
    m = _LOCAL.match(s)
    if m:
        y, mo, d, hh, mi, ss, frac = m.groups()
        micro = int((frac or "0").ljust(6, "0"))
        return datetime(
            int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), micro, tzinfo=tz
        )
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time the platform uses: {s[:40]!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def from_epoch(value: float) -> datetime:
    """Epoch seconds or milliseconds (told apart by magnitude) as an aware UTC datetime."""
    try:
        # float() first: an int too large for a float overflows here, not further down
        f = float(value)
    except OverflowError:
        raise ValueError("timestamp out of range") from None
    if not math.isfinite(f):
        raise ValueError("not a finite timestamp")
    seconds = f / 1000 if abs(f) >= _MS_THRESHOLD else f
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp out of range: {f!r}") from None


def to_ms(dt: datetime) -> int:
    """Epoch milliseconds, as the platform's number fields want them."""
    return int(dt.timestamp() * 1000)


def day_start_ms(day: date, tz: tzinfo) -> int:
    """Epoch milliseconds of the start of `day` in `tz` (2.6 `date`)."""
    return to_ms(datetime.combine(day, time(0), tzinfo=tz))


def local_string(dt: datetime, tz: tzinfo) -> str:
    """`YYYY-MM-DD HH:MM:SS` in the platform's zone, where a string is needed."""
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
