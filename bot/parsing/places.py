"""Places and spans typed in chat commands (`/fence`, `/near`, `/follow`), for user input only.

Full-width digits, commas and letters from a Chinese keyboard are accepted (NFKC), and
case does not matter.

* **Radius** (:func:`parse_radius`): a number of metres, ``300``, ``300m``, ``300 m``,
  ``300米``, or of kilometres, ``1.5km``, ``1.5 km``, ``1.5公里``, ``1.5千米``. A decimal
  comma is accepted when a unit follows and one or two digits follow the comma
  (``1,5km`` is 1.5 km); ``1,500m`` is refused as ambiguous (a thousands separator or a
  decimal comma?) rather than guessed. Between :data:`MIN_RADIUS_M` (10 m) and
  :data:`MAX_RADIUS_M` (50 km), both included.
* **Coordinates** (:func:`parse_latlon`, :func:`take_latlon`): ``<lat>,<lon>`` in decimal
  degrees, latitude first as maps print it: ``30.2741,120.1551``, ``30.2741, 120.1551``,
  ``30.2741，120.1551``. Latitude within ±90, longitude within ±180. They are taken as the
  coordinates Telegram uses (WGS-84). :func:`take_latlons` reads several in a row (a
  polygon fence's corners), separated by spaces.
* **Follow duration** (:func:`parse_follow_duration`): ``30m``, ``2h`` (as
  :func:`~bot.parsing.timeexpr.parse_duration` reads them); none given is
  :data:`FOLLOW_DEFAULT` (30 min); at most :data:`FOLLOW_MAX` (8 h).

Errors are :class:`PlaceError`, carrying the i18n message (``msg_id``, ``msg_args``) that
tells the user what was wrong, as :class:`~bot.parsing.timeexpr.TimeExprError` does.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import timedelta
from typing import Final, Literal

from bot.geo.measure import LatLon
from bot.parsing.timeexpr import parse_duration

__all__ = [
    "FOLLOW_DEFAULT",
    "FOLLOW_MAX",
    "MAX_RADIUS_M",
    "MIN_RADIUS_M",
    "PlaceError",
    "parse_follow_duration",
    "parse_latlon",
    "parse_radius",
    "take_latlon",
    "take_latlons",
]

MIN_RADIUS_M: Final = 10.0
MAX_RADIUS_M: Final = 50_000.0
FOLLOW_DEFAULT: Final = timedelta(minutes=30)
FOLLOW_MAX: Final = timedelta(hours=8)

What = Literal["radius", "latlon", "follow-duration"]
Reason = Literal["unparseable", "range"]

_MAX_SHOWN: Final = 40  # characters of the offending text echoed back to the user


class PlaceError(ValueError):
    """A radius, a place or a follow duration the user typed cannot be used.

    ``what`` is ``"radius"``, ``"latlon"`` or ``"follow-duration"``; ``reason`` is
    ``"unparseable"`` or ``"range"`` (read, but outside the bounds). ``msg_id`` is
    ``err-<what>-<reason>``; ``msg_args`` always has ``text`` (what the user typed, cut to
    40 characters) and the bounds: ``min_m``/``max_km`` for a radius, ``hours`` for a
    follow duration.
    """

    def __init__(self, what: What, reason: Reason, text: str, *, detail: str = "") -> None:
        self.what: What = what
        self.reason: Reason = reason
        self.text = text
        self.detail = detail
        super().__init__(f"{what} {reason}: {text!r}" + (f" ({detail})" if detail else ""))

    @property
    def msg_id(self) -> str:
        return f"err-{self.what}-{self.reason}"

    @property
    def msg_args(self) -> dict[str, object]:
        shown = self.text if len(self.text) <= _MAX_SHOWN else self.text[: _MAX_SHOWN - 1] + "…"
        args: dict[str, object] = {"text": shown}
        if self.what == "radius":
            args["min_m"] = int(MIN_RADIUS_M)
            args["max_km"] = int(MAX_RADIUS_M // 1000)
        elif self.what == "follow-duration":
            args["hours"] = int(FOLLOW_MAX.total_seconds() // 3600)
        return args


def _normalise(text: str) -> str:
    # NFKC folds full-width digits, "，" and "．" to ASCII; U+2212 is the minus sign.
    return unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip().lower()


# [0-9], not \d: int()/float() accept other Unicode digits that NFKC leaves alone.
_RADIUS_RE: Final = re.compile(
    r"(?P<int>[0-9]{1,9})(?:(?P<sep>[.,])(?P<frac>[0-9]{1,6}))?\s*(?P<unit>m|米|km|公里|千米)?"
)
_KM: Final = frozenset({"km", "公里", "千米"})


def parse_radius(text: str) -> float:
    """A fence or search radius in metres (see the module docstring)."""
    s = _normalise(text)
    m = _RADIUS_RE.fullmatch(s)
    if m is None:
        raise PlaceError("radius", "unparseable", text)
    if m["sep"] == "," and (m["unit"] is None or len(m["frac"]) > 2):
        raise PlaceError("radius", "unparseable", text, detail="ambiguous comma")
    value = float(f"{m['int']}.{m['frac'] or 0}")
    metres = value * 1000 if m["unit"] in _KM else value
    if not MIN_RADIUS_M <= metres <= MAX_RADIUS_M:
        raise PlaceError("radius", "range", text)
    return metres


_NUMBER = r"[-+]?[0-9]{1,3}(?:\.[0-9]{1,12})?"
_LATLON_RE: Final = re.compile(rf"(?P<lat>{_NUMBER})\s*,\s*(?P<lon>{_NUMBER})")
# What take_latlon accepts at the start of the arguments: a pair, then a space or the end.
_LEADING_RE: Final = re.compile(rf"\s*(?P<pair>{_LATLON_RE.pattern})(?=\s|$)")


def _latlon(lat_text: str, lon_text: str, text: str) -> LatLon:
    lat, lon = float(lat_text), float(lon_text)
    if not (math.isfinite(lat) and math.isfinite(lon)):  # the pattern admits none; kept explicit
        raise PlaceError("latlon", "unparseable", text)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise PlaceError("latlon", "range", text)
    return LatLon(lat, lon)


def parse_latlon(text: str) -> LatLon:
    """``<lat>,<lon>`` as a place (see the module docstring)."""
    m = _LATLON_RE.fullmatch(_normalise(text))
    if m is None:
        raise PlaceError("latlon", "unparseable", text)
    return _latlon(m["lat"], m["lon"], text)


def take_latlon(args: str) -> tuple[LatLon | None, str]:
    """A place at the start of a command's arguments, and the arguments after it.

    ``"30.27, 120.15 500m"`` is ``(LatLon(30.27, 120.15), "500m")``. Arguments that do not
    start with a pair are returned whole with None (``"500m"``, ``"张三"``, ``"1,5km"``); a
    pair out of range is a :class:`PlaceError`.
    """
    s = _normalise(args)
    m = _LEADING_RE.match(s)
    if m is None:
        return None, s
    return _latlon(m["lat"], m["lon"], m["pair"]), s[m.end() :].strip()


def take_latlons(args: str) -> tuple[list[LatLon], str]:
    """Every place at the start of a command's arguments, and the arguments after them.

    ``"30.27,120.15 30.28,120.15 30.28,120.16"`` is three places and ``""``; ``"500m"`` is
    none and ``"500m"``. A pair out of range is a :class:`PlaceError`.
    """
    places: list[LatLon] = []
    rest = _normalise(args)
    while True:
        place, after = take_latlon(rest)
        if place is None:
            return places, rest
        places.append(place)
        rest = after


def parse_follow_duration(text: str | None) -> timedelta:
    """How long `/follow` lasts: ``None`` or blank is 30 min; ``30m``, ``2h`` up to 8 h."""
    if text is None or not text.strip():
        return FOLLOW_DEFAULT
    span = parse_duration(_normalise(text))
    if span is None:
        raise PlaceError("follow-duration", "unparseable", text)
    if not timedelta(0) < span <= FOLLOW_MAX:
        raise PlaceError("follow-duration", "range", text)
    return span
