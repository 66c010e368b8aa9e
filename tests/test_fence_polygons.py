"""Polygon geofences (issue 16): containment and hysteresis near an edge, what makes a bad
polygon, the bounding circle, storage, and the 0009 migration over circles already stored."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import examples
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_fences import HANGZHOU, POLL, STALE, T0, F

from bot.geo.fences import (
    MAX_POLYGON_POINTS,
    Crossed,
    Crossing,
    FenceArea,
    PolygonFault,
    observe,
    polygon_area_m2,
    polygon_bounds,
    polygon_fault,
    polygon_problem,
    polygon_span_m,
)
from bot.geo.measure import EARTH_RADIUS_M, LatLon, destination, haversine_m
from storage import Database
from storage.db import load_migrations
from storage.fences import FenceRepo


def local(east_m: float, north_m: float, origin: LatLon = HANGZHOU) -> tuple[float, float]:
    """A point so many metres east and north of `origin` (fine within a few km)."""
    k = EARTH_RADIUS_M * math.pi / 180
    return origin.lat + north_m / k, origin.lon + east_m / (k * math.cos(math.radians(origin.lat)))


def polygon(*corners: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    return tuple(local(e, n) for e, n in corners)


def area_of(points: tuple[tuple[float, float], ...]) -> FenceArea:
    lat, lon, radius = polygon_bounds(points)
    return FenceArea(lat, lon, radius, points)


# A 400 m square, and an L: the square with its north-east quarter cut away.
SQUARE = polygon((-200, -200), (200, -200), (200, 200), (-200, 200))
ELL = polygon((-200, -200), (200, -200), (200, 0), (0, 0), (0, 200), (-200, 200))


def test_a_square_s_bounds_margin_and_depth() -> None:
    lat, lon, radius = polygon_bounds(SQUARE)
    assert haversine_m(lat, lon, HANGZHOU.lat, HANGZHOU.lon) < 0.01
    assert radius == pytest.approx(200 * math.sqrt(2), rel=1e-3)
    assert all(haversine_m(lat, lon, a, b) <= radius for a, b in SQUARE)
    area = area_of(SQUARE)
    # 2 * area / perimeter = 200 m: the margin a 200 m circle has.
    assert area.margin_m == pytest.approx(20)
    assert area.depth_m(*local(0, 0)) == pytest.approx(200, rel=1e-3)
    assert area.depth_m(*local(150, 0)) == pytest.approx(50, rel=1e-3)
    assert area.depth_m(*local(250, 0)) == pytest.approx(-50, rel=1e-3)
    assert area.depth_m(*local(230, 240)) == pytest.approx(-50, rel=1e-3)  # off a corner
    assert polygon_area_m2(SQUARE) == pytest.approx(160_000, rel=1e-3)
    assert polygon_span_m(SQUARE) == pytest.approx(400 * math.sqrt(2), rel=1e-3)


@pytest.mark.parametrize(
    ("east", "north", "side", "contains"),
    [
        (-100, -100, True, True),
        (0, 0, None, True),  # the inner corner
        (175, -100, True, True),  # 25 m inside the east edge: beyond the 20 m margin
        (185, -100, None, True),  # 15 m inside: in the band
        (215, -100, None, False),  # 15 m outside: in the band
        (225, -100, False, False),
        (100, 100, False, False),  # the L's notch: within the bounding circle, outside
        (10, 100, None, False),
        (-30, 100, True, True),
        (5000, 0, False, False),  # far beyond the bounding circle
    ],
)
def test_the_l_decides_by_the_distance_to_its_nearest_edge(
    east: float, north: float, side: bool | None, contains: bool
) -> None:
    area = area_of(ELL)
    assert area.margin_m == pytest.approx(20)
    p = local(east, north)
    assert area.side(*p) is side
    assert area.contains(*p) is contains


def run(
    area: FenceArea, points: Sequence[tuple[float, float]]
) -> tuple[Crossing | None, list[str]]:
    state: Crossing | None = None
    events: list[str] = []
    for i, (e, n) in enumerate(points):
        t = T0 + i * POLL
        fix = F(*local(e, n), t)
        state, event = observe(area, state, fix, t, stale_after=STALE)
        if event is not None:
            events.append(event.value)
    return state, events


def test_a_walk_through_the_l_s_notch_enters_and_leaves_once_each() -> None:
    area = area_of(ELL)
    # From the notch (outside), west across the inner edge x = 0, and back east.
    walk = [(100, 100), (60, 100), (-60, 100), (-80, 100), (-60, 100), (60, 100), (80, 100)]
    state, events = run(area, walk)
    assert events == [Crossed.ENTER, Crossed.LEAVE]
    assert state is not None and not state.inside


def test_jitter_across_an_edge_within_the_margin_never_reports() -> None:
    area = area_of(SQUARE)
    # The east edge is at 200 m; the margin is 20 m: every fix in the band, or one fix out.
    walk = [(150, 0), (190, 0), (215, 10), (185, -10), (219, 0), (181, 50), (225, 0), (190, 0)]
    state, events = run(area, walk)
    assert events == []
    assert state is not None and state.inside and state.pending == 0


def test_a_polygon_s_first_fix_in_the_band_takes_the_side_of_the_edge_it_is_on() -> None:
    area = area_of(SQUARE)
    assert run(area, [(195, 0)])[0] == Crossing(True, 0, T0)
    assert run(area, [(205, 0)])[0] == Crossing(False, 0, T0)


def test_a_long_thin_polygon_can_still_be_entered() -> None:
    # 2 km by 30 m: a 20 m margin either side of each long edge would leave no inside.
    strip = polygon((-1000, -15), (1000, -15), (1000, 15), (-1000, 15))
    area = area_of(strip)
    assert area.margin_m < 15
    assert area.side(*local(0, 0)) is True
    _, events = run(area, [(0, 60), (0, 50), (0, 0), (100, 2), (0, 50), (0, 60)])
    assert events == [Crossed.ENTER, Crossed.LEAVE]


def test_a_circle_is_unchanged() -> None:
    circle = FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)
    assert circle.polygon is None and circle.margin_m == 30
    assert circle.depth_m(*local(0, 100)) == pytest.approx(200, rel=1e-3)
    assert circle.contains(*local(0, 299)) and not circle.contains(*local(0, 301))
    assert circle == FenceArea(HANGZHOU.lat, HANGZHOU.lon, 300)


# -- a random convex polygon ------------------------------------------------------------


@st.composite
def convex(draw: st.DrawFn) -> tuple[LatLon, float, list[float]]:
    """Vertices on a circle (centre, radius, bearings in degrees, clockwise), no gap between
    two bearings under 6° or over 160°: a convex polygon with its centre well inside."""
    centre = LatLon(
        draw(st.floats(min_value=-60, max_value=60)), draw(st.floats(min_value=-180, max_value=180))
    )
    radius = draw(st.floats(min_value=50, max_value=20_000))
    n = draw(st.integers(min_value=3, max_value=12))
    gaps = draw(st.lists(st.floats(min_value=1, max_value=10), min_size=n, max_size=n))
    start = draw(st.floats(min_value=0, max_value=360))
    degrees = [g * 360 / sum(gaps) for g in gaps]
    assume(all(6 <= d <= 160 for d in degrees))
    bearings = [(start + sum(degrees[:i])) % 360 for i in range(n)]
    return centre, radius, bearings


def toward(centre: LatLon, bearing: float, distance_m: float) -> tuple[float, float]:
    p = destination(centre.lat, centre.lon, bearing, distance_m)
    return p.lat, p.lon


def vertices(
    centre: LatLon, radius: float, bearings: list[float]
) -> tuple[tuple[float, float], ...]:
    return tuple(toward(centre, b, radius) for b in bearings)


@settings(max_examples=examples(300))
@given(convex(), st.integers(min_value=0, max_value=11), st.floats(min_value=0, max_value=1))
def test_a_point_well_inside_or_outside_a_random_convex_polygon(
    shape: tuple[LatLon, float, list[float]], edge: int, share: float
) -> None:
    centre, radius, bearings = shape
    points = vertices(centre, radius, bearings)
    assert polygon_fault(points) is None
    area = area_of(points)
    m = area.margin_m
    slack = 0.005 * radius + 0.5  # the local plane against the sphere
    # The nearest edge from the centre is at R cos(gap / 2); the centre is that deep.
    gaps = [(bearings[(i + 1) % len(bearings)] - b) % 360 for i, b in enumerate(bearings)]
    apothems = [radius * math.cos(math.radians(g / 2)) for g in gaps]
    deep = min(apothems) - m - slack
    assume(deep > 0)
    inside = toward(centre, share * 360, share * deep)
    assert area.contains(*inside) and area.side(*inside) is True
    outside = toward(centre, share * 360, radius + m + slack + share * 1000)
    assert not area.contains(*outside) and area.side(*outside) is False
    # Along the normal through an edge's midpoint: the distance to the polygon is the offset.
    i = edge % len(bearings)
    normal = (bearings[i] + gaps[i] / 2) % 360
    beyond = toward(centre, normal, apothems[i] + m + slack + share * 500)
    assert area.side(*beyond) is False
    band = (2 * share - 1) * (m - slack)
    assume(abs(band) > slack)  # on the edge itself, either side may be taken
    near = toward(centre, normal, apothems[i] + band)
    assert area.side(*near) is None
    assert area.contains(*near) is (band < 0)


# -- bad polygons -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "fault", "text"),
    [
        (SQUARE[:2], PolygonFault("points", 2), "a polygon has 3 to 50 points, not 2"),
        (
            tuple(local(100 * math.cos(a / 10), 100 * math.sin(a / 10)) for a in range(51)),
            PolygonFault("points", 51),
            "a polygon has 3 to 50 points, not 51",
        ),
        (
            (SQUARE[0], (91.0, 120.0), SQUARE[2]),
            PolygonFault("range", 2),
            "point 2 is not a latitude within ±90 and a longitude within ±180",
        ),
        ((SQUARE[0], (30.0, math.nan), SQUARE[2]), PolygonFault("range", 2), None),
        ((SQUARE[0], (30.0, 180.5), SQUARE[2]), PolygonFault("range", 2), None),
        (
            (*SQUARE, SQUARE[0]),
            PolygonFault("repeated", 5, 1),
            "point 5 repeats point 1",
        ),
        (
            polygon((0, 0), (100, 0), (100.1, 0.3), (0, 100)),
            PolygonFault("repeated", 3, 2),
            None,
        ),
        (
            polygon((-200, -200), (200, 200), (200, -200), (-200, 200)),  # a bow tie
            PolygonFault("crossing", 1, 3),
            "the edge from point 1 crosses the edge from point 3",
        ),
        (
            polygon((0, 0), (100, 0), (50, 0), (50, 80)),  # folds back on itself
            PolygonFault("crossing", 1, 2),
            None,
        ),
        (
            polygon((0, 0), (9, 0), (9, 9), (0, 9)),
            PolygonFault("small"),
            "the area is under 100 m²",
        ),
        (
            polygon((0, 0), (80_000, 0), (80_000, 80_000), (0, 80_000)),
            PolygonFault("large"),
            "a point is over 50 km from the centre",
        ),
    ],
)
def test_a_bad_polygon_is_refused_with_a_reason(
    points: tuple[tuple[float, float], ...], fault: PolygonFault, text: str | None
) -> None:
    assert polygon_fault(points) == fault
    assert polygon_problem(points) == str(fault)
    if text is not None:
        assert str(fault) == text


ANY_NUMBER = st.floats(allow_nan=True, allow_infinity=True)
NEARBY = st.tuples(st.floats(30.27, 30.28), st.floats(120.15, 120.16))


@settings(max_examples=examples(500))
@given(st.lists(st.tuples(ANY_NUMBER, ANY_NUMBER) | NEARBY, max_size=60))
def test_any_corners_get_a_reason_or_make_a_usable_fence(
    points: list[tuple[float, float]],
) -> None:
    """What the map sends is untrusted: never an exception; what passes can be watched."""
    fault = polygon_fault(points)
    if fault is not None:
        assert str(fault)
        return
    lat, lon, radius = polygon_bounds(points)
    assert all(haversine_m(lat, lon, a, b) <= radius + 1e-6 for a, b in points)
    area = FenceArea(lat, lon, radius, tuple(points))
    assert 0 < area.margin_m <= radius / 2
    for p in points:  # every corner lies on the edge
        assert abs(area.depth_m(*p)) < 1e-6 * max(1.0, radius)
    far = destination(lat, lon, 0, 3 * radius + 100)
    assert area.side(far.lat, far.lon) is False


def test_good_polygons_pass_and_fifty_points_are_allowed() -> None:
    ring = tuple(
        local(500 * math.cos(2 * math.pi * k / 50), 500 * math.sin(2 * math.pi * k / 50))
        for k in range(MAX_POLYGON_POINTS)
    )
    assert polygon_problem(ring) is None
    assert polygon_problem(SQUARE) is None and polygon_problem(ELL) is None
    assert polygon_problem(tuple(reversed(ELL))) is None  # either winding
    assert polygon_problem([list(p) for p in SQUARE]) is None  # lists, as JSON gives them


def test_a_polygon_across_the_antimeridian() -> None:
    points = ((10.0, 179.999), (10.0, -179.999), (10.002, -179.999), (10.002, 179.999))
    assert polygon_problem(points) is None
    lat, lon, radius = polygon_bounds(points)
    assert abs(lon) == pytest.approx(180) and lat == pytest.approx(10.001)
    assert radius < 200
    area = area_of(points)
    assert area.contains(10.001, 180.0) and area.contains(10.001, -180.0)
    assert not area.contains(10.001, 179.99)


# -- storage and the migration ----------------------------------------------------------


async def test_a_polygon_is_stored_and_read_back(db: Database) -> None:
    fences = FenceRepo(db)
    lat, lon, radius = polygon_bounds(ELL)
    ell = await fences.add(
        "Yard", lat, lon, radius, org_id=266, created_by=1, now=T0, polygon=[list(p) for p in ELL]
    )
    circle = await fences.add("Gate", 30.27, 120.15, 300, org_id=266, created_by=1, now=T0)
    assert ell is not None and circle is not None
    assert ell.polygon == ELL and circle.polygon is None
    assert await fences.get(ell.id) == ell
    assert await fences.visible([266]) == [circle, ell]
    with pytest.raises(sqlite3.IntegrityError):  # two points are no polygon
        await db.execute("UPDATE fences SET polygon = '[[1,2],[3,4]]' WHERE id = ?", (ell.id,))
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute("UPDATE fences SET polygon = 'nope' WHERE id = ?", (ell.id,))


async def test_the_migration_keeps_every_circle(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    before_0009 = [m for m in load_migrations() if m.number <= 8]
    old = await Database.open(path, migrations=before_0009)
    assert await old.schema_version() == 8
    circles = [
        ("Depot", "depot", 30.27, 120.15, 300.0, 266, 1),
        ("Bridge", "bridge", 30.3, 120.2, 1500.0, None, 2),
    ]
    await old.executemany(
        "INSERT INTO fences (name, name_key, lat, lon, radius_m, org_id, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, '2026-12-01T08:00:00.000000+00:00')",
        circles,
    )
    await old.execute(
        "INSERT INTO fence_watches (fence_id, chat_id, target_kind, target_id, events,"
        " created_at) VALUES (1, -100, 'user', 7, 'both', '2026-12-01T08:00:00.000000+00:00')"
    )
    await old.execute("INSERT INTO fence_state (fence_id, user_id, inside) VALUES (1, 7, 1)")
    await old.close()

    db = await Database.open(path)
    try:
        assert await db.schema_version() >= 9
        fences = FenceRepo(db)
        stored = await fences.visible(None)
        assert [(f.name, f.lat, f.lon, f.radius_m, f.org_id, f.polygon) for f in stored] == [
            ("Bridge", 30.3, 120.2, 1500.0, None, None),
            ("Depot", 30.27, 120.15, 300.0, 266, None),
        ]
        assert [w.fence_name for w in await fences.watches_for_chat(-100)] == ["Depot"]
        assert (await fences.states())[(1, 7)].inside
    finally:
        await db.close()
    check = await asyncio.to_thread(_integrity, path)
    assert check == "ok"


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
