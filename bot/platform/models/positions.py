"""Positions: a user's latest fix (2.4) and the points of a track (2.5)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from pydantic import Field, TypeAdapter, model_validator

from bot.platform.models.base import (
    _SHAPE_ERRORS,
    Id,
    OptFloat,
    OptInt,
    OptTime,
    Str,
    _as_list,
    _bad_shape,
    _Model,
    _opt_float,
    _to_int,
)


def _latlon(v: dict[str, Any]) -> dict[str, Any]:
    """x is latitude, y longitude; `location` is [lon, lat] and fills what is missing."""
    v = dict(v)
    lat, lon = _opt_float(v.get("x")), _opt_float(v.get("y"))
    loc = v.get("location")
    if (lat is None or lon is None) and isinstance(loc, list | tuple) and len(loc) >= 2:
        lon = lon if lon is not None else _opt_float(loc[0])
        lat = lat if lat is not None else _opt_float(loc[1])
    elif (lat is None or lon is None) and isinstance(loc, str) and "," in loc:
        a, _, b = loc.partition(",")
        lon = lon if lon is not None else _opt_float(a)
        lat = lat if lat is not None else _opt_float(b)
    v["lat"], v["lon"] = lat, lon
    v["position_type"] = v.get("positionType")
    return v


class _Located(_Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed: OptFloat = None  # km/h, as the platform reports it
    altitude: OptFloat = None  # metres
    bearing: OptFloat = None  # degrees, 0 north, 90 east
    time: OptTime = None
    position_type: OptInt = None  # 0 GPS, 1 cell; 2.4 rarely says

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        return _latlon(v) if isinstance(v, dict) else v


class Fix(_Located):
    """A user's latest position (2.4)."""

    uid: Id
    username: Str = ""
    online: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, v: Any) -> Any:
        if isinstance(v, dict):
            v = _latlon(v)
            v["uid"] = v.get("id", v.get("uid"))
            raw = v.get("isOnLine", v.get("online"))
            # "2" means online, null offline; tolerate 1/0 and booleans too.
            v["online"] = str(raw).strip() in ("2", "1", "True", "true")
        return v


class TrackPoint(_Located):
    """One point of a track (2.5); `position_type` 0 is GPS, 1 cell."""

    uid: OptInt = None

    @property
    def is_gps(self) -> bool:
        return self.position_type != 1


_TRACK_LIST: TypeAdapter[list[TrackPoint]] = TypeAdapter(list[TrackPoint])


def tracks_from_data(
    data: Any, tz: tzinfo, endpoint: str = "trackPlayback"
) -> dict[int, list[TrackPoint]]:
    """2.5's answer as points per uid, sorted by time.

    Accepts a map `{uid: [points]}`, a list of such maps, or a flat list of
    points carrying their own `uid`. Any other shape is `PlatformBadResponseError`.
    """
    try:
        return _tracks(data, tz)
    except _SHAPE_ERRORS as exc:
        raise _bad_shape(exc, endpoint) from None


def _tracks(data: Any, tz: tzinfo) -> dict[int, list[TrackPoint]]:
    out: dict[int, list[TrackPoint]] = {}
    if data is None:
        return out
    maps: list[Any]
    if isinstance(data, dict):
        maps = [data]
    elif isinstance(data, list):
        if all(isinstance(x, dict) and ("x" in x or "location" in x) for x in data):
            flat = _TRACK_LIST.validate_python(data, context={"tz": tz})
            for p in flat:
                out.setdefault(p.uid if p.uid is not None else 0, []).append(p)
            return _sorted(out)
        maps = data
    else:
        raise ValueError("track data is neither a map nor a list")
    for m in maps:
        if not isinstance(m, dict):
            raise ValueError("track list holds something other than a map")
        for key, points in m.items():
            uid = _to_int(key)
            pts = _TRACK_LIST.validate_python(_as_list(points), context={"tz": tz})
            out.setdefault(uid, []).extend(
                p if p.uid is not None else p.model_copy(update={"uid": uid}) for p in pts
            )
    return _sorted(out)


def _sorted(out: dict[int, list[TrackPoint]]) -> dict[int, list[TrackPoint]]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return {uid: sorted(pts, key=lambda p: p.time or epoch) for uid, pts in out.items()}
