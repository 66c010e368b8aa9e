"""2.4 latest positions, 2.5 track playback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.sandbox.platform.state import PlatformState
from bot.sandbox.platform.wire import (
    ApiError,
    Call,
    as_int,
    as_int_list,
    dedupe,
    iso_utc,
    local_str,
    parse_local,
    required,
)


class PositionRoutes(PlatformState):
    """2.4 latest positions, 2.5 track playback."""

    # ---- 2.4, 2.5 ---------------------------------------------------------------------------

    def _uids(self, body: Mapping[str, Any]) -> list[int]:
        uids = body.get("uids")
        if uids is None:
            raise ApiError(506, "uids")
        return dedupe(as_int_list(uids, "uids"))

    def _coord_time(self, ms: int) -> Any:
        fmt = self.quirks.coord_time_format
        if fmt == "iso":
            return iso_utc(ms)
        if fmt == "local":
            return local_str(ms)
        if fmt == "s":
            return ms // 1000
        return ms

    def _latest_coords(self, call: Call) -> Any:
        uids = self._uids(call.body)
        limit = self.quirks.coords_max_uids
        if limit is not None and len(uids) > limit:
            raise ApiError(510, f"每次最多 {limit} 个用户")
        out = []
        for uid in uids:
            u = self.data.users.get(uid)
            f = self.data.fix_now(u) if u is not None else None
            if u is None or f is None:
                continue
            lat, lon = self._coords(f.lat, f.lon)
            entry: dict[str, Any] = {"id": self._id(u.id), "username": u.name, "x": lat, "y": lon}
            if f.speed is not None:
                entry["speed"] = f.speed
            if f.altitude is not None:
                entry["altitude"] = f.altitude
            if f.bearing is not None:
                entry["bearing"] = f.bearing
            if self.quirks.coord_time_format != "absent":
                entry["time"] = self._coord_time(f.time_ms)
            entry["location"] = [lon, lat]
            entry["isOnLine"] = self._online(self.data.online_now(u))
            out.append(entry)
        return out

    def _time_range(self, body: Mapping[str, Any]) -> tuple[int, int]:
        if body.get("startTimestamp") is not None or body.get("endTimestamp") is not None:
            start = as_int(required(body, "startTimestamp"), "startTimestamp")
            end = as_int(required(body, "endTimestamp"), "endTimestamp")
        elif body.get("startTime") is not None or body.get("endTime") is not None:
            fmt = "%Y-%m-%d %H:%M:%S"
            start_dt = parse_local(required(body, "startTime"), "startTime", fmt)
            end_dt = parse_local(required(body, "endTime"), "endTime", fmt)
            start, end = int(start_dt.timestamp() * 1000), int(end_dt.timestamp() * 1000)
        else:
            raise ApiError(506, "startTime/endTime 或 startTimestamp/endTimestamp")
        if end < start:
            raise ApiError(502, "结束时间早于开始时间")
        return start, end

    def _track_playback(self, call: Call) -> Any:
        uids = self._uids(call.body)
        start, end = self._time_range(call.body)
        in_seconds = self.quirks.track_time_unit == "s"
        by_uid: dict[str, list[dict[str, Any]]] = {}
        for uid in uids:
            points = []
            for p in self.data.track(uid, start, end):
                lat, lon = self._coords(p.lat, p.lon)
                point: dict[str, Any] = {
                    "uid": self._id(uid),
                    "positionType": p.position_type,
                    "x": lat,
                    "y": lon,
                    "speed": p.speed,
                }
                if p.altitude is not None:
                    point["altitude"] = p.altitude
                if p.bearing is not None:
                    point["bearing"] = p.bearing
                point["time"] = p.time_ms // 1000 if in_seconds else p.time_ms
                point["location"] = [lon, lat]
                points.append(point)
            if points:
                by_uid[str(uid)] = points
        shape = self.quirks.track_shape
        if shape == "map":
            return by_uid
        if shape == "flat":
            return [p for points in by_uid.values() for p in points]
        return [by_uid]
