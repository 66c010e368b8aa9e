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
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, Generic, Protocol, TypeVar

from bot.geo.measure import LatLon, haversine_m

__all__ = [
    "CONFIRM_FIXES",
    "MIN_MARGIN_M",
    "STALE_POLLS",
    "Crossed",
    "Crossing",
    "Decisions",
    "FenceArea",
    "Nearby",
    "Placed",
    "decide",
    "nearest",
    "observe",
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


@dataclass(frozen=True, slots=True)
class FenceArea:
    """A fence's circle: centre (WGS-84) and radius in metres."""

    lat: float
    lon: float
    radius_m: float

    @property
    def margin_m(self) -> float:
        # Capped at r/2: with a 20 m margin a 15 m fence could never be entered.
        return min(max(MIN_MARGIN_M, MARGIN_SHARE * self.radius_m), self.radius_m / 2)

    def distance_m(self, lat: float, lon: float) -> float:
        return haversine_m(self.lat, self.lon, lat, lon)

    def side(self, lat: float, lon: float) -> bool | None:
        """True inside ``r - m``, False beyond ``r + m``, None in the band between."""
        d = self.distance_m(lat, lon)
        if d < self.radius_m - self.margin_m:
            return True
        if d > self.radius_m + self.margin_m:
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


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _fresh(state: Crossing | None, at: datetime | None, now: datetime, stale: timedelta) -> bool:
    if at is None or now - _aware(at) > stale:
        return False
    last = state.last_fix_at if state is not None else None
    return last is None or _aware(at) > _aware(last)


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
    at = _aware(fix.time) if fix.time is not None else None
    side = area.side(fix.lat, fix.lon)
    if state is None:
        # First sight: take the nearer side, even from the band, and report nothing.
        inside = side if side is not None else area.distance_m(fix.lat, fix.lon) <= area.radius_m
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
        age = None if fix.time is None else max(timedelta(0), now - _aware(fix.time))
        unknown_last = age if age is not None else timedelta.max
        found.append((round(d), unknown_last, i, Nearby(fix, d, age)))
    ordered = heapq.nsmallest(limit, found) if limit is not None else sorted(found)
    return [n for *_, n in ordered]
