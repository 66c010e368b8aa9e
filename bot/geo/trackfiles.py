"""A track as files for the chat: a GPX 1.1 file and a PNG picture.

Both take WGS-84 points (`bot.platform.models.TrackPoint`) and return bytes, with
no Telegram and no network. The GPX carries every timed point; only the picture
thins a very long track.

The GPX is written directly as text rather than through gpxpy's object model:
for 50,000 points with extensions that is an order of magnitude faster, and the
output is checked against gpxpy in the tests.

The picture is drawn over map tiles when the caller has them (`bot.geo.tiles.Basemap`,
fetched beforehand for `track_view`), in Web Mercator like the tiles; without, on
plain axes in metres. It uses matplotlib's object API (`Figure` + Agg canvas), never pyplot,
so no global figure state is touched. Its words follow the reader's language. The
default font (DejaVu Sans) has no CJK glyphs: a CJK font is used when one is installed
(Debian: `fonts-noto-cjk`; WenQuanYi and Source Han are found too); without one,
Chinese text is drawn as pinyin and any other character the fonts lack is replaced, so
matplotlib never warns about missing glyphs.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Final, Protocol
from xml.sax.saxutils import escape

import numpy as np
from matplotlib import colormaps, font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from pypinyin import lazy_pinyin

from bot.geo.measure import (
    EARTH_RADIUS_M,
    MAX_PLAUSIBLE_KMH,
    SEGMENT_GAP,
    Located,
    split_segments,
    thin_segments,
)
from bot.geo.tiles import HALF_WORLD_M, Basemap, View
from bot.platform.coords import wgs84_to_gcj02

__all__ = [
    "GPXTPX_NS",
    "GPX_NS",
    "MAP_SIZE",
    "PICTURE_MAX_POINTS",
    "file_stem",
    "thin_segments",
    "track_gpx",
    "track_png",
    "track_view",
]

GPX_NS: Final = "http://www.topografix.com/GPX/1/1"
GPXTPX_NS: Final = "http://www.garmin.com/xmlschemas/TrackPointExtension/v2"
PICTURE_MAX_POINTS: Final = 5_000
_PICTURE_SIZE: Final = (10.0, 8.0)  # inches at 100 dpi: 1000 x 800 px
_DPI: Final = 100
_PLAIN_AXES: Final = (0.095, 0.065, 0.79, 0.85)
# Over a map the axes carry no ticks or labels: the map takes their room.
_MAP_AXES: Final = (0.02, 0.025, 0.865, 0.885)
MAP_SIZE: Final = (
    round(_PICTURE_SIZE[0] * _DPI * _MAP_AXES[2]),
    round(_PICTURE_SIZE[1] * _DPI * _MAP_AXES[3]),
)
"""The map's size in the picture, in pixels (width, height): what to ask the tiles for."""
_MERCATOR_R: Final = HALF_WORLD_M / math.pi
_MAX_LAT: Final = 85.05112878  # Web Mercator's edge
_MIN_VIEW_M: Final = 100.0  # the least span shown around a tiny track


class GpxPoint(Located, Protocol):
    """A track point as the GPX needs it: `Located` plus altitude and bearing."""

    @property
    def altitude(self) -> float | None: ...
    @property
    def bearing(self) -> float | None: ...


# -- GPX ---------------------------------------------------------------------------

# XML 1.0 forbids most C0 controls, even as references, and UTF-8 cannot carry lone
# surrogates; platform names (JSON) may hold either.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_GPX_HEAD: Final = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<gpx xmlns="{GPX_NS}" xmlns:gpxtpx="{GPXTPX_NS}"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    f' xsi:schemaLocation="{GPX_NS} http://www.topografix.com/GPX/1/1/gpx.xsd'
    f' {GPXTPX_NS} https://www8.garmin.com/xmlschemas/TrackPointExtensionv2.xsd"'
    ' version="1.1" creator="pttbridge">\n'
)


def _xml_text(s: str) -> str:
    return escape(_XML_ILLEGAL.sub("", s))


def _gpx_time(t: datetime) -> str:
    # isoformat is C code; an aware UTC time ends in "+00:00", swapped for "Z".
    iso = t.astimezone(UTC).isoformat()[:-6] if t.tzinfo is not None else t.isoformat()
    if t.microsecond and t.microsecond % 1000 == 0:
        iso = iso[:-3]  # whole milliseconds, as the platform sends them
    return iso + "Z"


def _trkpt(p: GpxPoint) -> str:
    alt, t, speed, bearing = p.altitude, p.time, p.speed, p.bearing
    ele = f"<ele>{alt:.1f}</ele>" if alt is not None and math.isfinite(alt) else ""
    when = f"<time>{_gpx_time(t)}</time>" if t is not None else ""
    ext = ""
    if speed is not None and math.isfinite(speed) and speed >= 0:
        ext = f"<gpxtpx:speed>{speed / 3.6:.2f}</gpxtpx:speed>"
    if bearing is not None and math.isfinite(bearing):
        course = f"{bearing % 360:.1f}"
        # The schema wants [0, 360): 359.97 would round to 360.0.
        ext += f"<gpxtpx:course>{'0.0' if course == '360.0' else course}</gpxtpx:course>"
    if ext:
        ext = (
            f"<extensions><gpxtpx:TrackPointExtension>{ext}"
            "</gpxtpx:TrackPointExtension></extensions>"
        )
    return f'<trkpt lat="{p.lat:.7f}" lon="{p.lon:.7f}">{ele}{when}{ext}</trkpt>\n'


def track_gpx(points: Sequence[GpxPoint], *, name: str, description: str | None = None) -> bytes:
    """The track as GPX 1.1: one `<trk>`, one `<trkseg>` per stretch without a gap
    over 10 minutes, every timed point with its UTC time, elevation where known,
    speed (m/s) and course in the Garmin TrackPointExtension v2. Points without a
    time are left out (they cannot be placed on the track)."""
    out = [_GPX_HEAD, "<metadata>", f"<name>{_xml_text(name)}</name>"]
    if description:
        out.append(f"<desc>{_xml_text(description)}</desc>")
    out.append("</metadata>\n<trk>")
    out.append(f"<name>{_xml_text(name)}</name>")
    if description:
        out.append(f"<desc>{_xml_text(description)}</desc>")
    out.append("\n")
    for segment in split_segments(points, SEGMENT_GAP):
        out.append("<trkseg>\n")
        out.extend(map(_trkpt, segment))
        out.append("</trkseg>\n")
    out.append("</trk>\n</gpx>\n")
    return "".join(out).encode("utf-8")


def file_stem(name: str, start: datetime | None, tz: tzinfo = UTC) -> str:
    """A safe ASCII file name stem for a track: ``track-zhang-san-20261128-0800``."""
    words = _ascii(name).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", words).strip("-")[:40].strip("-") or "user"
    when = f"-{start.astimezone(tz):%Y%m%d-%H%M}" if start is not None else ""
    return f"track-{slug}{when}"


# -- text for the picture ----------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Family names of CJK fonts commonly installed on Linux, macOS and Windows.
_CJK_FAMILIES: Final = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Hiragino Sans GB",
)


class _Fonts:
    """The font families to draw with and the characters they can draw."""

    def __init__(self, families: list[str], charmap: frozenset[int], cjk: bool) -> None:
        self.families = families
        self.charmap = charmap
        self.cjk = cjk

    def text(self, s: str) -> str:
        """`s` made drawable: pinyin for Chinese without a CJK font, '?' for the rest."""
        s = _XML_ILLEGAL.sub("", s)
        if not self.cjk:
            s = _ascii_han(unicodedata.normalize("NFKC", s))
        return "".join(ch if ord(ch) in self.charmap or ch in "\n\t" else "?" for ch in s)


@lru_cache(maxsize=1)
def _fonts() -> _Fonts:
    base = font_manager.findfont("DejaVu Sans", fallback_to_default=True)
    charmap = set(FT2Font(base).get_charmap())
    installed = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        path = installed.get(family)
        if path is None:
            continue
        try:
            charmap |= set(FT2Font(path).get_charmap())
        except (OSError, RuntimeError):
            continue
        return _Fonts([family, "DejaVu Sans"], frozenset(charmap), cjk=True)
    return _Fonts(["DejaVu Sans"], frozenset(charmap), cjk=False)


def _ascii_han(s: str) -> str:
    """Chinese characters as capitalised pinyin words, the rest unchanged."""

    def words(m: re.Match[str]) -> str:
        return " " + " ".join(w.capitalize() for w in lazy_pinyin(m.group())) + " "

    spaced = re.sub(r"\s+([,.;:!?)\]])", r"\1", _HAN.sub(words, s))
    return re.sub(r"  +", " ", spaced).strip()


def _ascii(s: str) -> str:
    decomposed = unicodedata.normalize("NFKD", _ascii_han(unicodedata.normalize("NFKC", s)))
    return decomposed.encode("ascii", "ignore").decode("ascii")


# The picture's words. Without a CJK font a Chinese reader gets the English ones (the
# title, a name, is drawn as pinyin): "Qi Dian" reads worse than "start".
_LABELS: Final = {
    "en": {
        "start": "start",
        "end": "end",
        "axis": "{dir}, {unit}",
        "east": "east",
        "north": "north",
        "length": "{n:g} {unit}",
        "m": "m",
        "km": "km",
        "speed": "km/h",
    },
    "zh": {
        "start": "起点",
        "end": "终点",
        "axis": "{dir}（{unit}）",
        "east": "向东",
        "north": "向北",
        "length": "{n:g} {unit}",
        "m": "米",
        "km": "公里",
        "speed": "公里/小时",
    },
}


def _time_range(first: datetime | None, last: datetime | None, tz: tzinfo | None) -> str:
    if first is None or last is None:
        return ""
    a = first.astimezone(tz) if tz is not None else first
    b = last.astimezone(tz) if tz is not None else last
    if a.date() == b.date():
        return f"{a:%Y-%m-%d %H:%M} – {b:%H:%M}"
    return f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M}"


# -- picture -----------------------------------------------------------------------


def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^k m) about a fifth of `span_m`."""
    target = max(span_m / 5, 1.0)
    power = 10 ** math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * power <= target:
            return float(m * power)
    return float(power)


def _length_text(metres: float, words: dict[str, str]) -> str:
    if metres >= 1000:
        return words["length"].format(n=metres / 1000, unit=words["km"])
    return words["length"].format(n=metres, unit=words["m"])


def track_png(
    points: Sequence[Located],
    *,
    title: str,
    lang: str,
    tz: tzinfo | None = None,
    basemap: Basemap | None = None,
) -> bytes:
    """A 1000×800 PNG of the track: the path coloured by speed, start and end marked, a
    scale bar and a north arrow; gaps over 10 minutes stay gaps. Over `basemap` (the map
    behind `track_view(points, crs)`) in Web Mercator, its attribution at the bottom
    right; without one, on plain axes in m or km. Times in the title are shown in `tz`
    (default: as the points carry them). A very long track is thinned for the picture
    only."""
    return _png(track_figure(points, title=title, lang=lang, tz=tz, basemap=basemap))


def _picture_points(points: Sequence[Located]) -> tuple[list[list[Located]], list[Located]]:
    """The segments the picture draws (thinned) and their points in one list."""
    segments = thin_segments(split_segments(points, SEGMENT_GAP), PICTURE_MAX_POINTS)
    return segments, [p for seg in segments for p in seg]


def _lat_lon(flat: Sequence[Located]) -> tuple[np.ndarray, np.ndarray]:
    lat = np.fromiter((p.lat for p in flat), float, len(flat))
    lon = np.fromiter((p.lon for p in flat), float, len(flat))
    return lat, lon


def _mercator(flat: Sequence[Located], crs: str) -> tuple[np.ndarray, np.ndarray]:
    """The points in Web Mercator metres, first shifted to GCJ-02 for `crs="gcj02"`
    tiles; longitudes unwrapped around the first point (a track across 180° stays whole)."""
    if crs == "gcj02":
        shifted = np.array([wgs84_to_gcj02(p.lat, p.lon) for p in flat], dtype=float)
        lat, lon = shifted[:, 0], shifted[:, 1]
    else:
        lat, lon = _lat_lon(flat)
    lon = lon[0] + (lon - lon[0] + 180) % 360 - 180
    phi = np.radians(np.clip(lat, -_MAX_LAT, _MAX_LAT))
    return _MERCATOR_R * np.radians(lon), _MERCATOR_R * np.log(np.tan(np.pi / 4 + phi / 2))


def _ground_per_mercator_m(y: float) -> float:
    """Ground metres in one Web Mercator metre at northing `y`: cos(latitude)."""
    return math.cos(2 * math.atan(math.exp(y / _MERCATOR_R)) - math.pi / 2)


def track_view(points: Sequence[Located], crs: str = "wgs84") -> View | None:
    """What `track_png` shows of these points over a map whose tiles are in `crs`: the
    track with a margin, at least 100 m across, shaped like `MAP_SIZE`. None without
    points or beyond the latitudes Web Mercator draws."""
    _, flat = _picture_points(points)
    if not flat:
        return None
    xs, ys = _mercator(flat, crs)
    cx, cy = float(xs.max() + xs.min()) / 2, float(ys.max() + ys.min()) / 2
    least = _MIN_VIEW_M / _ground_per_mercator_m(cy)
    width = max(float(np.ptp(xs)), least) * 1.16  # 8 % margins, as the plain picture's
    height = max(float(np.ptp(ys)), least) * 1.16
    aspect = MAP_SIZE[0] / MAP_SIZE[1]
    width, height = max(width, height * aspect), max(height, width / aspect)
    view = View(cx - width / 2, cx + width / 2, cy - height / 2, cy + height / 2)
    if view.y1 > HALF_WORLD_M or view.y0 < -HALF_WORLD_M or view.width > 2 * HALF_WORLD_M:
        return None
    return view


def _draw_map(ax: Axes, basemap: Basemap, fonts: _Fonts) -> None:
    """The map under everything, filling the axes at its own pixel size; its credit."""
    v = basemap.view
    ax.imshow(
        np.asarray(basemap.image),
        extent=(v.x0, v.x1, v.y0, v.y1),
        origin="upper",
        interpolation="nearest",
        zorder=0,
    )
    ax.set_xlim(v.x0, v.x1)
    ax.set_ylim(v.y0, v.y1)
    ax.set_aspect("auto")  # the view is already shaped like the axes
    ax.set_autoscale_on(False)
    ax.set_xticks([])
    ax.set_yticks([])
    if basemap.attribution:
        ax.text(
            0.997,
            0.005,
            fonts.text(basemap.attribution),
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="#222222",
            fontfamily=fonts.families,
            parse_math=False,
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 2},
            zorder=7,
        )


def track_figure(
    points: Sequence[Located],
    *,
    title: str,
    lang: str,
    tz: tzinfo | None = None,
    fonts: _Fonts | None = None,
    basemap: Basemap | None = None,
) -> Figure:
    """The figure `track_png` draws, every text in `lang` (Chinese when a CJK font is
    installed, else English words and the title as pinyin); `fonts` for the tests."""
    fonts = fonts or _fonts()
    words = _LABELS["zh" if lang == "zh" else "en"]
    if lang == "zh" and not fonts.cjk:
        words = _LABELS["en"]
    ff = fonts.families

    segments, flat = _picture_points(points)
    on_map = basemap is not None and bool(flat)

    # Fixed axes rectangles rather than a layout engine: constrained layout measures
    # every tick label twice and costs more than drawing the track.
    fig = Figure(figsize=_PICTURE_SIZE, dpi=_DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(_MAP_AXES if on_map else _PLAIN_AXES)

    def axis_labels(unit: str) -> None:
        for set_label, direction in ((ax.set_xlabel, "east"), (ax.set_ylabel, "north")):
            label = words["axis"].format(dir=words[direction], unit=words[unit])
            set_label(fonts.text(label), fontfamily=ff)

    first = flat[0].time if flat else None
    last = flat[-1].time if flat else None
    heading = fonts.text(title)
    when = _time_range(first, last, tz)
    ax.set_title(f"{heading}\n{when}" if when else heading, fontfamily=ff, parse_math=False)

    if not flat:
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(True, color="#dddddd", linewidth=0.6)
        axis_labels("m")
        ax.update_datalim([(-100, -100), (100, 100)])
        ax.autoscale_view()
        return fig

    lat, lon = _lat_lon(flat)
    if basemap is not None:
        xs, ys = _mercator(flat, basemap.crs)
        # Data units (Web Mercator metres) in a ground metre, at the track's middle.
        per_m = 1 / _ground_per_mercator_m(float(ys.max() + ys.min()) / 2)
        _draw_map(ax, basemap, fonts)
    else:
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(True, color="#dddddd", linewidth=0.6)
        lat0 = float(lat.min() + lat.max()) / 2
        # Longitudes unwrapped around the first point, so a track across 180° stays whole.
        dlon = (lon - flat[0].lon + 180) % 360 - 180
        dlon -= (dlon.min() + dlon.max()) / 2
        xs = EARTH_RADIUS_M * np.radians(dlon) * math.cos(math.radians(lat0))
        ys = EARTH_RADIUS_M * np.radians(lat - lat0)
        # Kilometres on the axes once the track spans more than 5 km: fewer digits to read.
        unit = 1000.0 if max(np.ptp(xs), np.ptp(ys)) > 5000 else 1.0
        xs, ys = xs / unit, ys / unit
        axis_labels("km" if unit > 1 else "m")
        per_m = 1 / unit

    seg_id = np.repeat(np.arange(len(segments)), [len(seg) for seg in segments])
    within = seg_id[:-1] == seg_id[1:]  # steps inside a segment; the rest are gaps
    speed = _step_speeds(flat, lat, lon)[within]
    xy = np.column_stack([xs, ys])
    steps_all = np.stack([xy[:-1], xy[1:]], axis=1)
    steps = steps_all[within]

    known = speed[np.isfinite(speed)]
    # The 98th percentile, so one GPS spike does not wash every other step into one colour.
    vmax = float(np.percentile(known, 98)) if known.size else 0.0
    extend = "max" if known.size and known.max() > vmax > 0 else "neither"
    vmax = vmax if vmax > 0 else 1.0
    if len(steps):
        if on_map:  # a dark casing: the light end of the colours stays visible on a map
            ax.add_collection(
                LineCollection(
                    list(steps), colors="#404040", linewidths=4.2, capstyle="round", zorder=1.9
                )
            )
        cmap = colormaps["plasma"].with_extremes(bad="#999999")
        lc = LineCollection(
            list(steps),
            cmap=cmap,
            norm=Normalize(0.0, vmax),
            linewidths=2.2,
            capstyle="round",
            zorder=2,
        )
        lc.set_array(np.ma.masked_invalid(speed))
        ax.add_collection(lc)
        cax = fig.add_axes((0.905, 0.12, 0.022, 0.74))
        cbar = fig.colorbar(lc, cax=cax, extend=extend)
        cbar.set_label(fonts.text(words["speed"]), fontfamily=ff)
    # Gaps stay gaps: at most a faint dotted hint from one segment's end to the next's start.
    gaps = steps_all[~within]
    if len(gaps):
        ax.add_collection(
            LineCollection(
                list(gaps),
                colors="#666666" if on_map else "#bbbbbb",
                linewidths=0.8,
                linestyles=":",
                zorder=1,
            )
        )
    # A segment of one point has no line to draw: show it as a dot.
    sizes = np.array([len(seg) for seg in segments])
    singles = (np.cumsum(sizes) - 1)[sizes == 1]
    if len(singles):
        ax.scatter(xs[singles], ys[singles], s=12, color="#555555", zorder=3)

    ax.plot(xs[0], ys[0], marker="o", markersize=11, color="#1a9641", mec="white", zorder=5)
    ax.plot(xs[-1], ys[-1], marker="s", markersize=11, color="#d7191c", mec="white", zorder=5)
    for text, k, offset, colour in (
        (words["start"], 0, (8, 8), "#1a9641"),
        (words["end"], -1, (8, -16), "#d7191c"),
    ):
        ax.annotate(
            fonts.text(text),
            (xs[k], ys[k]),
            xytext=offset,
            textcoords="offset points",
            fontsize=11,
            color=colour,
            zorder=6,
            fontfamily=ff,
        )

    span = max(float(np.ptp(xs)), float(np.ptp(ys)), _MIN_VIEW_M * per_m)
    if not on_map:
        cx, cy = float(xs.max() + xs.min()) / 2, float(ys.max() + ys.min()) / 2
        # At least a 100 m view around a tiny track; the equal aspect widens it to fill the box.
        ax.update_datalim([(cx - span / 2, cy - span / 2), (cx + span / 2, cy + span / 2)])
        ax.margins(0.08)
        ax.autoscale_view()

    bar = _nice_length(span / per_m)
    ax.add_artist(
        AnchoredSizeBar(
            ax.transData,
            bar * per_m,
            fonts.text(_length_text(bar, words)),
            loc="lower left",
            pad=0.6,
            borderpad=0.8,
            sep=4,
            frameon=True,
            size_vertical=span / 300,
            fontproperties=FontProperties(family=ff),
        )
    )
    ax.annotate(
        "N",
        xy=(0.95, 0.96),
        xytext=(0.95, 0.86),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="center",
        fontsize=13,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.6},
        # Over a map, a light disc keeps the letter readable on the streets' labels.
        bbox={"boxstyle": "circle,pad=0.25", "fc": "white", "ec": "none", "alpha": 0.75}
        if on_map
        else None,
    )
    return fig


def _step_speeds(flat: Sequence[Located], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """km/h over each step flat[i] -> flat[i+1]: reported speeds (mean of the two
    ends when both known), else distance over time; NaN where unknown or absurd."""
    reported = np.array([math.nan if p.speed is None else p.speed for p in flat], dtype=float)
    secs = np.array([p.time.timestamp() if p.time else math.nan for p in flat], dtype=float)
    a, b = reported[:-1], reported[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(
            np.isfinite(a) & np.isfinite(b),
            (a + b) / 2,
            np.where(np.isfinite(a), a, b),
        )
        p1, p2 = np.radians(lat[:-1]), np.radians(lat[1:])
        dl = np.radians(lon[1:] - lon[:-1])
        h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
        metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        dt = secs[1:] - secs[:-1]
        derived = np.where(dt > 0, metres / dt * 3.6, math.nan)
        out = np.where(np.isfinite(out), out, derived)
        out[~np.isfinite(out) | (out > MAX_PLAUSIBLE_KMH) | (out < 0)] = math.nan
    return out


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # zlib level 3 instead of 6: about 10 % larger, less than half the time.
    fig.savefig(buf, format="png", dpi=_DPI, pil_kwargs={"compress_level": 3})
    return buf.getvalue()
