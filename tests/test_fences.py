"""bot.geo.fences: crossings with hysteresis, GCJ-02 at the boundary, who is nearest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.geo.fences import (
    Crossed,
    Crossing,
    FenceArea,
    decide,
    nearest,
    observe,
    stale_limit,
)
from bot.geo.measure import LatLon, destination, haversine_m, telegram_heading
from bot.platform.coords import gcj02_to_wgs84, wgs84_to_gcj02

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
POLL = timedelta(seconds=10)
STALE = stale_limit(POLL)
HANGZHOU = LatLon(30.2741, 120.1551)


@dataclass(frozen=True)
class F:
    """A fix as the job sees it (the platform's `Fix` has the same three fields)."""

    lat: float
    lon: float
    time: datetime | None


def at(area: FenceArea, distance_m: float, bearing: float, time: datetime | None) -> F:
    p = destination(area.lat, area.lon, bearing, distance_m)
    return F(p.lat, p.lon, time)


def run(
    area: FenceArea, fixes: list[F], state: Crossing | None = None, *, stale: timedelta = STALE
) -> tuple[Crossing | None, list[Crossed]]:
    """Feed fixes one per poll, each polled at its own time (or the last poll's)."""
    events: list[Crossed] = []
    now = T0
    for fix in fixes:
        if fix.time is not None and fix.time > now:
            now = fix.time
        state, event = observe(area, state, fix, now, stale_after=stale)
        if event is not None:
            events.append(event)
    return state, events


radii = st.floats(min_value=10, max_value=50_000)
bearings = st.floats(min_value=0, max_value=360, exclude_max=True)


# -- the margin ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("radius", "margin"),
    [(10, 5), (30, 15), (40, 20), (100, 20), (200, 20), (300, 30), (1500, 150), (50_000, 5000)],
)
def test_margin_is_twenty_metres_or_a_tenth_capped_at_half_the_radius(
    radius: float, margin: float
) -> None:
    assert FenceArea(0, 0, radius).margin_m == pytest.approx(margin)


def test_side_by_distance() -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)  # margin 30 m
    assert area.side(*_ll(at(area, 269, 45, None))) is True
    assert area.side(*_ll(at(area, 271, 45, None))) is None
    assert area.side(*_ll(at(area, 329, 45, None))) is None
    assert area.side(*_ll(at(area, 331, 45, None))) is False


def _ll(f: F) -> tuple[float, float]:
    return f.lat, f.lon


# -- the first fix ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distance", "inside"), [(0, True), (250, True), (290, True), (310, False), (1000, False)]
)
def test_the_first_fresh_fix_sets_the_state_and_reports_nothing(
    distance: float, inside: bool
) -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    state, event = observe(area, None, at(area, distance, 90, T0), T0, stale_after=STALE)
    assert event is None
    assert state == Crossing(inside, 0, T0)


# -- the rules, case by case -------------------------------------------------------------


def test_two_consecutive_fresh_fixes_outside_decide_a_leave() -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    t = [T0 + i * POLL for i in range(4)]
    state, events = run(area, [at(area, 100, 0, t[0]), at(area, 400, 0, t[1])])
    assert events == [] and state == Crossing(True, 1, t[1])
    state, events = run(area, [at(area, 400, 10, t[2])], state)
    assert events == [Crossed.LEAVE] and state == Crossing(False, 0, t[2])
    state, events = run(area, [at(area, 5000, 10, t[3])], state)
    assert events == [] and state == Crossing(False, 0, t[3])


def test_a_fix_in_the_band_breaks_the_run() -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    t = [T0 + i * POLL for i in range(6)]
    fixes = [
        at(area, 1000, 0, t[0]),
        at(area, 100, 0, t[1]),  # in: 1
        at(area, 300, 0, t[2]),  # band: back to 0
        at(area, 100, 0, t[3]),  # in: 1
        at(area, 1000, 0, t[4]),  # out: the side told, back to 0
        at(area, 100, 0, t[5]),  # in: 1
    ]
    state, events = run(area, fixes)
    assert events == []
    assert state == Crossing(False, 1, t[5])


def test_a_repeated_fix_counts_once() -> None:
    """The platform answers the same last fix poll after poll: it is one fix, not two."""
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    outside = at(area, 1000, 0, T0)
    inside = at(area, 100, 0, T0 + POLL)
    state, events = run(area, [outside, inside, inside, inside])
    assert events == []
    assert state == Crossing(False, 1, T0 + POLL)


def test_a_fix_older_than_the_last_one_considered_is_ignored() -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    state = Crossing(False, 1, T0 + 2 * POLL)
    got, event = observe(area, state, at(area, 0, 0, T0 + POLL), T0 + 3 * POLL, stale_after=STALE)
    assert (got, event) == (state, None)


def test_a_fix_just_within_the_staleness_limit_decides() -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    state = Crossing(False, 1, T0)
    fix = at(area, 0, 0, T0 + POLL)
    got, event = observe(area, state, fix, T0 + POLL + STALE, stale_after=STALE)
    assert event is Crossed.ENTER and got == Crossing(True, 0, T0 + POLL)
    got, event = observe(
        area, state, fix, T0 + POLL + STALE + timedelta(seconds=1), stale_after=STALE
    )
    assert (got, event) == (state, None)


def test_naive_fix_times_are_taken_as_utc() -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    naive = at(area, 0, 0, (T0 + POLL).replace(tzinfo=None))
    got, event = observe(area, Crossing(False, 1, T0), naive, T0 + POLL, stale_after=STALE)
    assert event is Crossed.ENTER and got is not None and got.last_fix_at == T0 + POLL


# -- properties ---------------------------------------------------------------------


crossings = st.builds(
    Crossing,
    inside=st.booleans(),
    pending=st.integers(min_value=0, max_value=1),
    last_fix_at=st.none() | st.just(T0 - POLL),
)


@settings(max_examples=examples(300))
@given(
    radii,
    st.none() | crossings,
    st.lists(
        st.tuples(st.floats(min_value=-0.99, max_value=0.99), bearings), min_size=1, max_size=40
    ),
)
def test_jitter_within_the_margin_never_reports(
    radius: float, start: Crossing | None, jitter: list[tuple[float, float]]
) -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, radius)
    m = area.margin_m
    fixes = [
        at(area, max(0.0, radius + k * m), b, T0 + i * POLL) for i, (k, b) in enumerate(jitter)
    ]
    state, events = run(area, fixes, start)
    assert events == []
    assert state is not None and state.last_fix_at == fixes[-1].time
    if start is not None:
        assert state.inside == start.inside and state.pending == 0


@st.composite
def walks(draw: st.DrawFn) -> tuple[FenceArea, list[F]]:
    """Out, in, out again: runs of at least two fixes clearly on one side, fixes in the
    band between runs, and stale or repeated fixes anywhere."""
    radius = draw(st.floats(min_value=10, max_value=50_000))
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, radius)
    m = area.margin_m
    inner = st.floats(min_value=0, max_value=radius - m - 0.01)
    outer = st.floats(min_value=radius + m + 0.01, max_value=radius + m + 20_000)
    band = st.floats(min_value=radius - m + 0.01, max_value=radius + m - 0.01)
    plan: list[tuple[float, str]] = []
    for side in (outer, inner, outer):
        plan += [(d, "fresh") for d in draw(st.lists(side, min_size=2, max_size=5))]
        plan += [(d, "fresh") for d in draw(st.lists(band, max_size=3))]
    fixes: list[F] = []
    t = T0
    for d, _ in plan:
        for noise in draw(st.lists(st.sampled_from(["stale", "repeat", "untimed"]), max_size=2)):
            if noise == "stale":
                fixes.append(at(area, draw(inner | outer), draw(bearings), t - STALE - POLL))
            elif noise == "repeat" and fixes:
                fixes.append(fixes[-1] if fixes[-1].time == t else at(area, d, 0, t))
            elif noise == "untimed":
                fixes.append(at(area, draw(inner | outer), draw(bearings), None))
        t += POLL
        fixes.append(at(area, d, draw(bearings), t))
    return area, fixes


@settings(max_examples=examples(300))
@given(walks())
def test_a_walk_in_and_out_reports_one_enter_and_one_leave(walk: tuple[FenceArea, list[F]]) -> None:
    area, fixes = walk
    state, events = run(area, fixes)
    assert events == [Crossed.ENTER, Crossed.LEAVE]
    assert state is not None and state.inside is False


@settings(max_examples=examples(300))
@given(
    radii,
    crossings,
    st.floats(min_value=0, max_value=100_000),
    bearings,
    st.sampled_from([STALE + timedelta(seconds=1), timedelta(hours=5), None]),
)
def test_a_stale_or_untimed_fix_decides_nothing(
    radius: float, start: Crossing, distance: float, bearing: float, age: timedelta | None
) -> None:
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, radius)
    now = T0 + timedelta(hours=6)
    fix = at(area, distance, bearing, None if age is None else now - age)
    assert observe(area, start, fix, now, stale_after=STALE) == (start, None)
    assert observe(area, None, fix, now, stale_after=STALE) == (None, None)


# -- GCJ-02 --------------------------------------------------------------------------


@settings(max_examples=examples(200))
@given(
    st.floats(min_value=50, max_value=5000),
    bearings,
    st.sampled_from([-1.0, 1.0]),
)
def test_a_gcj02_fix_converted_near_the_boundary_decides_like_its_wgs84_twin(
    radius: float, bearing: float, side: float
) -> None:
    """A fence drawn in WGS-84 (a Telegram location); the platform reports the same places in
    GCJ-02; the caller converts before observing. Two fixes 1 m past the margin, each side."""
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, radius)
    d = radius + side * (area.margin_m + 1)
    twins = [at(area, d, bearing + k, T0 + (k + 1) * POLL) for k in range(2)]
    converted = [F(*gcj02_to_wgs84(*wgs84_to_gcj02(f.lat, f.lon)), f.time) for f in twins]
    start = Crossing(side > 0, 0, T0)
    assert run(area, converted, start) == run(area, twins, start)
    assert run(area, twins, start)[1] == [Crossed.LEAVE if side > 0 else Crossed.ENTER]


def test_an_unconverted_gcj02_fix_would_be_hundreds_of_metres_off() -> None:
    """Why the conversion comes first: in Hangzhou GCJ-02 is ~520 m from WGS-84."""
    area = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    raw = wgs84_to_gcj02(HANGZHOU.lat, HANGZHOU.lon)
    assert area.side(*raw) is False
    assert area.side(*gcj02_to_wgs84(*raw)) is True


# -- nearest -------------------------------------------------------------------------


@dataclass(frozen=True)
class UF:
    uid: int
    lat: float
    lon: float
    time: datetime | None


def test_nearest_sorts_by_distance_within_the_radius_with_ages() -> None:
    now = T0 + timedelta(minutes=10)
    c = HANGZHOU
    fixes = [
        UF(1, *_ll2(destination(c.lat, c.lon, 0, 800)), now - timedelta(minutes=3)),
        UF(2, *_ll2(destination(c.lat, c.lon, 90, 120)), now - timedelta(seconds=20)),
        UF(3, *_ll2(destination(c.lat, c.lon, 180, 2500)), now),
        UF(4, *_ll2(destination(c.lat, c.lon, 270, 400)), None),
        UF(5, *_ll2(destination(c.lat, c.lon, 45, 120)), now - timedelta(seconds=5)),
        UF(6, *_ll2(destination(c.lat, c.lon, 10, 300)), now + timedelta(seconds=30)),
    ]
    got = nearest(c, fixes, 1000, now)
    assert [n.fix.uid for n in got] == [5, 2, 6, 4, 1]
    assert [round(n.distance_m) for n in got] == [120, 120, 300, 400, 800]
    assert [n.age for n in got] == [
        timedelta(seconds=5),
        timedelta(seconds=20),
        timedelta(0),  # stamped in the future
        None,
        timedelta(minutes=3),
    ]
    assert [n.fix.uid for n in nearest(c, fixes, None, now, limit=3)] == [5, 2, 6]
    assert [n.fix.uid for n in nearest(c, fixes, None, now)][-1] == 3
    assert nearest(c, fixes, 50, now) == []


@settings(max_examples=examples(200))
@given(
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=20_000), bearings), min_size=0, max_size=30
    ),
    st.floats(min_value=10, max_value=50_000),
)
def test_nearest_is_every_fix_in_range_in_distance_order(
    spots: list[tuple[float, float]], radius: float
) -> None:
    c = HANGZHOU
    fixes = [UF(i, *_ll2(destination(c.lat, c.lon, b, d)), T0) for i, (d, b) in enumerate(spots)]
    got = nearest(c, fixes, radius, T0)
    distances = [round(n.distance_m) for n in got]
    assert distances == sorted(distances)  # to the metre: ties go to the fresher fix
    assert all(n.distance_m <= radius for n in got)
    want = {f.uid for f in fixes if haversine_m(c.lat, c.lon, f.lat, f.lon) <= radius}
    assert {n.fix.uid for n in got} == want


def _ll2(p: LatLon) -> tuple[float, float]:
    return p.lat, p.lon


# -- measure: destination and heading --------------------------------------------------


@settings(max_examples=examples(200))
@given(
    st.floats(min_value=-80, max_value=80),
    st.floats(min_value=-180, max_value=180),
    bearings,
    st.floats(min_value=0, max_value=100_000),
)
def test_destination_is_at_that_distance(lat: float, lon: float, bearing: float, d: float) -> None:
    p = destination(lat, lon, bearing, d)
    assert -90 <= p.lat <= 90 and -180 <= p.lon < 180
    assert haversine_m(lat, lon, p.lat, p.lon) == pytest.approx(d, abs=1e-3)


@pytest.mark.parametrize(
    ("bearing", "heading"),
    [(None, None), (float("nan"), None), (0, 360), (0.4, 360), (359.6, 360), (1, 1), (90.2, 90),
     (360, 360), (-90, 270), (725, 5)],
)  # fmt: skip
def test_telegram_heading_is_whole_degrees_one_to_360(
    bearing: float | None, heading: int | None
) -> None:
    assert telegram_heading(bearing) == heading


# -- one poll for every fence ---------------------------------------------------------


def test_decide_runs_every_watched_pair_once_and_returns_only_what_changed() -> None:
    depot = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    bridge = FenceArea(*_ll2(destination(HANGZHOU.lat, HANGZHOU.lon, 90, 5000)), 1000)
    t1 = T0 + POLL
    fixes = {
        7: at(depot, 100, 0, t1),  # inside the depot, far from the bridge
        8: at(depot, 100, 0, T0),  # the fix already considered: nothing changes
        9: at(depot, 100, 0, t1),  # watched on no fence
    }
    states = {
        (1, 7): Crossing(False, 1, T0),  # second fix inside: enter
        (1, 8): Crossing(False, 1, T0),
        (2, 7): Crossing(False, 0, T0),  # stays outside: only the time moves
    }
    got = decide(
        {1: depot, 2: bridge},
        {1: {7, 8, 10}, 2: {7}, 3: {7}},  # 10 has no fix; fence 3 is gone
        states,
        fixes,
        t1,
        stale_after=STALE,
    )
    assert got.crossings == [(1, 7, Crossed.ENTER, fixes[7])]
    assert got.states == {(1, 7): Crossing(True, 0, t1), (2, 7): Crossing(False, 0, t1)}


@settings(max_examples=examples(100))
@given(
    st.lists(st.tuples(st.floats(min_value=0, max_value=3000), bearings), min_size=1, max_size=8),
    st.lists(st.floats(min_value=50, max_value=2000), min_size=1, max_size=4),
)
def test_decide_is_observe_for_each_pair(
    spots: list[tuple[float, float]], radii_m: list[float]
) -> None:
    areas = {i: FenceArea(HANGZHOU.lat, HANGZHOU.lon, r) for i, r in enumerate(radii_m)}
    users = range(len(spots))
    states: dict[tuple[int, int], Crossing] = {}
    for step in range(3):
        t = T0 + step * POLL
        fixes = {
            u: at(areas[0], d + 40 * step, b, t) for u, (d, b) in zip(users, spots, strict=True)
        }
        got = decide(areas, {i: set(users) for i in areas}, states, fixes, t, stale_after=STALE)
        want_events = []
        for i, area in areas.items():
            for u in users:
                after, event = observe(area, states.get((i, u)), fixes[u], t, stale_after=STALE)
                assert after is not None and got.states.get((i, u), states.get((i, u))) == after
                if event is not None:
                    want_events.append((i, u, event, fixes[u]))
        assert got.crossings == want_events
        states.update(got.states)
