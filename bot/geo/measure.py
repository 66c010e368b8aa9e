"""Positions and tracks as plain numbers: distances, compass words, track summaries.

Pure functions over `bot.platform.models` points (`TrackPoint`, `Fix`): no
Telegram, no I/O. Coordinates are WGS-84 degrees, speeds km/h, times aware.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Final, Protocol, TypeVar

__all__ = [
    "EARTH_RADIUS_M",
    "MAX_PLAUSIBLE_KMH",
    "MOVING_KMH",
    "SEGMENT_GAP",
    "STALE_AFTER",
    "LatLon",
    "Located",
    "TrackEnd",
    "TrackSummary",
    "age_text",
    "as_utc",
    "compass",
    "destination",
    "haversine_m",
    "is_stale",
    "pair_speed_kmh",
    "split_segments",
    "summarize",
    "telegram_heading",
    "thin_segments",
    "timed_sorted",
]

EARTH_RADIUS_M: Final = 6_371_008.8  # IUGG mean radius
SEGMENT_GAP: Final = timedelta(minutes=10)
MOVING_KMH: Final = 1.0
# Cell positions jump by kilometres between fixes seconds apart; no terminal moves this fast.
MAX_PLAUSIBLE_KMH: Final = 300.0
# /where calls a fix older than this stale.
STALE_AFTER: Final = timedelta(hours=1)


class Located(Protocol):
    """What a track point offers: `TrackPoint` and `Fix` both fit."""

    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def speed(self) -> float | None: ...
    @property
    def time(self) -> datetime | None: ...
    @property
    def position_type(self) -> int | None: ...  # 1 is cell, anything else GPS


P = TypeVar("P", bound=Located)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (spherical Earth)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    # Rounding can push h a hair past 1 for antipodal points.
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, h))))


@dataclass(frozen=True, slots=True)
class LatLon:
    """A place as WGS-84 degrees (latitude first, as people write it)."""

    lat: float
    lon: float


def destination(lat: float, lon: float, bearing_deg: float, distance_m: float) -> LatLon:
    """The point `distance_m` from (lat, lon) along the initial bearing `bearing_deg` (0
    north, 90 east), on the same sphere as `haversine_m` (so the two agree)."""
    d = distance_m / EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    p2 = math.asin(
        max(-1.0, min(1.0, math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b)))
    )
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lon2 = (math.degrees(l2) + 540) % 360 - 180
    return LatLon(math.degrees(p2), lon2)


def telegram_heading(bearing_deg: float | None) -> int | None:
    """A bearing as Telegram's live-location `heading`: whole degrees 1-360 (north is
    360, never 0); None when unknown or not a number."""
    if bearing_deg is None or not math.isfinite(bearing_deg):
        return None
    return round(bearing_deg) % 360 or 360


_COMPASS: Final = {
    "en": (
        "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE",
        "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW",
    ),
    "zh": (
        "北", "北东北", "东北", "东东北", "东", "东东南", "东南", "南东南",
        "南", "南西南", "西南", "西西南", "西", "西西北", "西北", "北西北",
    ),
}  # fmt: skip


def compass(bearing_deg: float | None, lang: str, *, points: int = 8) -> str | None:
    """The compass word for a bearing (0 north, 90 east): 8 or 16 points; None if unknown.

    Any language other than ``zh`` gets English abbreviations (N, NE, ...).
    """
    if points not in (8, 16):
        raise ValueError("compass points must be 8 or 16")
    if bearing_deg is None or not math.isfinite(bearing_deg):
        return None
    names = _COMPASS["zh" if lang == "zh" else "en"]
    step = 360 / points
    index = round((bearing_deg % 360) / step) % points
    return names[index * (16 // points)]


def age_text(delta: timedelta, lang: str) -> str:
    """How long ago, in words: "just now", "4 min ago", "2 h 5 min ago", "3 days ago".

    A negative delta (a fix stamped slightly in the future by a skewed clock) is "just now".
    """
    zh = lang == "zh"
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "刚刚" if zh else "just now"
    if minutes < 60:
        return f"{minutes} 分钟前" if zh else f"{minutes} min ago"
    hours, mins = divmod(minutes, 60)
    if hours < 24:
        if zh:
            return f"{hours} 小时 {mins} 分钟前" if mins else f"{hours} 小时前"
        return f"{hours} h {mins} min ago" if mins else f"{hours} h ago"
    days = hours // 24
    if zh:
        return f"{days} 天前"
    return "1 day ago" if days == 1 else f"{days} days ago"


def is_stale(fix_time: datetime | None, now: datetime) -> bool:
    """True when a fix is older than `STALE_AFTER` (or has no time at all)."""
    return fix_time is None or now - fix_time > STALE_AFTER


@dataclass(frozen=True, slots=True)
class TrackEnd:
    """The first or last fix of a track."""

    time: datetime
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class TrackSummary:
    """What a track adds up to. Speeds km/h, `gps_share` 0..1.

    Distance and moving time count only steps within a segment (no gap over
    `SEGMENT_GAP`), never the straight line across a gap. `avg_speed_kmh` is
    distance over moving time; both speeds are None when nothing supports them.
    """

    points: int
    untimed: int
    gps_points: int
    cell_points: int
    gps_share: float
    distance_km: float
    moving_time: timedelta
    duration: timedelta
    max_speed_kmh: float | None
    avg_speed_kmh: float | None
    first: TrackEnd | None
    last: TrackEnd | None
    segments: int


def as_utc(t: datetime) -> datetime:
    """A time as it is when aware; a naive one taken as UTC (points carry aware times; a
    naive one is read as UTC rather than crash a sort or a subtraction)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _when(p: Located) -> datetime:
    """The time of a point known to have one."""
    t = p.time
    assert t is not None
    return as_utc(t)


def _timed(points: Iterable[P]) -> list[tuple[datetime, P]]:
    pairs = [(as_utc(t), p) for p in points if (t := p.time) is not None]
    pairs.sort(key=itemgetter(0))  # stable: equal times keep their order
    return pairs


def timed_sorted(points: Iterable[P]) -> list[P]:
    """The points that have a time, in time order (stable for equal times)."""
    return [p for _, p in _timed(points)]


def split_segments(points: Iterable[P], gap: timedelta = SEGMENT_GAP) -> list[list[P]]:
    """The timed points in time order, cut wherever consecutive fixes are more than
    `gap` apart. Points without a time are left out: they cannot be placed."""
    segments: list[list[P]] = []
    current: list[P] = []
    prev: datetime | None = None
    for t, p in _timed(points):
        if prev is not None and t - prev > gap:
            segments.append(current)
            current = []
        current.append(p)
        prev = t
    if current:
        segments.append(current)
    return segments


def pair_speed_kmh(a: Located, b: Located, metres: float | None = None) -> float | None:
    """The speed over the step from `a` to `b`: the reported speeds (their mean when
    both are known), else distance over time; None for a step without duration."""
    if a.speed is not None and b.speed is not None:
        return (a.speed + b.speed) / 2
    if a.speed is not None:
        return a.speed
    if b.speed is not None:
        return b.speed
    return _derived_kmh(a, b, metres)


def _derived_kmh(a: Located, b: Located, metres: float | None = None) -> float | None:
    if a.time is None or b.time is None:
        return None
    seconds = (_when(b) - _when(a)).total_seconds()
    if seconds <= 0:
        return None
    if metres is None:
        metres = haversine_m(a.lat, a.lon, b.lat, b.lon)
    return metres / seconds * 3.6


def summarize(points: Iterable[Located], gap: timedelta = SEGMENT_GAP) -> TrackSummary:
    """Sum up a track: counts, distance, moving time, speeds, first and last fix."""
    all_points = list(points)
    segments = split_segments(all_points, gap)
    timed: Sequence[Located] = [p for seg in segments for p in seg]
    n = len(timed)
    gps = sum(1 for p in timed if p.position_type != 1)
    metres = 0.0
    max_reported: float | None = None
    max_derived: float | None = None
    for p in timed:
        if p.speed is not None and (max_reported is None or p.speed > max_reported):
            max_reported = float(p.speed)
    moving = timedelta(0)
    for seg in segments:
        for a, b in itertools.pairwise(seg):
            step = haversine_m(a.lat, a.lon, b.lat, b.lon)
            metres += step
            delta = _when(b) - _when(a)
            dt = delta.total_seconds()
            derived = step / dt * 3.6 if dt > 0 else None
            if derived is not None and derived <= MAX_PLAUSIBLE_KMH:
                max_derived = derived if max_derived is None else max(max_derived, derived)
            reported = a.speed is not None or b.speed is not None
            speed = pair_speed_kmh(a, b) if reported else derived
            if speed is not None and speed >= MOVING_KMH:
                moving += delta
    hours = moving.total_seconds() / 3600
    distance_km = metres / 1000
    first = last = None
    if timed:
        f, la = timed[0], timed[-1]
        first = TrackEnd(_when(f), f.lat, f.lon)
        last = TrackEnd(_when(la), la.lat, la.lon)
    return TrackSummary(
        points=n,
        untimed=len(all_points) - n,
        gps_points=gps,
        cell_points=n - gps,
        gps_share=gps / n if n else 0.0,
        distance_km=distance_km,
        moving_time=moving,
        duration=(last.time - first.time) if first and last else timedelta(0),
        max_speed_kmh=max_reported if max_reported is not None else max_derived,
        avg_speed_kmh=distance_km / hours if hours > 0 else None,
        first=first,
        last=last,
        segments=len(segments),
    )


def thin_segments(segments: Sequence[Sequence[P]], limit: int) -> list[list[P]]:
    """Every segment cut down by one common stride so the total is about `limit`,
    always keeping each segment's first and last point."""
    total = sum(len(s) for s in segments)
    stride = max(1, math.ceil(total / max(1, limit)))
    if stride == 1:
        return [list(s) for s in segments]
    out: list[list[P]] = []
    for seg in segments:
        kept = list(seg[::stride])
        if len(seg) > 1 and (len(seg) - 1) % stride:
            kept.append(seg[-1])
        out.append(kept)
    return out
