"""What the map's API reads from a request: query parameters and the fence body.

Everything here is untrusted input. A value that cannot be used is a `ParamError` naming
the field, answered 400 `{"error": "<field>: <what is wrong>"}`. Coordinates arrive in
the tiles' CRS; `into_wgs84` turns them back into the WGS-84 the bridge stores.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final, Literal

from bot.geo.fences import MAX_POLYGON_POINTS, MIN_POLYGON_POINTS
from bot.parsing.places import MAX_RADIUS_M, MIN_RADIUS_M

__all__ = [
    "BODY_MAX",
    "HOURS_DEFAULT",
    "HOURS_MAX",
    "NAME_MAX",
    "SPAN_MAX",
    "FenceDraft",
    "ParamError",
    "Target",
    "day_of",
    "fence_draft",
    "once",
    "one_id",
    "span_of",
    "target_of",
]

HOURS_DEFAULT: Final = 4
HOURS_MAX: Final = 24
SPAN_MAX: Final = timedelta(days=7)  # as /track's own bound
NAME_MAX: Final = 64
BODY_MAX: Final = 16 * 1024  # 50 vertices and a name fit in 4 KiB
# Times and days the platform may be asked about (none of its kind ran before 2000).
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(3000, 1, 1, tzinfo=UTC)

# A decimal id of at most 15 digits: every platform id, and nothing past a float's precision.
_ID: Final = re.compile(r"[0-9]{1,15}")

# The query parameters the API reads; each may be given once.
FIELDS: Final = ("group", "org", "user", "hours", "from", "to", "date")

Kind = Literal["group", "org", "user"]
ToWgs84 = Callable[[float, float], tuple[float, float]]


class ParamError(ValueError):
    """A parameter or body field that cannot be used: `field` and what is wrong with it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def once(keys: Iterable[str]) -> None:
    """A `ParamError` for a parameter the API reads given more than once (`?group=1&group=2`):
    which one was meant is not guessed at. `keys`: every parameter's name, repeats kept."""
    counts = Counter(keys)
    for field in FIELDS:
        if counts[field] > 1:
            raise ParamError(field, "given more than once")


def one_id(query: Mapping[str, str], field: str) -> int | None:
    """The id given as `field` (None when absent); a `ParamError` for anything else."""
    raw = query.get(field)
    if raw is None:
        return None
    if not _ID.fullmatch(raw.strip()):
        raise ParamError(field, "not an id (digits expected)")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Target:
    """What the positions are asked of: one talk group, org (its subtree) or user."""

    kind: Kind
    id: int


def target_of(query: Mapping[str, str]) -> Target:
    """Exactly one of `group`, `org`, `user`."""
    given = [
        Target(kind, value)
        for kind in ("group", "org", "user")
        if (value := one_id(query, kind)) is not None
    ]
    if len(given) != 1:
        raise ParamError("group", "give exactly one of group, org or user")
    return given[0]


def _time(query: Mapping[str, str], field: str, tz: tzinfo) -> datetime:
    raw = query.get(field, "").strip()
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ParamError(field, "not an ISO-8601 time (2026-11-28T08:00:00+08:00)") from None
    # A time without an offset is read in the bridge's zone, as chat reads "08:00".
    at = at if at.tzinfo is not None else at.replace(tzinfo=tz)
    try:
        inside = EARLIEST <= at < LATEST
    except OverflowError:  # 0001-01-01T00:00+14:00 is no year at all in UTC
        inside = False
    if not inside:
        raise ParamError(field, f"not between {EARLIEST.year} and {LATEST.year - 1}")
    return at


def span_of(query: Mapping[str, str], now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """`from` and `to` (both, ISO-8601), or the last `hours` (1..24, default 4) up to now."""
    if "from" in query or "to" in query:
        if "hours" in query:
            raise ParamError("hours", "give hours or from and to, not both")
        for field in ("from", "to"):
            if field not in query:
                raise ParamError(field, "missing (from and to go together)")
        start, end = _time(query, "from", tz), _time(query, "to", tz)
        if start >= end:
            raise ParamError("to", "not after from")
        if end - start > SPAN_MAX:
            raise ParamError("to", f"more than {SPAN_MAX.days} days after from")
        return start, end
    hours = HOURS_DEFAULT
    raw = query.get("hours")
    if raw is not None:
        if not re.fullmatch(r"[0-9]{1,3}", raw.strip()):
            raise ParamError("hours", f"a whole number of hours, 1 to {HOURS_MAX}")
        hours = int(raw)
        if not 1 <= hours <= HOURS_MAX:
            raise ParamError("hours", f"a whole number of hours, 1 to {HOURS_MAX}")
    return now - timedelta(hours=hours), now


def day_of(query: Mapping[str, str], today: date) -> date:
    """`date` as YYYY-MM-DD, not after today; today when absent."""
    raw = query.get("date")
    if raw is None:
        return today
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw.strip()):
        raise ParamError("date", "not a date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ParamError("date", "no such day") from None
    if day > today:
        raise ParamError("date", f"after today ({today.isoformat()})")
    if day < EARLIEST.date():
        raise ParamError("date", f"before {EARLIEST.year}")
    return day


# ---- the fence body ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FenceDraft:
    """A fence as asked for, in WGS-84: a circle, or a polygon (`points`) whose centre and
    bounding radius are still to be computed."""

    name: str
    lat: float = 0.0
    lon: float = 0.0
    radius_m: float = 0.0
    points: tuple[tuple[float, float], ...] | None = None


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError(field, "not a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ParamError(field, f"out of range ({low:g} to {high:g})")
    return number


def _latlon(value: Any, field: str, into_wgs84: ToWgs84) -> tuple[float, float]:
    if isinstance(value, Mapping):
        lat, lon = value.get("lat"), value.get("lon")
    elif isinstance(value, list) and len(value) == 2:
        lat, lon = value
    else:
        raise ParamError(field, "not a [lat, lon] pair")
    return into_wgs84(
        _number(lat, f"{field}.lat", -90, 90), _number(lon, f"{field}.lon", -180, 180)
    )


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise ParamError("name", "missing (a text of 1 to 64 characters)")
    name = unicodedata.normalize("NFC", value).strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ParamError("name", f"1 to {NAME_MAX} characters")
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in name):
        # Chat commands take a fence's name as one word: /fence watch <name> <user>.
        raise ParamError("name", "one word: no spaces or control characters")
    return name


def fence_draft(raw: bytes, into_wgs84: ToWgs84) -> FenceDraft:
    """The POST body `{"name", "circle": {"lat", "lon", "radius_m"}}` or `{"name",
    "polygon": [[lat, lon], ...]}`, coordinates turned into WGS-84 by `into_wgs84`."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ParamError("body", "not JSON") from None
    if not isinstance(body, dict):
        raise ParamError("body", "not a JSON object")
    name = _name(body.get("name"))
    circle, polygon = body.get("circle"), body.get("polygon")
    if (circle is None) == (polygon is None):
        raise ParamError("circle", "give exactly one of circle or polygon")
    if circle is not None:
        if not isinstance(circle, dict):
            raise ParamError("circle", "not an object {lat, lon, radius_m}")
        lat, lon = _latlon(circle, "circle", into_wgs84)
        radius = _number(circle.get("radius_m"), "circle.radius_m", MIN_RADIUS_M, MAX_RADIUS_M)
        return FenceDraft(name, lat, lon, radius)
    if not isinstance(polygon, list):
        raise ParamError("polygon", "not a list of [lat, lon] points")
    if not MIN_POLYGON_POINTS <= len(polygon) <= MAX_POLYGON_POINTS:
        raise ParamError("polygon", f"{MIN_POLYGON_POINTS} to {MAX_POLYGON_POINTS} points")
    points = tuple(_latlon(p, f"polygon[{i}]", into_wgs84) for i, p in enumerate(polygon))
    return FenceDraft(name, points=points)
