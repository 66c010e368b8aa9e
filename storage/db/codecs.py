"""How Python values are written to SQLite and read back: times and JSON.

* **Times** are timezone-aware :class:`~datetime.datetime` objects in Python and ISO-8601
  text in UTC with microseconds in SQLite (``2026-11-28T08:00:00.000000+00:00``, always
  32 characters), written by :func:`to_db_time` and read by :func:`from_db_time`. Fixed
  width means text order is time order, so ``WHERE at >= ?`` and ``ORDER BY at`` work, and
  SQLite's own date functions understand the values. Naive datetimes are refused.
* **Structured values** (FSM data, audit arguments) are JSON text written by
  :func:`dump_json`: standard JSON only (no NaN), non-ASCII escaped so that any Python
  string, even one with a lone surrogate, can be stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["dump_json", "from_db_time", "load_json", "to_db_time", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_db_time(dt: datetime) -> str:
    """Render an aware datetime as fixed-width ISO-8601 UTC text for storage.

    Raises ``ValueError`` for a naive datetime: its meaning would depend on the host's zone.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} cannot be stored; attach a timezone")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    """Parse text written by :func:`to_db_time` back into an aware UTC datetime."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:  # written by hand in the sqlite3 shell, say: it is UTC by convention
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def dump_json(value: Any, *, lenient: bool = False) -> str:
    """Serialise ``value`` as compact standard JSON.

    With ``lenient=True`` values JSON has no type for (datetimes, enums, ...) are written as
    their ``str()``; otherwise they raise ``TypeError``.
    """
    return json.dumps(
        value,
        ensure_ascii=True,
        allow_nan=False,
        separators=(",", ":"),
        default=str if lenient else None,
    )


def load_json(text: str) -> Any:
    """Parse JSON text written by :func:`dump_json`."""
    return json.loads(text)
