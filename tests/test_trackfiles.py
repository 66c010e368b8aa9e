"""GPX and PNG of a track (bot/geo/trackfiles.py), checked by parsing them back."""

from __future__ import annotations

import logging
import math
import re
import struct
import warnings
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import gpxpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.geo.measure import split_segments
from bot.geo.trackfiles import (
    _XML_ILLEGAL,
    GPX_NS,
    GPXTPX_NS,
    PICTURE_MAX_POINTS,
    _fonts,
    file_stem,
    thin_segments,
    track_figure,
    track_gpx,
    track_png,
)
from bot.platform.models import TrackPoint

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=SHANGHAI)  # 00:00 UTC
TPX = f"{{{GPXTPX_NS}}}"


def platform_points(raw: list[dict[str, Any]]) -> list[TrackPoint]:
    """Points as the client builds them from 2.5, wall times in the platform's zone."""
    return [TrackPoint.model_validate(r, context={"tz": SHANGHAI}) for r in raw]


def walk(n: int, start: datetime = T0, step_s: int = 30, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "x": 31.2 + 0.0002 * i,
            "y": 121.47 + 0.0001 * math.sin(i / 5),
            "time": (start + timedelta(seconds=step_s * i)).strftime("%Y-%m-%d %H:%M:%S"),
            "positionType": i % 2,
            **extra,
        }
        for i in range(n)
    ]


def pt(lat: float, lon: float, time: datetime | None, speed: float | None = None) -> TrackPoint:
    return TrackPoint.model_construct(
        lat=lat, lon=lon, speed=speed, altitude=None, bearing=None, time=time, uid=1,
        position_type=0,
    )  # fmt: skip


# -- GPX -----------------------------------------------------------------------------


def _track() -> list[TrackPoint]:
    first = walk(5, speed=36.0, altitude=12.5, bearing=90)
    # After a 25 min gap: no altitude, no speed or bearing on some points.
    second = walk(4, start=T0 + timedelta(minutes=27))
    second[0].update(altitude=8, speed=7.2, bearing=359.97)
    return platform_points(first + second)


def test_gpx_round_trip() -> None:
    points = _track()
    data = track_gpx(points, name="Zhang San", description="2026-11-28")
    gpx = gpxpy.parse(data.decode("utf-8"))

    assert gpx.version == "1.1"
    assert gpx.creator == "pttbridge"
    assert len(gpx.tracks) == 1
    trk = gpx.tracks[0]
    assert trk.name == "Zhang San" and trk.description == "2026-11-28"
    assert [len(s.points) for s in trk.segments] == [5, 4]

    parsed = [p for s in trk.segments for p in s.points]
    assert len(parsed) == len(points)
    for got, want in zip(parsed, points, strict=True):
        assert got.latitude == pytest.approx(want.lat, abs=1e-7)
        assert got.longitude == pytest.approx(want.lon, abs=1e-7)
        assert got.time == want.time
        assert got.time is not None and got.time.utcoffset() == timedelta(0)
        assert got.elevation == want.altitude
    assert parsed[0].elevation == 12.5
    assert parsed[5].elevation == 8
    assert parsed[6].elevation is None

    # 08:00 in Shanghai is written as 00:00 UTC with a Z.
    text = data.decode("utf-8")
    assert "<time>2026-11-28T00:00:00Z</time>" in text
    assert "+08:00" not in text


def test_gpx_extension_speed_and_course() -> None:
    data = track_gpx(_track(), name="x")
    head = data[: data.index(b">", data.index(b"<gpx")) + 1].decode()
    assert f'xmlns:gpxtpx="{GPXTPX_NS}"' in head
    assert f'xmlns="{GPX_NS}"' in head

    root = ET.fromstring(data)
    trkpts = root.findall(f".//{{{GPX_NS}}}trkpt")
    assert len(trkpts) == 9

    def ext(i: int) -> dict[str, float]:
        found = trkpts[i].find(f"{{{GPX_NS}}}extensions/{TPX}TrackPointExtension")
        if found is None:
            return {}
        return {child.tag.removeprefix(TPX): float(child.text or "") for child in found}

    assert ext(0) == {"speed": 10.0, "course": 90.0}  # 36 km/h is 10 m/s
    assert ext(5) == {"speed": 2.0, "course": 0.0}  # 359.97° rounds into [0, 360)
    assert ext(6) == {}

    # gpxpy sees the same extension elements.
    point = gpxpy.parse(data.decode()).tracks[0].segments[0].points[0]
    (tpe,) = point.extensions
    assert tpe.tag == f"{TPX}TrackPointExtension"
    assert [c.tag for c in tpe] == [f"{TPX}speed", f"{TPX}course"]


def test_gpx_same_whether_platform_sent_seconds_or_milliseconds() -> None:
    base = int(T0.timestamp())
    raw = [{"x": 31.2 + i / 1e4, "y": 121.4, "speed": 5} for i in range(4)]
    seconds = platform_points([{**r, "time": base + 30 * i} for i, r in enumerate(raw)])
    millis = platform_points([{**r, "time": (base + 30 * i) * 1000} for i, r in enumerate(raw)])
    local = platform_points(
        [{**r, "time": f"2026-11-28 08:00:{30 * i:02d}"} for i, r in enumerate(raw[:2])]
    )
    assert track_gpx(seconds, name="u") == track_gpx(millis, name="u")
    assert track_gpx(seconds[:2], name="u") == track_gpx(local, name="u")


def test_gpx_keeps_sub_second_times() -> None:
    ms = int(T0.timestamp()) * 1000 + 123
    data = track_gpx(platform_points([{"x": 1, "y": 2, "time": ms}]), name="u")
    assert b"<time>2026-11-28T00:00:00.123Z</time>" in data
    (p,) = gpxpy.parse(data.decode()).tracks[0].segments[0].points
    assert p.time == T0 + timedelta(milliseconds=123)


def test_gpx_escapes_names_and_leaves_out_untimed_points() -> None:
    points = [*_track(), pt(10, 10, None)]
    name = '张三 <b>&"x"\x07'
    data = track_gpx(points, name=name, description="a < b")
    gpx = gpxpy.parse(data.decode())
    assert gpx.tracks[0].name == '张三 <b>&"x"'
    assert gpx.tracks[0].description == "a < b"
    assert sum(len(s.points) for s in gpx.tracks[0].segments) == 9


def test_gpx_of_no_points_is_valid() -> None:
    gpx = gpxpy.parse(track_gpx([], name="nobody").decode())
    assert len(gpx.tracks) == 1 and gpx.tracks[0].segments == []


def test_gpx_carries_every_point_of_a_long_track() -> None:
    n = 3 * PICTURE_MAX_POINTS
    points = [pt(30 + i * 1e-5, 120, T0 + timedelta(seconds=5 * i), 3.0) for i in range(n)]
    gpx = gpxpy.parse(track_gpx(points, name="long").decode())
    assert [len(s.points) for s in gpx.tracks[0].segments] == [n]


_gpx_points = st.builds(
    TrackPoint.model_construct,
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    speed=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    altitude=st.one_of(st.none(), st.floats(-1e4, 1e5)),
    bearing=st.one_of(st.none(), st.floats(-1e6, 1e6)),
    time=st.one_of(
        st.none(),
        st.datetimes(
            min_value=datetime(1971, 1, 1),
            max_value=datetime(2100, 1, 1),
            timezones=st.sampled_from([UTC, SHANGHAI]),
        ),
    ),
    uid=st.just(1),
    position_type=st.sampled_from([None, 0, 1]),
)


@settings(max_examples=60)
@given(st.lists(_gpx_points, max_size=20), st.text(), st.one_of(st.none(), st.text()))
def test_gpx_always_parses_back(points: list[TrackPoint], name: str, desc: str | None) -> None:
    gpx = gpxpy.parse(track_gpx(points, name=name, description=desc).decode())
    trk = gpx.tracks[0]
    assert [len(s.points) for s in trk.segments] == [len(s) for s in split_segments(points)]
    # XML turns \r into \n; gpxpy trims some surrounding whitespace.
    expected = _XML_ILLEGAL.sub("", name).replace("\r\n", "\n").replace("\r", "\n")
    assert (trk.name or "").strip() == expected.strip()
    for p in (q for s in trk.segments for q in s.points):
        for tpe in p.extensions:
            for child in tpe:
                value = float(child.text or "")
                assert math.isfinite(value) and value >= 0
                if child.tag == f"{TPX}course":
                    assert value < 360


# -- PNG -----------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_is_a_real_png_of_the_right_size() -> None:
    data = track_png(_track(), title="Zhang San", lang="en", tz=SHANGHAI)
    assert png_size(data) == (1000, 800)
    assert data.endswith(b"IEND\xaeB`\x82")


def test_png_with_chinese_title_warns_nothing() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = track_png(_track(), title="张三 的轨迹：巡逻 $x$ \U0001f600", lang="zh")
    assert png_size(data) == (1000, 800)
    assert [str(w.message) for w in caught] == []


def test_title_without_a_cjk_font_is_pinyin() -> None:
    fonts = _fonts()
    if fonts.cjk:
        pytest.skip("a CJK font is installed: Chinese is drawn as it is")
    assert fonts.text("张三，巡逻") == "Zhang San, Xun Luo"
    assert fonts.text("track あ한") == "track ??"


@pytest.mark.parametrize(
    "points",
    [
        pytest.param([pt(31.2, 121.4, T0)], id="one point"),
        pytest.param([], id="no points"),
        pytest.param([pt(31.2, 121.4, None), pt(31.3, 121.4, None)], id="no times"),
        pytest.param(
            [pt(31.2 + i / 1e3, 121.4, T0 + timedelta(minutes=i)) for i in range(20)],
            id="no speeds",
        ),
        pytest.param(
            [pt(31.2, 121.4, T0 + timedelta(minutes=i)) for i in range(5)], id="standing still"
        ),
        pytest.param(
            [pt(31.2, 121.4, T0 + timedelta(minutes=20 * i), 5.0) for i in range(5)],
            id="all gaps",
        ),
        pytest.param(
            [pt(0, 179.999 + i / 1e3, T0 + timedelta(minutes=i), 5.0) for i in range(3)],
            id="across 180",
        ),
    ],
)
def test_png_odd_tracks(points: list[TrackPoint], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert png_size(track_png(points, title="odd", lang="en")) == (1000, 800)
    assert [r.getMessage() for r in caplog.records] == []  # e.g. matplotlib's limit warnings


def test_png_of_a_long_track() -> None:
    n = 3 * PICTURE_MAX_POINTS
    points = [
        pt(30 + i * 1e-5, 120 + math.sin(i / 300) * 1e-3, T0 + timedelta(seconds=5 * i), i % 50)
        for i in range(n)
    ]
    assert png_size(track_png(points, title="long", lang="zh")) == (1000, 800)


# -- helpers -------------------------------------------------------------------------


def test_thinning_keeps_segment_ends() -> None:
    seg_a = [pt(30, 120, T0 + timedelta(seconds=i)) for i in range(1001)]
    seg_b = [pt(30, 120, T0 + timedelta(hours=1, seconds=i)) for i in range(10)]
    seg_c = [pt(30, 120, T0 + timedelta(hours=2))]
    segments = split_segments(seg_b + seg_c + seg_a)
    thinned = thin_segments(segments, limit=100)
    assert len(thinned) == 3
    assert sum(len(s) for s in thinned) <= 100 + 2 * len(segments)
    for full, thin in zip(segments, thinned, strict=True):
        assert thin[0] is full[0] and thin[-1] is full[-1]
        assert all(p in full for p in thin)
    assert thin_segments(segments, limit=10_000) == segments


def test_file_stem() -> None:
    start = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert file_stem("张三", start, SHANGHAI) == "track-zhang-san-20261128-0800"
    assert file_stem("O'Brien / Ünal", None) == "track-o-brien-unal"
    assert file_stem("\U0001f600", None) == "track-user"


# -- the picture's words follow the reader's language (#14 point 6) --------------------------


def _texts(fig: Any) -> list[str]:
    """Every text the figure would draw: titles, axis and colour-bar labels, annotations,
    the scale bar's."""
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text) if t.get_text().strip()]


def _cjk_fonts() -> Any:
    """What `_fonts` finds on a machine with a CJK font (Debian's fonts-noto-cjk)."""
    base = _fonts()
    cjk = frozenset(base.charmap | set(range(0x3000, 0xA000)) | set(range(0xFF00, 0xFFF0)))
    return type(base)(["Noto Sans CJK SC", *base.families], cjk, cjk=True)


def test_picture_words_are_chinese_with_a_cjk_font() -> None:
    far = [pt(31.2 + i / 100, 121.4, T0 + timedelta(minutes=i), 30.0) for i in range(10)]
    fig = track_figure(far, title="张三 轨迹", lang="zh", tz=SHANGHAI, fonts=_cjk_fonts())
    texts = _texts(fig)
    assert fig.axes[0].get_title().startswith("张三 轨迹\n2026-11-28 08:00")
    assert fig.axes[0].get_xlabel() == "向东（公里）"
    assert fig.axes[0].get_ylabel() == "向北（公里）"
    assert fig.axes[1].get_ylabel() == "公里/小时"  # the colour bar
    assert {"起点", "终点"} <= set(texts)
    assert any(re.fullmatch(r"\d+ 公里", t) for t in texts), texts
    assert not [t for t in texts if re.search(r"\bkm\b|km/h|\bm\b", t)], texts
    near = track_figure(_track(), title="x", lang="zh", tz=SHANGHAI, fonts=_cjk_fonts())
    assert near.axes[0].get_xlabel() == "向东（米）"
    assert any(re.fullmatch(r"\d+ 米", t) for t in _texts(near)), _texts(near)


def test_picture_words_are_english_for_english_readers() -> None:
    far = [pt(31.2 + i / 100, 121.4, T0 + timedelta(minutes=i), 30.0) for i in range(10)]
    fig = track_figure(far, title="Zhang San", lang="en", tz=SHANGHAI, fonts=_cjk_fonts())
    assert (fig.axes[0].get_xlabel(), fig.axes[1].get_ylabel()) == ("east, km", "km/h")
    assert {"start", "end"} <= set(_texts(fig))


def test_without_a_cjk_font_chinese_readers_get_pinyin_and_no_missing_glyph() -> None:
    no_cjk = type(_fonts())(["DejaVu Sans"], _fonts().charmap - set(range(0x3000, 0xA000)), False)
    far = [pt(31.2 + i / 100, 121.4, T0 + timedelta(minutes=i), 30.0) for i in range(10)]
    fig = track_figure(far, title="张三 巡逻", lang="zh", tz=SHANGHAI, fonts=no_cjk)
    texts = _texts(fig)
    assert fig.axes[0].get_title().startswith("Zhang San Xun Luo\n")
    assert not [t for t in texts if re.search(r"[\u3000-\u9fff]", t)], texts
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph … missing from font(s)" would raise
        fig.canvas.draw()
