"""The map API's JSON: fixes, tracks, fences and recordings as the page draws them.

The bridge holds WGS-84; the page draws on tiles in `BRIDGE_MAP_TILES_CRS`. Every
coordinate leaves through `Crs.out` and every coordinate a request brings comes back
through `Crs.into`, so the page never converts anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final, Literal

from bot.directory import DirUser
from bot.geo.measure import Located, pair_speed_kmh, split_segments, summarize, thin_segments
from bot.platform.coords import gcj02_to_wgs84, wgs84_to_gcj02
from bot.platform.models import Fix, Recording, TrackPoint
from storage.fences import Fence

__all__ = [
    "FIX_STALE_AFTER",
    "TRACK_MAX_POINTS",
    "Crs",
    "fence_json",
    "fix_json",
    "member_json",
    "recording_json",
    "track_json",
]

# The page greys a marker whose fix is older than this (the contract's 10 minutes).
FIX_STALE_AFTER: Final = timedelta(minutes=10)
TRACK_MAX_POINTS: Final = 5_000
_DIGITS: Final = 6  # ~0.1 m: more digits only weigh on the answer


@dataclass(frozen=True, slots=True)
class Crs:
    """The tiles' coordinate system: `wgs84`, or `gcj02` (China's shifted coordinates)."""

    name: Literal["wgs84", "gcj02"]

    def out(self, lat: float, lon: float) -> tuple[float, float]:
        """A WGS-84 point as the tiles place it."""
        if self.name == "gcj02":
            lat, lon = wgs84_to_gcj02(lat, lon)
        return round(lat, _DIGITS), round(lon, _DIGITS)

    def into(self, lat: float, lon: float) -> tuple[float, float]:
        """A point on the tiles as WGS-84."""
        return gcj02_to_wgs84(lat, lon) if self.name == "gcj02" else (lat, lon)


def _iso(at: datetime | None, tz: tzinfo) -> str | None:
    return None if at is None else at.astimezone(tz).isoformat()


def _finite(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None and math.isfinite(value) else None


def fix_json(fix: Fix, now: datetime, tz: tzinfo, crs: Crs) -> dict[str, Any]:
    lat, lon = crs.out(fix.lat, fix.lon)
    return {
        "lat": lat,
        "lon": lon,
        "at": _iso(fix.time, tz),
        "speed_kmh": _finite(fix.speed),
        "heading": _finite(fix.bearing, 0),
        "altitude_m": _finite(fix.altitude),
        "stale": fix.time is None or now - fix.time > FIX_STALE_AFTER,
    }


def member_json(
    user: DirUser, online: bool, fix: Fix | None, now: datetime, tz: tzinfo, crs: Crs
) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "account": user.account,
        "online": online,
        "fix": None if fix is None else fix_json(fix, now, tz, crs),
    }


def track_json(points: Sequence[TrackPoint], crs: Crs) -> dict[str, Any]:
    """`points` (timed, oldest first) as `[lat, lon, t_unix_s, speed_kmh]` rows, thinned to
    `TRACK_MAX_POINTS` (each segment keeps its ends), and the whole track's summary."""
    summary = summarize(points)
    rows: list[list[Any]] = []
    for segment in thin_segments(split_segments(points), TRACK_MAX_POINTS):
        previous: Located | None = None
        for p in segment:
            speed = p.speed
            if speed is None and previous is not None:
                speed = pair_speed_kmh(previous, p)
            lat, lon = crs.out(p.lat, p.lon)
            assert p.time is not None  # split_segments keeps only timed points
            rows.append([lat, lon, int(p.time.timestamp()), _finite(speed)])
            previous = p
    return {
        "points": rows,
        "summary": {
            "points": summary.points,
            "km": round(summary.distance_km, 3),
            "duration_s": int(summary.duration.total_seconds()),
            "max_kmh": _finite(summary.max_speed_kmh),
            "avg_kmh": _finite(summary.avg_speed_kmh),
        },
    }


def fence_json(fence: Fence, crs: Crs) -> dict[str, Any]:
    lat, lon = crs.out(fence.lat, fence.lon)
    polygon = fence.polygon
    return {
        "id": fence.id,
        "name": fence.name,
        "kind": "circle" if polygon is None else "polygon",
        "lat": lat,
        "lon": lon,
        "radius_m": round(fence.radius_m, 1),
        "points": None if polygon is None else [list(crs.out(a, b)) for a, b in polygon],
    }


def recording_json(rec: Recording, audio_id: str, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": audio_id,
        "begin": _iso(rec.begin, tz),
        "seconds": None if rec.duration_ms is None else round(rec.duration_ms / 1000, 1),
        "group": rec.group_name,
        "audio": f"/app/api/audio/{audio_id}",
    }
