"""Distances, compass words, ages and track summaries (bot/geo/measure.py)."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.geo.measure import (
    EARTH_RADIUS_M,
    age_text,
    compass,
    haversine_m,
    is_stale,
    split_segments,
    summarize,
    timed_sorted,
)
from bot.platform.models import Fix, TrackPoint

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=SHANGHAI)
# 0.001° along a meridian on the sphere, in metres.
STEP_M = EARTH_RADIUS_M * math.radians(0.001)


def pt(
    lat: float,
    lon: float,
    time: datetime | None,
    speed: float | None = None,
    position_type: int | None = 0,
) -> TrackPoint:
    return TrackPoint.model_construct(
        lat=lat,
        lon=lon,
        speed=speed,
        altitude=None,
        bearing=None,
        time=time,
        uid=7,
        position_type=position_type,
    )


# -- haversine -----------------------------------------------------------------------


def test_one_degree_of_latitude() -> None:
    assert haversine_m(0, 0, 1, 0) / 1000 == pytest.approx(111.195, abs=0.001)
    assert haversine_m(45, 10, 46, 10) / 1000 == pytest.approx(111.195, abs=0.001)


def test_one_degree_of_longitude_shrinks_with_latitude() -> None:
    assert haversine_m(60, 0, 60, 1) == pytest.approx(haversine_m(0, 0, 1, 0) * 0.5, rel=1e-3)


def test_beijing_to_shanghai() -> None:
    km = haversine_m(39.9042, 116.4074, 31.2304, 121.4737) / 1000
    assert km == pytest.approx(1067, rel=0.01)


def test_haversine_zero_symmetric_antipodal() -> None:
    assert haversine_m(31.2, 121.5, 31.2, 121.5) == 0
    assert haversine_m(10, 20, -5, 170) == pytest.approx(haversine_m(-5, 170, 10, 20))
    assert haversine_m(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_M)
    # Across the antimeridian is short, not around the world.
    assert haversine_m(0, 179.9, 0, -179.9) == pytest.approx(0.2 * 111_195, rel=1e-3)


# -- compass -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bearing", "en", "zh"),
    [
        (0, "N", "北"),
        (44, "NE", "东北"),
        (90, "E", "东"),
        (135, "SE", "东南"),
        (181, "S", "南"),
        (225, "SW", "西南"),
        (270, "W", "西"),
        (300, "NW", "西北"),
        (359, "N", "北"),
        (-90, "W", "西"),
        (720 + 90, "E", "东"),
    ],
)
def test_compass_eight_points(bearing: float, en: str, zh: str) -> None:
    assert compass(bearing, "en") == en
    assert compass(bearing, "zh") == zh


@pytest.mark.parametrize(
    ("bearing", "en", "zh"),
    [(22, "NNE", "北东北"), (68, "ENE", "东东北"), (202, "SSW", "南西南"), (338, "NNW", "北西北")],
)
def test_compass_sixteen_points(bearing: float, en: str, zh: str) -> None:
    assert compass(bearing, "en", points=16) == en
    assert compass(bearing, "zh", points=16) == zh
    assert compass(90, "en", points=16) == "E"


def test_compass_unknown() -> None:
    assert compass(None, "en") is None
    assert compass(math.nan, "zh") is None
    assert compass(90, "fr") == "E"  # unknown language: English words
    with pytest.raises(ValueError):
        compass(10, "en", points=4)


# -- age -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "en", "zh"),
    [
        (timedelta(seconds=-30), "just now", "刚刚"),
        (timedelta(seconds=59), "just now", "刚刚"),
        (timedelta(minutes=4, seconds=50), "4 min ago", "4 分钟前"),
        (timedelta(minutes=59), "59 min ago", "59 分钟前"),
        (timedelta(hours=2), "2 h ago", "2 小时前"),
        (timedelta(hours=2, minutes=5), "2 h 5 min ago", "2 小时 5 分钟前"),
        (timedelta(hours=23, minutes=59), "23 h 59 min ago", "23 小时 59 分钟前"),
        (timedelta(days=1, hours=3), "1 day ago", "1 天前"),
        (timedelta(days=3, hours=1), "3 days ago", "3 天前"),
    ],
)
def test_age_text(delta: timedelta, en: str, zh: str) -> None:
    assert age_text(delta, "en") == en
    assert age_text(delta, "zh") == zh


def test_is_stale() -> None:
    now = T0
    assert not is_stale(now - timedelta(minutes=59), now)
    assert is_stale(now - timedelta(minutes=61), now)
    assert is_stale(None, now)


# -- segments ------------------------------------------------------------------------


def test_split_at_gaps_over_ten_minutes() -> None:
    times = [T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=20, seconds=1)]
    times += [times[-1] + timedelta(minutes=1)]
    points = [pt(30, 120, t) for t in times]
    segments = split_segments(points)
    assert [len(s) for s in segments] == [2, 2]  # exactly 10 min is no gap
    assert [len(s) for s in split_segments(points, gap=timedelta(minutes=2))] == [1, 1, 2]


def test_split_sorts_and_leaves_out_untimed() -> None:
    a, b, c = (pt(30, 120, T0 + timedelta(minutes=m)) for m in (0, 1, 30))
    untimed = pt(31, 121, None)
    assert split_segments([c, untimed, b, a]) == [[a, b], [c]]
    assert split_segments([]) == []


def test_split_mixed_zones_compare_as_instants() -> None:
    a = pt(30, 120, datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    b = pt(30, 120, datetime(2026, 11, 28, 8, 5, tzinfo=SHANGHAI))  # 00:05 UTC
    assert split_segments([b, a]) == [[a, b]]


# -- summary -------------------------------------------------------------------------


def _constructed_track() -> list[TrackPoint]:
    """Moving north at 10 km/h for 10 min (GPS), stopped 5 min (cell), a 30 min gap with
    a 1° jump east, then 5 min moving with no reported speed (GPS), plus one untimed point."""
    points = []
    for i in range(11):  # t 0..600 s, 10 steps
        speed = 0.0 if i == 10 else 10.0
        points.append(pt(30 + 0.001 * i, 120, T0 + timedelta(seconds=60 * i), speed))
    for i in range(1, 6):  # t 660..900 s, standing
        points.append(pt(30.01, 120, T0 + timedelta(seconds=600 + 60 * i), 0.0, position_type=1))
    for i in range(6):  # t 2700..3000 s, 5 steps after the gap
        t = T0 + timedelta(seconds=2700 + 60 * i)
        points.append(pt(30.02 + 0.001 * i, 121, t, None))
    points.append(pt(0, 0, None, 50.0))
    random.Random(4).shuffle(points)
    return points


def test_summary_arithmetic() -> None:
    s = summarize(_constructed_track())
    assert s.points == 22
    assert s.untimed == 1
    assert (s.gps_points, s.cell_points) == (17, 5)
    assert s.gps_share == pytest.approx(17 / 22)
    assert s.segments == 2
    # 15 steps of 0.001° along meridians; the jump across the gap is not counted.
    assert s.distance_km == pytest.approx(15 * STEP_M / 1000, rel=1e-9)
    assert s.moving_time == timedelta(seconds=900)
    assert s.duration == timedelta(seconds=3000)
    assert s.max_speed_kmh == 10.0
    assert s.avg_speed_kmh == pytest.approx(15 * STEP_M / 1000 / 0.25)
    assert s.first is not None and s.last is not None
    assert (s.first.time, s.first.lat, s.first.lon) == (T0, 30, 120)
    assert s.last.time == T0 + timedelta(seconds=3000)
    assert (s.last.lat, s.last.lon) == pytest.approx((30.025, 121))


def test_summary_derived_max_ignores_cell_spikes() -> None:
    points = [
        pt(30, 120, T0),
        pt(30.001, 120, T0 + timedelta(seconds=60)),  # 6.67 km/h
        pt(30.1, 120, T0 + timedelta(seconds=120)),  # ~650 km/h: a cell jump
        pt(30.1005, 120, T0 + timedelta(seconds=150)),
    ]
    s = summarize(points)
    assert s.max_speed_kmh == pytest.approx(STEP_M / 60 * 3.6)
    assert s.moving_time == timedelta(seconds=150)


def test_summary_of_nothing_and_of_one_point() -> None:
    empty = summarize([])
    assert (empty.points, empty.segments, empty.distance_km, empty.gps_share) == (0, 0, 0, 0)
    assert empty.first is None and empty.avg_speed_kmh is None and empty.max_speed_kmh is None
    one = summarize([pt(30, 120, T0, None, position_type=1)])
    assert (one.points, one.cell_points, one.segments, one.duration) == (1, 1, 1, timedelta(0))
    assert one.first == one.last
    assert one.max_speed_kmh is None and one.avg_speed_kmh is None


def test_summary_accepts_platform_models() -> None:
    tz = SHANGHAI
    raw = [
        {"x": 30.0, "y": 120.0, "time": "2026-11-28 08:00:00", "positionType": 1},
        # 08:01 local as epoch milliseconds
        {"x": 30.001, "y": 120.0, "time": int(T0.timestamp() + 60) * 1000, "positionType": 0},
    ]
    points = [TrackPoint.model_validate(r, context={"tz": tz}) for r in raw]
    s = summarize(points)
    assert s.duration == timedelta(minutes=1)
    assert s.distance_km == pytest.approx(STEP_M / 1000)
    assert (s.gps_points, s.cell_points) == (1, 1)
    raw_fix = {"id": 1, "x": 30, "y": 120, "time": int(T0.timestamp())}
    fix = Fix.model_validate(raw_fix, context={"tz": tz})
    assert summarize([fix]).points == 1


# -- properties ----------------------------------------------------------------------

_zones = st.sampled_from([UTC, SHANGHAI])
_times = st.one_of(
    st.none(),
    st.builds(
        lambda offset, zone: (T0 + timedelta(seconds=offset)).astimezone(zone),
        st.integers(min_value=-86_400, max_value=86_400),
        _zones,
    ),
)
_points = st.builds(
    pt,
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    time=_times,
    speed=st.one_of(st.none(), st.floats(-10, 1e4)),
    position_type=st.sampled_from([None, 0, 1]),
)


@given(st.lists(_points, max_size=40))
def test_summarize_never_crashes(points: list[TrackPoint]) -> None:
    s = summarize(points)
    assert s.distance_km >= 0
    assert s.points + s.untimed == len(points)
    assert s.gps_points + s.cell_points == s.points
    assert 0 <= s.gps_share <= 1
    assert timedelta(0) <= s.moving_time <= s.duration
    assert s.segments == len(split_segments(points))
    if s.avg_speed_kmh is not None:
        assert s.avg_speed_kmh >= 0


@given(st.lists(_points, max_size=40), st.integers(min_value=0, max_value=3600))
def test_segments_partition_the_timed_points(points: list[TrackPoint], gap_s: int) -> None:
    gap = timedelta(seconds=gap_s)
    segments = split_segments(points, gap)
    assert [p for seg in segments for p in seg] == timed_sorted(points)
    assert all(segments)
    for seg in segments:
        for a, b in itertools.pairwise(seg):
            assert timedelta(0) <= b.time - a.time <= gap  # type: ignore[operator]
    for prev, nxt in itertools.pairwise(segments):
        assert nxt[0].time - prev[-1].time > gap  # type: ignore[operator]
