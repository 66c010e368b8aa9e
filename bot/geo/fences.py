"""Geofence crossings and "who is nearest", as pure functions over fixes.

Coordinates here are **WGS-84**. Where the platform reports GCJ-02
(``PLATFORM_COORDINATES=gcj02``) the caller converts each fix first with
:func:`bot.platform.coords.gcj02_to_wgs84`: a fence drawn from a Telegram location
(WGS-84) compared with an unconverted fix would be off by a few hundred metres.

A crossing is decided with hysteresis: a user is *inside* once a fix lies within
``r - m`` of the centre, *outside* once one lies beyond ``r + m``, with the margin
``m = max(20 m, 10 % of r)`` (but at most half the radius, so that a fence under 40 m
can still be entered); a fix in the band between decides nothing. The change must
be seen on **two consecutive fresh fixes** (a fix in the band, or on the side already
told, breaks the run). A fix is fresh when it is newer than the last fix considered and
younger than the staleness limit (a few polls); a stale or repeated fix is ignored, state
and all. The first fresh fix sets the state without reporting anything.

A fence may also be a **polygon** (3 to 50 WGS-84 vertices, drawn on the map or typed in
chat). It is measured on a local plane (an equirectangular projection about its centre,
exact to well under 1 % over the 50 km a fence may span): a fix's *depth* is its distance
to the nearest edge, positive inside and negative outside, and the circle's rules apply to
it unchanged: inside once the depth exceeds ``m``, outside once it is below ``-m``, the band
between decides nothing. A circle's depth is ``r - d``, so both kinds share one rule. The
polygon's margin is the circle's for ``r = 2 * area / perimeter`` (a circle's own radius,
a regular polygon's inradius), capped at a quarter of that: never more than half the
deepest point's depth, so that a long thin fence can still be entered. Its centre and
``radius_m`` (:func:`polygon_bounds`) are a circle holding every vertex: a fix beyond it
by more than the margin is outside without looking at the edges.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Generic, Literal, Protocol, TypeVar

from bot.geo.measure import EARTH_RADIUS_M, LatLon, as_utc, haversine_m

__all__ = [
    "CONFIRM_FIXES",
    "MAX_POLYGON_POINTS",
    "MAX_POLYGON_SPAN_M",
    "MIN_MARGIN_M",
    "MIN_POLYGON_AREA_M2",
    "MIN_POLYGON_POINTS",
    "STALE_POLLS",
    "Crossed",
    "Crossing",
    "Decisions",
    "FenceArea",
    "Nearby",
    "Placed",
    "Polygon",
    "PolygonFault",
    "decide",
    "nearest",
    "observe",
    "polygon_area_m2",
    "polygon_bounds",
    "polygon_fault",
    "polygon_problem",
    "polygon_span_m",
    "stale_limit",
]

MIN_MARGIN_M: Final = 20.0
MARGIN_SHARE: Final = 0.10
CONFIRM_FIXES: Final = 2  # consecutive fresh fixes on the other side that decide a crossing
STALE_POLLS: Final = 3  # a fix older than this many polls decides nothing


def stale_limit(poll: timedelta) -> timedelta:
    """How old a fix may be and still decide a crossing, for a job polling every `poll`."""
    return STALE_POLLS * poll


class Placed(Protocol):
    """What a fix offers here: `bot.platform.models.Fix` fits."""

    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def time(self) -> datetime | None: ...


class Crossed(StrEnum):
    """What a decided crossing was."""

    ENTER = "enter"
    LEAVE = "leave"


MIN_POLYGON_POINTS: Final = 3
MAX_POLYGON_POINTS: Final = 50
MIN_POLYGON_AREA_M2: Final = 100.0  # 10 m by 10 m: a circle's least radius is 10 m
MAX_POLYGON_SPAN_M: Final = 50_000.0  # centre to farthest vertex: a circle's greatest radius
SAME_POINT_M: Final = 0.5  # two vertices nearer than this are one point repeated
# The bounding circle is haversine, the edges planar: the projection's error, with room.
_BOUND_SLACK: Final = 1.01

Polygon = tuple[tuple[float, float], ...]
"""WGS-84 (lat, lon) vertices in order, the ring not closed (the last is not the first)."""

_XY = tuple[float, float]


def _wrap(lon: float) -> float:
    """A longitude difference or a longitude brought within [-180, 180)."""
    return (lon + 180.0) % 360.0 - 180.0


class _Plane:
    """Metres east and north of an origin: equirectangular, for a fence's few tens of km."""

    __slots__ = ("kx", "ky", "lat0", "lon0")

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self.ky = EARTH_RADIUS_M * math.pi / 180.0
        self.kx = self.ky * math.cos(math.radians(lat0))

    def xy(self, lat: float, lon: float) -> _XY:
        return _wrap(lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky


def _ring_edges(ring: Sequence[_XY]) -> Iterable[tuple[_XY, _XY]]:
    return zip(ring, [*ring[1:], ring[0]], strict=True)


def _area(ring: Sequence[_XY]) -> float:
    return abs(sum(ax * by - bx * ay for (ax, ay), (bx, by) in _ring_edges(ring))) / 2


def _perimeter(ring: Sequence[_XY]) -> float:
    return sum(math.hypot(bx - ax, by - ay) for (ax, ay), (bx, by) in _ring_edges(ring))


def _to_edge(p: _XY, a: _XY, b: _XY) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def _inside(p: _XY, ring: Sequence[_XY]) -> bool:
    """Even-odd ray casting (a simple polygon: no self-intersection)."""
    x, y = p
    inside = False
    for (ax, ay), (bx, by) in _ring_edges(ring):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def _depth(p: _XY, ring: Sequence[_XY]) -> float:
    d = min(_to_edge(p, a, b) for a, b in _ring_edges(ring))
    return d if _inside(p, ring) else -d


def _unwrapped(points: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """The vertices with longitudes made continuous from the first (across 180°)."""
    lon0 = float(points[0][1])
    return [(float(lat), lon0 + _wrap(float(lon) - lon0)) for lat, lon in points]


def polygon_bounds(points: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """A polygon's centre (the middle of its bounding box) and the radius in metres of a
    circle about it holding every vertex: what `Fence.lat`, `lon` and `radius_m` hold."""
    pts = _unwrapped(points)
    lats, lons = [p[0] for p in pts], [p[1] for p in pts]
    lat, lon = (min(lats) + max(lats)) / 2, _wrap((min(lons) + max(lons)) / 2)
    return lat, lon, max(haversine_m(lat, lon, a, b) for a, b in pts)


def _ring(points: Sequence[Sequence[float]]) -> list[_XY]:
    lat, lon, _ = polygon_bounds(points)
    plane = _Plane(lat, lon)
    return [plane.xy(float(a), float(b)) for a, b in points]


def polygon_area_m2(points: Sequence[Sequence[float]]) -> float:
    """The area a polygon encloses, in square metres (on its local plane)."""
    return _area(_ring(points))


def polygon_span_m(points: Sequence[Sequence[float]]) -> float:
    """How far across a polygon is: the greatest distance between two of its vertices."""
    return max(
        (
            haversine_m(a[0], a[1], b[0], b[1])
            for i, a in enumerate(points)
            for b in points[i + 1 :]
        ),
        default=0.0,
    )


@dataclass(frozen=True, slots=True)
class PolygonFault:
    """Why a polygon cannot be a fence. `code`: ``points`` (fewer than 3 or more than 50;
    `point` is how many were given), ``range`` (vertex `point` is off the map or not a
    number), ``repeated`` (vertex `point` is vertex `other` again), ``crossing`` (the edge
    from vertex `point` crosses the edge from vertex `other`), ``small`` (under 100 m²),
    ``large`` (a vertex more than 50 km from the centre). Vertices count from 1."""

    code: Literal["points", "range", "repeated", "crossing", "small", "large"]
    point: int = 0
    other: int = 0

    def __str__(self) -> str:
        lo, hi = MIN_POLYGON_POINTS, MAX_POLYGON_POINTS
        return {
            "points": f"a polygon has {lo} to {hi} points, not {self.point}",
            "range": f"point {self.point} is not a latitude within ±90 and a longitude within ±180",
            "repeated": f"point {self.point} repeats point {self.other}",
            "crossing": f"the edge from point {self.point} crosses the edge from point "
            f"{self.other}",
            "small": f"the area is under {MIN_POLYGON_AREA_M2:.0f} m²",
            "large": f"a point is over {MAX_POLYGON_SPAN_M / 1000:.0f} km from the centre",
        }[self.code]


def _orient(a: _XY, b: _XY, c: _XY) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on(a: _XY, b: _XY, p: _XY) -> bool:
    """Whether p, collinear with a-b, lies on that segment."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _meet(a: _XY, b: _XY, c: _XY, d: _XY) -> bool:
    """Whether segments a-b and c-d share a point (touching counts)."""
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if ((o1 > 0 > o2) or (o1 < 0 < o2)) and ((o3 > 0 > o4) or (o3 < 0 < o4)):
        return True
    return (
        (o1 == 0 and _on(a, b, c))
        or (o2 == 0 and _on(a, b, d))
        or (o3 == 0 and _on(c, d, a))
        or (o4 == 0 and _on(c, d, b))
    )


def _crossing(ring: Sequence[_XY]) -> tuple[int, int] | None:
    n = len(ring)
    edges = list(_ring_edges(ring))
    for i in range(n):
        a, b = edges[i]
        # The next edge shares b: they overlap only if it turns straight back.
        c = edges[(i + 1) % n][1]
        if (
            _orient(a, b, c) == 0
            and (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) < 0
        ):
            return i, (i + 1) % n
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing vertex
            if _meet(a, b, *edges[j]):
                return i, j
    return None


def polygon_fault(points: Sequence[Sequence[float]]) -> PolygonFault | None:
    """Why these (lat, lon) vertices cannot be a fence, or None when they can."""
    if not MIN_POLYGON_POINTS <= len(points) <= MAX_POLYGON_POINTS:
        return PolygonFault("points", len(points))
    for i, p in enumerate(points, 1):
        try:
            lat, lon = (float(v) for v in p)
        except (TypeError, ValueError):
            return PolygonFault("range", i)
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
            return PolygonFault("range", i)
    for i, a in enumerate(points):
        for j in range(i):
            if haversine_m(a[0], a[1], points[j][0], points[j][1]) < SAME_POINT_M:
                return PolygonFault("repeated", i + 1, j + 1)
    if polygon_bounds(points)[2] > MAX_POLYGON_SPAN_M:
        return PolygonFault("large")
    ring = _ring(points)
    crossed = _crossing(ring)
    if crossed is not None:
        return PolygonFault("crossing", crossed[0] + 1, crossed[1] + 1)
    if _area(ring) < MIN_POLYGON_AREA_M2:
        return PolygonFault("small")
    return None


def polygon_problem(points: Sequence[Sequence[float]]) -> str | None:
    """A short English reason these vertices cannot be a fence (`polygon_fault`), or None."""
    fault = polygon_fault(points)
    return None if fault is None else str(fault)


@dataclass(frozen=True, slots=True)
class FenceArea:
    """A fence: a circle (centre, WGS-84, and radius in metres), or a polygon (`polygon`,
    with the centre and radius of its bounding circle, as `polygon_bounds` gives them)."""

    lat: float
    lon: float
    radius_m: float
    polygon: Polygon | None = None
    _plane: _Plane = field(init=False, repr=False, compare=False)
    _ring: tuple[_XY, ...] = field(init=False, repr=False, compare=False)
    _margin: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plane = _Plane(self.lat, self.lon)
        if self.polygon is None:
            # Capped at r/2: with a 20 m margin a 15 m fence could never be entered.
            margin = min(max(MIN_MARGIN_M, MARGIN_SHARE * self.radius_m), self.radius_m / 2)
            ring: tuple[_XY, ...] = ()
        else:
            ring = tuple(plane.xy(lat, lon) for lat, lon in self.polygon)
            # A circle's radius is 2A/P; the polygon's deepest point is at least A/P deep.
            scale = 2 * _area(ring) / _perimeter(ring)
            margin = min(max(MIN_MARGIN_M, MARGIN_SHARE * scale), scale / 4)
        object.__setattr__(self, "_plane", plane)
        object.__setattr__(self, "_ring", ring)
        object.__setattr__(self, "_margin", margin)

    @property
    def margin_m(self) -> float:
        return self._margin

    def distance_m(self, lat: float, lon: float) -> float:
        """From the centre (of the bounding circle, for a polygon)."""
        return haversine_m(self.lat, self.lon, lat, lon)

    def depth_m(self, lat: float, lon: float) -> float:
        """How far inside the edge a point is, in metres; negative outside."""
        if self.polygon is None:
            return self.radius_m - self.distance_m(lat, lon)
        return _depth(self._plane.xy(lat, lon), self._ring)

    def contains(self, lat: float, lon: float) -> bool:
        """Whether a point is inside the fence, its edge included (no margin)."""
        if self.polygon is None:
            return self.distance_m(lat, lon) <= self.radius_m
        return self.depth_m(lat, lon) >= 0

    def side(self, lat: float, lon: float) -> bool | None:
        """True deeper than the margin inside the edge, False farther than it outside,
        None in the band between."""
        if self.polygon is None:
            d = self.distance_m(lat, lon)
            if d < self.radius_m - self.margin_m:
                return True
            if d > self.radius_m + self.margin_m:
                return False
            return None
        if self.distance_m(lat, lon) > self.radius_m * _BOUND_SLACK + self.margin_m:
            return False  # beyond the bounding circle: the edges need not be looked at
        depth = self.depth_m(lat, lon)
        if depth > self.margin_m:
            return True
        if depth < -self.margin_m:
            return False
        return None


@dataclass(frozen=True, slots=True)
class Crossing:
    """Where one user stands towards one fence, as last decided.

    `inside` is the side last decided; `pending` counts the consecutive fresh fixes seen
    on the other side since (always below `CONFIRM_FIXES`); `last_fix_at` is the time of
    the newest fix considered.
    """

    inside: bool
    pending: int = 0
    last_fix_at: datetime | None = None


def _fresh(state: Crossing | None, at: datetime | None, now: datetime, stale: timedelta) -> bool:
    if at is None or now - as_utc(at) > stale:
        return False
    last = state.last_fix_at if state is not None else None
    return last is None or as_utc(at) > as_utc(last)


def observe(
    area: FenceArea,
    state: Crossing | None,
    fix: Placed,
    now: datetime,
    *,
    stale_after: timedelta,
) -> tuple[Crossing | None, Crossed | None]:
    """One fix of one user against one fence: the new state, and the crossing it decided.

    `state` is None before the first fresh fix; a stale or repeated fix returns `state`
    unchanged (None stays None). See the module docstring for the rules.
    """
    if not _fresh(state, fix.time, now, stale_after):
        return state, None
    at = as_utc(fix.time) if fix.time is not None else None
    side = area.side(fix.lat, fix.lon)
    if state is None:
        # First sight: take the nearer side, even from the band, and report nothing.
        inside = side if side is not None else area.contains(fix.lat, fix.lon)
        return Crossing(inside, 0, at), None
    if side is None or side == state.inside:
        return replace(state, pending=0, last_fix_at=at), None
    pending = state.pending + 1
    if pending < CONFIRM_FIXES:
        return replace(state, pending=pending, last_fix_at=at), None
    return Crossing(side, 0, at), Crossed.ENTER if side else Crossed.LEAVE


P = TypeVar("P", bound=Placed)


@dataclass(frozen=True, slots=True)
class Decisions(Generic[P]):
    """What one poll decided: the states that changed (to store), by (fence id, user id),
    and the crossings, each with the fix that completed it, in fence then user order."""

    states: dict[tuple[int, int], Crossing]
    crossings: list[tuple[int, int, Crossed, P]]


def decide(
    areas: Mapping[int, FenceArea],
    concerned: Mapping[int, Collection[int]],
    states: Mapping[tuple[int, int], Crossing],
    fixes: Mapping[int, P],
    now: datetime,
    *,
    stale_after: timedelta,
) -> Decisions[P]:
    """One poll for every fence: `concerned` names the users watched on each fence (by
    fence id), `fixes` the latest fix of each user polled. A user without a fix, or on a
    fence not in `areas`, decides nothing. Only states that changed are returned."""
    changed: dict[tuple[int, int], Crossing] = {}
    crossings: list[tuple[int, int, Crossed, P]] = []
    for fence_id in sorted(concerned):
        area = areas.get(fence_id)
        if area is None:
            continue
        for user_id in sorted(concerned[fence_id]):
            fix = fixes.get(user_id)
            if fix is None:
                continue
            key = (fence_id, user_id)
            before = states.get(key)
            after, event = observe(area, before, fix, now, stale_after=stale_after)
            if after is not None and after != before:
                changed[key] = after
            if event is not None:
                crossings.append((fence_id, user_id, event, fix))
    return Decisions(changed, crossings)


@dataclass(frozen=True, slots=True)
class Nearby(Generic[P]):
    """A fix near a place: how far (metres) and how old (None when it has no time)."""

    fix: P
    distance_m: float
    age: timedelta | None


def nearest(
    center: LatLon,
    fixes: Iterable[P],
    radius_m: float | None,
    now: datetime,
    *,
    limit: int | None = None,
) -> list[Nearby[P]]:
    """The fixes within `radius_m` of `center` (all of them for None), nearest first.

    Distances equal to the metre (as they are shown) put the fresher fix first; `limit`
    keeps the first so many. A fix stamped in the future (a skewed clock) has age zero.
    """
    found: list[tuple[int, timedelta, int, Nearby[P]]] = []
    for i, fix in enumerate(fixes):
        d = haversine_m(center.lat, center.lon, fix.lat, fix.lon)
        if radius_m is not None and d > radius_m:
            continue
        age = None if fix.time is None else max(timedelta(0), now - as_utc(fix.time))
        unknown_last = age if age is not None else timedelta.max
        found.append((round(d), unknown_last, i, Nearby(fix, d, age)))
    ordered = heapq.nsmallest(limit, found) if limit is not None else sorted(found)
    return [n for *_, n in ordered]
