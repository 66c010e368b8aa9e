"""bot.parsing.places: radii, coordinates and follow durations typed in commands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.geo.measure import LatLon
from bot.parsing.places import (
    FOLLOW_DEFAULT,
    FOLLOW_MAX,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    PlaceError,
    parse_follow_duration,
    parse_latlon,
    parse_radius,
    take_latlon,
)

# -- radius ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metres"),
    [
        ("300", 300.0),
        ("300m", 300.0),
        ("300 m", 300.0),
        ("300M", 300.0),
        ("300米", 300.0),
        ("３００ｍ", 300.0),
        ("1.5km", 1500.0),
        ("1.5 km", 1500.0),
        ("1.5KM", 1500.0),
        ("1,5km", 1500.0),
        ("1,25 km", 1250.0),
        ("2公里", 2000.0),
        ("2千米", 2000.0),
        ("10", 10.0),
        ("10m", 10.0),
        ("50km", 50_000.0),
        ("50000", 50_000.0),
        ("  80.5m ", 80.5),
    ],
)
def test_radius_reads(text: str, metres: float) -> None:
    assert parse_radius(text) == pytest.approx(metres)


@pytest.mark.parametrize(
    "text",
    ["", "m", "km", "abc", "300 ft", "-300", "1e3", "nan", "inf", "1,500m", "1,5", "1.5.3km",
     "300 m m", "1 000", "٣٠٠"],
)  # fmt: skip
def test_radius_unreadable_says_so(text: str) -> None:
    with pytest.raises(PlaceError) as exc:
        parse_radius(text)
    assert exc.value.msg_id == "err-radius-unparseable"
    assert exc.value.msg_args["text"] == text


@pytest.mark.parametrize("text", ["0", "0m", "9m", "9.99", "50.001km", "500km", "50001"])
def test_radius_out_of_bounds_names_the_bounds(text: str) -> None:
    with pytest.raises(PlaceError) as exc:
        parse_radius(text)
    assert exc.value.msg_id == "err-radius-range"
    assert exc.value.msg_args == {"text": text, "min_m": 10, "max_km": 50}


@settings(max_examples=examples(200))
@given(st.text(max_size=30))
def test_radius_any_text_is_a_radius_in_bounds_or_a_place_error(text: str) -> None:
    try:
        metres = parse_radius(text)
    except PlaceError as exc:
        assert exc.msg_id in ("err-radius-unparseable", "err-radius-range")
    else:
        assert MIN_RADIUS_M <= metres <= MAX_RADIUS_M


@settings(max_examples=examples(200))
@given(st.integers(min_value=10, max_value=50_000))
def test_radius_whole_metres_round_trip(metres: int) -> None:
    assert parse_radius(f"{metres}m") == metres
    assert parse_radius(f"{metres / 1000}km") == pytest.approx(metres)


def test_a_long_text_is_shown_cut() -> None:
    with pytest.raises(PlaceError) as exc:
        parse_radius("x" * 100)
    shown = exc.value.msg_args["text"]
    assert isinstance(shown, str) and len(shown) == 40 and shown.endswith("…")


# -- coordinates -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("30.2741,120.1551", LatLon(30.2741, 120.1551)),
        ("30.2741, 120.1551", LatLon(30.2741, 120.1551)),
        ("30.2741 ,120.1551", LatLon(30.2741, 120.1551)),
        ("30.2741，120.1551", LatLon(30.2741, 120.1551)),
        ("３０.２７４１，１２０.１５５１", LatLon(30.2741, 120.1551)),
        ("-33.8688,151.2093", LatLon(-33.8688, 151.2093)),
        ("+51.5,-0.12", LatLon(51.5, -0.12)),
        ("90,180", LatLon(90, 180)),
        ("-90,-180", LatLon(-90, -180)),
        ("0,0", LatLon(0, 0)),
    ],
)
def test_latlon_reads(text: str, want: LatLon) -> None:
    assert parse_latlon(text) == want


@pytest.mark.parametrize(
    "text", ["", "30.27", "30.27 120.15", "30.27;120.15", "nan,120", "30,inf", "a,b", "30,,120",
             "30.27,120.15,5", "1e1,2"],
)  # fmt: skip
def test_latlon_unreadable_says_so(text: str) -> None:
    with pytest.raises(PlaceError) as exc:
        parse_latlon(text)
    assert exc.value.msg_id == "err-latlon-unparseable"


@pytest.mark.parametrize("text", ["90.0001,0", "-91,0", "0,180.5", "0,-181", "120.15,30.27"])
def test_latlon_out_of_range_says_so(text: str) -> None:
    with pytest.raises(PlaceError) as exc:
        parse_latlon(text)
    assert exc.value.msg_id == "err-latlon-range"
    assert exc.value.msg_args == {"text": text}


@settings(max_examples=examples(200))
@given(
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.sampled_from([",", ", ", " , ", "，"]),
)
def test_latlon_round_trips(lat: float, lon: float, sep: str) -> None:
    got = parse_latlon(f"{lat:.6f}{sep}{lon:.6f}")
    assert got.lat == pytest.approx(lat, abs=1e-6)
    assert got.lon == pytest.approx(lon, abs=1e-6)


@pytest.mark.parametrize(
    ("args", "place", "rest"),
    [
        ("30.27,120.15 500m", LatLon(30.27, 120.15), "500m"),
        ("30.27, 120.15  1.5km", LatLon(30.27, 120.15), "1.5km"),
        ("30.27，120.15", LatLon(30.27, 120.15), ""),
        ("500m", None, "500m"),
        ("1,5km", None, "1,5km"),
        ("张三 300m", None, "张三 300m"),
        ("30.27,120.15km", None, "30.27,120.15km"),
        ("", None, ""),
    ],
)
def test_take_latlon_splits_a_leading_place(args: str, place: LatLon | None, rest: str) -> None:
    assert take_latlon(args) == (place, rest)


def test_take_latlon_refuses_a_pair_out_of_range() -> None:
    with pytest.raises(PlaceError) as exc:
        take_latlon("95,120 300m")
    assert exc.value.msg_id == "err-latlon-range"
    assert exc.value.msg_args["text"] == "95,120"


# -- follow duration ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (None, FOLLOW_DEFAULT),
        ("", timedelta(minutes=30)),
        ("  ", timedelta(minutes=30)),
        ("1m", timedelta(minutes=1)),
        ("45m", timedelta(minutes=45)),
        ("2h", timedelta(hours=2)),
        ("2H", timedelta(hours=2)),
        ("８h", FOLLOW_MAX),
        ("480m", timedelta(hours=8)),
    ],
)
def test_follow_duration_reads(text: str | None, want: timedelta) -> None:
    assert parse_follow_duration(text) == want


@pytest.mark.parametrize("text", ["30", "half an hour", "1h30m", "-30m", "2 h", "m"])
def test_follow_duration_unreadable_says_so(text: str) -> None:
    with pytest.raises(PlaceError) as exc:
        parse_follow_duration(text)
    assert exc.value.msg_id == "err-follow-duration-unparseable"


@pytest.mark.parametrize("text", ["0m", "9h", "481m", "1d"])
def test_follow_duration_over_eight_hours_or_zero_names_the_limit(text: str) -> None:
    with pytest.raises(PlaceError) as exc:
        parse_follow_duration(text)
    assert exc.value.msg_id == "err-follow-duration-range"
    assert exc.value.msg_args == {"text": text, "hours": 8}
