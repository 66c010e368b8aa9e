"""Users who move along paths, as a deterministic function of the sandbox clock (issue #15).

With ``SandboxData(moving=True)`` (``SandboxPlatform(moving=True)``, ``bot sandbox``) a few
users drive, ride or walk closed loops along the street grid near their home positions,
so that follows move and fences are crossed. Everything is a function of the clock
(`SandboxData.now`): the same instant always gives the same fix.

- zhangsan01 (`CROSSING_USER_ID`) rides a 20-minute loop whose north-south leg runs
  through the centre of `DEMO_FENCE`: inside during `DEMO_FENCE_INSIDE_MINUTES`.
- zhangshan01 (`STALE_USER_ID`) drives a loop and goes offline during `STALE_MINUTES`
  of every hour: 2.4 answers it offline with its last fix (the fix goes stale), 2.5
  has no points in that window, 2.2/2.3/2.12 count it offline.
- 李<b>&四 (`JITTER_USER_ID`) stands on the fence's boundary: every fix lies within
  ±`JITTER_M` of a point `DEMO_FENCE[2]` metres east of the landmark (hysteresis).
- 赵六 (`WALKER_USER_ID`) walks at 5 km/h; three more users of org 266's subtree and
  one of org 267's drive loops at 10-50 km/h (the first such generated users, by id).

Fixes are WGS-84 (the server offsets them under the gcj02 quirk), taken every
`fix_every_s` seconds: a fix's time is the clock rounded down to that interval, its
position the path's at that time, its heading the bearing of the leg, its speed the
loop's. Every other user keeps the behaviour of the static sandbox.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from bot.sandbox.data.constants import FIXED_USERS
from bot.sandbox.data.model import Fix, TrackPoint, User
from bot.sandbox.data.units import offset_km

DEMO_FENCE: tuple[float, float, float] = (30.2950, 120.1520, 300.0)
"""A landmark near zhangsan01's home (lat, lon WGS-84) and a fence radius in metres."""

DEMO_FENCE_INSIDE_MINUTES: tuple[tuple[float, float], ...] = (
    (3.1, 5.3),
    (23.1, 25.3),
    (43.1, 45.3),
)
"""Minutes past every hour (local time and UTC alike) during which zhangsan01's latest fix
(2.4) is within `DEMO_FENCE`: from a little after the first figure (3 min 10 s) to a little
before the second (5 min 15 s); outside at both figures and at every other minute."""

CROSSING_USER_ID = 10001  # zhangsan01
STALE_USER_ID = 10002  # zhangshan01
JITTER_USER_ID = 10004  # 李<b>&四 (tricky)
WALKER_USER_ID = 10006  # 赵六
STALE_MINUTES: tuple[int, int] = (25, 35)
"""Minutes [first, last) past every hour during which zhangshan01 is offline."""
JITTER_M = 15.0
TRACK_STEP_S = 30  # 2.5 points of a path, one every 30 s (the latest fix is added)
ORG_266, ORG_267 = 266, 267

_EARTH_M = 6_371_008.8
_FIXED_IDS = frozenset(fu.id for fu in FIXED_USERS)


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lat, lon) points."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * _EARTH_M * math.asin(math.sqrt(min(1.0, h)))


def bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Initial bearing from a to b, degrees clockwise from north in [0, 360)."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    y = math.sin(lo2 - lo1) * math.cos(la2)
    x = math.cos(la1) * math.sin(la2) - math.sin(la1) * math.cos(la2) * math.cos(lo2 - lo1)
    return math.degrees(math.atan2(y, x)) % 360


class MovingPath:
    """One user's closed loop of WGS-84 waypoints, run once every `period_s` seconds
    (phase 0 at the epoch, so a period dividing an hour repeats every hour), or — with
    `jitter_m` — a single point the user stands at, each fix scattered around it."""

    def __init__(
        self,
        uid: int,
        waypoints: Iterable[tuple[float, float]],
        *,
        period_s: int,
        fix_every_s: int = 5,
        altitude: float = 20.0,
        offline_minutes: tuple[int, int] | None = None,
        jitter_m: float = 0.0,
        jitter_from: tuple[float, float] | None = None,
    ) -> None:
        self.uid = uid
        self.waypoints = tuple(waypoints)
        self.period_s = period_s
        self.fix_every_ms = fix_every_s * 1000
        self.altitude = altitude
        self.offline_minutes = offline_minutes
        self.jitter_m = jitter_m
        self.jitter_from = jitter_from
        ends = self.waypoints[1:] + self.waypoints[:1]
        pairs = zip(self.waypoints, ends, strict=True)
        self.legs = [(a, b, haversine_m(a, b), bearing_deg(a, b)) for a, b in pairs]
        self.length_m = sum(leg[2] for leg in self.legs)
        self.speed_kmh = 0.0 if jitter_m else round(self.length_m / period_s * 3.6, 1)

    def offline_at(self, t_ms: int) -> bool:
        """Whether the terminal reports nothing at `t_ms` (inside its offline minutes)."""
        if self.offline_minutes is None:
            return False
        first, last = self.offline_minutes
        return first <= (t_ms // 60_000) % 60 < last

    def last_fix_ms(self, now_ms: int) -> int:
        """The time of the latest fix at `now_ms`: now rounded down to the fix interval,
        or the last one before the offline window now is in."""
        t = now_ms - now_ms % self.fix_every_ms
        if self.offline_at(t) and self.offline_minutes is not None:
            window_start = t - t % 3_600_000 + self.offline_minutes[0] * 60_000
            t = window_start - self.fix_every_ms
        return t

    def at(self, t_ms: int) -> TrackPoint:
        """The point of the path at `t_ms` (whether or not a fix was taken then)."""
        if self.jitter_m:
            return self._jittered(t_ms)
        s = (t_ms / 1000 % self.period_s) / self.period_s * self.length_m
        for a, b, length, heading in self.legs:
            if s <= length or (a, b) == self.legs[-1][:2]:
                f = min(1.0, s / length) if length else 0.0
                lat = a[0] + (b[0] - a[0]) * f
                lon = a[1] + (b[1] - a[1]) * f
                return TrackPoint(
                    time_ms=t_ms,
                    lat=round(lat, 7),
                    lon=round(lon, 7),
                    speed=self.speed_kmh,
                    altitude=self.altitude,
                    bearing=round(heading, 1),
                    position_type=0,
                )
            s -= length
        raise AssertionError("unreachable: s is within the loop")

    def _jittered(self, t_ms: int) -> TrackPoint:
        rng = random.Random(f"jitter:{self.uid}:{t_ms}")
        centre = self.waypoints[0]
        away = bearing_deg(self.jitter_from, centre) if self.jitter_from else 90.0
        radial = rng.uniform(-self.jitter_m, self.jitter_m)
        side = rng.uniform(-self.jitter_m, self.jitter_m) / 3
        north = (radial * math.cos(math.radians(away)) - side * math.sin(math.radians(away))) / 1000
        east = (radial * math.sin(math.radians(away)) + side * math.cos(math.radians(away))) / 1000
        lat, lon = offset_km(centre[0], centre[1], north, east)
        return TrackPoint(t_ms, round(lat, 7), round(lon, 7), 0.0, self.altitude, None, 0)

    def fix(self, now_ms: int) -> Fix:
        """The latest fix at `now_ms`."""
        p = self.at(self.last_fix_ms(now_ms))
        return Fix(p.lat, p.lon, p.time_ms, p.speed, p.altitude, p.bearing, 0)

    def track(self, start_ms: int, end_ms: int, now_ms: int) -> list[TrackPoint]:
        """Points in [start_ms, min(end_ms, now_ms)], one every TRACK_STEP_S and the latest
        fix, none inside an offline window; oldest first."""
        end_ms = min(end_ms, now_ms)
        step = TRACK_STEP_S * 1000
        out: list[TrackPoint] = []
        t = start_ms + (-start_ms) % step
        while t <= end_ms:
            if not self.offline_at(t):
                out.append(self.at(t))
            t += step
        latest = self.last_fix_ms(now_ms)
        if start_ms <= latest <= end_ms and (not out or out[-1].time_ms < latest):
            out.append(self.at(latest))
        return out


def _grid_loop(
    rng: random.Random, lat: float, lon: float, size_km: tuple[float, float]
) -> list[tuple[float, float]]:
    """A loop round blocks of the street grid that passes the user's position: an L-shaped
    or rectangular circuit of north-south and east-west legs."""
    w, h = rng.uniform(*size_km), rng.uniform(*size_km)
    north0, east0 = -rng.uniform(0, h), -rng.uniform(0, w)
    corners = [(0.0, 0.0), (0.0, w), (h, w), (h, 0.0)]
    if rng.random() < 0.5:  # an L: cut one corner along a side street
        cw, ch = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
        corners = [(0.0, 0.0), (0.0, w), (ch, w), (ch, cw), (h, cw), (h, 0.0)]
    return [offset_km(lat, lon, north0 + n, east0 + e) for n, e in corners]


def _loop_path(
    u: User,
    speed_kmh: float,
    size_km: tuple[float, float],
    *,
    fix_every_s: int = 5,
    offline_minutes: tuple[int, int] | None = None,
) -> MovingPath:
    """A loop near the user's home, its period set by the speed (at least a minute)."""
    points = _grid_loop(random.Random(f"path:{u.id}"), u.home_lat, u.home_lon, size_km)
    length = MovingPath(u.id, points, period_s=1).length_m
    return MovingPath(
        u.id,
        points,
        period_s=max(60, round(length / (speed_kmh / 3.6))),
        fix_every_s=fix_every_s,
        offline_minutes=offline_minutes,
    )


def crossing_path() -> MovingPath:
    """zhangsan01's loop: south through `DEMO_FENCE`'s centre, back north 900 m east of it;
    5.8 km in 20 min (17.4 km/h)."""
    lat, lon, _r = DEMO_FENCE
    legs = [(1.2, 0.0), (-0.8, 0.0), (-0.8, 0.9), (1.2, 0.9)]
    return MovingPath(CROSSING_USER_ID, [offset_km(lat, lon, n, e) for n, e in legs], period_s=1200)


def build_paths(
    users: dict[int, User], subtree_266: set[int], subtree_267: set[int]
) -> dict[int, MovingPath]:
    """The moving users of a directory, by user id (those absent or without a fix are left out)."""
    paths: dict[int, MovingPath] = {}

    def fit(uid: int) -> User | None:
        u = users.get(uid)
        return u if u is not None and u.fix is not None else None

    if fit(CROSSING_USER_ID):
        paths[CROSSING_USER_ID] = crossing_path()
    if u := fit(STALE_USER_ID):
        paths[u.id] = _loop_path(u, 30.0, (0.5, 1.5), offline_minutes=STALE_MINUTES)
    if u := fit(WALKER_USER_ID):
        paths[u.id] = _loop_path(u, 5.0, (0.15, 0.35), fix_every_s=10)
    if fit(JITTER_USER_ID):
        lat, lon, radius = DEMO_FENCE
        spot = offset_km(lat, lon, 0.0, radius / 1000)
        paths[JITTER_USER_ID] = MovingPath(
            JITTER_USER_ID,
            [spot],
            period_s=60,
            fix_every_s=10,
            jitter_m=JITTER_M,
            jitter_from=(lat, lon),
        )
    generated = sorted(
        uid
        for uid, u in users.items()
        if uid not in paths
        and u.fix is not None
        and u.online
        and u.tracked
        and uid not in _FIXED_IDS
    )
    in_266 = [uid for uid in generated if users[uid].org_id in subtree_266][:3]
    in_267 = [uid for uid in generated if users[uid].org_id in subtree_267][:1]
    speeds = [(uid, kmh) for uid, kmh in zip(in_266, (12.0, 25.0, 45.0), strict=False)]
    for uid, kmh in [*speeds, *((uid, 40.0) for uid in in_267)]:
        paths[uid] = _loop_path(users[uid], kmh, (0.6, 2.0))
    return paths
