"""Time expressions typed in chat commands (DESIGN §4), for user input only.

Accepted by :func:`parse_time` (case-insensitive; full-width digits and colons from
a Chinese keyboard are accepted too):

* ``2026-11-28`` (also ``2026/11/28``, ``2026.11.28``) — the start of that day;
* ``2026-11-28 08:00``, ``2026-11-28T08:00``, with optional ``:SS``;
* ``11-28`` — that day of the most recent year in which it is not in the future;
  ``11-28 08:00`` likewise;
* ``08:00`` (also ``8:00``, ``08:00:30``) — today;
* ``-2h``, ``-30m``, ``-1d``, combined ``-1d12h``, ``-1h30m`` — that much elapsed
  time before now (real time: across a DST change ``-1d`` is 24 hours);
* ``now`` / ``现在``;
* ``today``/``今天``, ``yesterday``/``昨天``, ``前天`` — the start of that day (so
  :func:`parse_range` takes one as that whole day, as ``/recordings`` does), also
  followed by a time of day: ``昨天 08:00``.

Wall-clock times are in the bridge's time zone. A wall time skipped by a DST change
(02:30 on a spring-forward night) moves forward by the gap; a repeated one takes
its first occurrence.

:func:`parse_date` takes ``2026-11-28``, ``11-28``, ``today``/``今天``,
``yesterday``/``昨天``, ``前天`` and ``-Nd`` (N calendar days ago).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "TimeExprError",
    "parse_date",
    "parse_duration",
    "parse_hhmm",
    "parse_range",
    "parse_time",
]

Reason = Literal["unparseable", "order", "span"]
Expects = Literal["time", "date"]

_MAX_SHOWN: Final = 40  # characters of the offending text echoed back to the user


class TimeExprError(ValueError):
    """A time expression the user typed cannot be used.

    ``reason`` is ``"unparseable"``, ``"order"`` (from is not before to) or
    ``"span"`` (longer than ``max_span``); ``text`` is what the user typed;
    ``detail`` says why in English, for logs. ``msg_id`` and ``msg_args`` are the
    i18n message that explains it to the user.
    """

    def __init__(
        self,
        text: str,
        reason: Reason = "unparseable",
        *,
        detail: str = "",
        expects: Expects = "time",
        max_span: timedelta | None = None,
    ) -> None:
        self.text = text
        self.reason: Reason = reason
        self.detail = detail
        self.expects: Expects = expects
        self.max_span = max_span
        super().__init__(f"{reason}: {text!r}" + (f" ({detail})" if detail else ""))

    @property
    def msg_id(self) -> str:
        return f"err-{self.expects}-{self.reason}"

    @property
    def msg_args(self) -> dict[str, object]:
        shown = self.text if len(self.text) <= _MAX_SHOWN else self.text[: _MAX_SHOWN - 1] + "…"
        args: dict[str, object] = {"text": shown}
        if self.max_span is not None:
            args["days"] = self.max_span.days
            args["hours"] = int(self.max_span.total_seconds() // 3600)
        return args


# The whole expression, after _normalise. [0-9] rather than \d: int() would accept
# any Unicode digit.
_DATE = (
    r"(?:(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<mo>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
    r"|(?P<mo2>[0-9]{1,2})(?P<sep2>[-/])(?P<d2>[0-9]{1,2}))"
)
_TIME = r"(?P<hh>[0-9]{1,2}):(?P<mm>[0-9]{2})(?::(?P<ss>[0-9]{2}))?"
_DATETIME_RE: Final = re.compile(rf"{_DATE}(?:(?:\s+|t){_TIME})?")
_TIME_RE: Final = re.compile(_TIME)
_REL_RE: Final = re.compile(
    r"-(?=[0-9])(?:(?P<days>[0-9]{1,5})d)?(?:(?P<hours>[0-9]{1,6})h)?(?:(?P<minutes>[0-9]{1,7})m)?"
)
_REL_DAYS_RE: Final = re.compile(r"-(?P<days>[0-9]{1,5})d")

_NOW: Final = frozenset({"now", "现在"})
_DAYS_AGO: Final = {"today": 0, "今天": 0, "yesterday": 1, "昨天": 1, "前天": 2}
_WORD_TIME_RE: Final = re.compile(rf"(?P<word>\S+)\s+{_TIME}")


def _normalise(text: str) -> str:
    # NFKC folds full-width digits, "：" and "－" from Chinese keyboards to ASCII.
    return unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip().lower()


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    # Through UTC: astimezone() to the datetime's own tzinfo returns it unchanged,
    # even a wall time that does not exist.
    return moment.astimezone(UTC).astimezone(tz)


def _wall(d: date, hh: int, mm: int, ss: int, tz: ZoneInfo) -> datetime:
    """A wall-clock time in ``tz`` that exists (see the module docstring)."""
    return datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _ago(now: datetime, delta: timedelta, tz: ZoneInfo) -> datetime:
    return (now.astimezone(UTC) - delta).astimezone(tz)


def _recent_day(month: int, day: int, today: date) -> date:
    """``month``-``day`` in the latest year in which it is not after ``today``."""
    d = date(today.year, month, day)
    return d if d <= today else date(today.year - 1, month, day)


def _parse(text: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, bool]:
    """The time ``text`` means, and whether it named a whole day (no time of day)."""
    _check_now(now)
    s = _normalise(text)
    today = _local(now, tz).date()
    try:
        if s in _NOW:
            return _local(now, tz), False
        if s in _DAYS_AGO:
            return _wall(today - timedelta(days=_DAYS_AGO[s]), 0, 0, 0, tz), True
        if (m := _WORD_TIME_RE.fullmatch(s)) and m["word"] in _DAYS_AGO:
            day = today - timedelta(days=_DAYS_AGO[m["word"]])
            return _wall(day, int(m["hh"]), int(m["mm"]), int(m["ss"] or 0), tz), False
        if m := _REL_RE.fullmatch(s):
            delta = timedelta(
                days=int(m["days"] or 0), hours=int(m["hours"] or 0), minutes=int(m["minutes"] or 0)
            )
            return _ago(now, delta, tz), False
        if m := _DATETIME_RE.fullmatch(s):
            if m["y"] is not None:
                day = date(int(m["y"]), int(m["mo"]), int(m["d"]))
            else:
                day = _recent_day(int(m["mo2"]), int(m["d2"]), today)
            if m["hh"] is None:
                return _wall(day, 0, 0, 0, tz), True
            return _wall(day, int(m["hh"]), int(m["mm"]), int(m["ss"] or 0), tz), False
        if m := _TIME_RE.fullmatch(s):
            return _wall(today, int(m["hh"]), int(m["mm"]), int(m["ss"] or 0), tz), False
    except (ValueError, OverflowError) as e:  # 2026-02-30, 25:00, year 0, ...
        raise TimeExprError(text, detail=str(e)) from None
    raise TimeExprError(text, detail="not a time expression")


def parse_time(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The moment ``text`` names, as an aware datetime in ``tz``.

    ``now`` must be aware. Raises :class:`TimeExprError` for anything else.
    """
    return _parse(text, now, tz)[0]


def _tokens(args: Sequence[str]) -> list[str]:
    """Words of ``args``, with a date (or a day word) followed by a time of day joined
    into one."""
    words = [w for a in args for w in a.split()]
    out: list[str] = []
    k = 0
    while k < len(words):
        w = words[k]
        day = _normalise(w)
        is_day = day in _DAYS_AGO or ((m := _DATETIME_RE.fullmatch(day)) and m["hh"] is None)
        if k + 1 < len(words) and is_day and _TIME_RE.fullmatch(_normalise(words[k + 1])):
            out.append(f"{w} {words[k + 1]}")
            k += 2
        else:
            out.append(w)
            k += 1
    return out


def parse_range(
    args: Sequence[str],
    now: datetime,
    tz: ZoneInfo,
    default: timedelta = timedelta(hours=24),
    max_span: timedelta = timedelta(days=7),
) -> tuple[datetime, datetime]:
    """``[from] [to]`` of a command, as aware datetimes in ``tz``.

    * nothing: the ``default`` span up to now;
    * only a day (``2026-11-28``, ``昨天``, ``today``): that whole day, up to now if it
      is today;
    * only ``from``: from then up to now;
    * ``from to``: a ``to`` that is only a day means the end of that day, so
      ``2026-11-20 2026-11-22`` is three whole days.

    Raises :class:`TimeExprError` with ``reason`` ``"unparseable"`` (more than two
    expressions, or one that cannot be read), ``"order"`` or ``"span"``.
    """
    _check_now(now)
    tokens = _tokens(args)
    if len(tokens) > 2:
        raise TimeExprError(" ".join(tokens[2:]), detail="more than two times")
    now_utc = now.astimezone(UTC)
    if not tokens:
        start, end = now_utc - default, now_utc
    else:
        start_t, whole_day = _parse(tokens[0], now, tz)
        start = start_t.astimezone(UTC)
        if len(tokens) == 2:
            end_t, end_day = _parse(tokens[1], now, tz)
            end = (_next_day(end_t, tz) if end_day else end_t).astimezone(UTC)
        elif whole_day:
            end = min(_next_day(start_t, tz).astimezone(UTC), now_utc)
        else:
            end = now_utc
    text = " ".join(tokens)
    # Compared in UTC: same-zone aware datetimes compare and subtract as wall times.
    if start >= end:
        raise TimeExprError(text, "order", detail="from is not before to")
    start_l, end_l = start.astimezone(tz), end.astimezone(tz)
    # A week of calendar days is a week even when it holds a DST change (real time
    # 7 d + 1 h), and so is "-7d" (wall time 7 d + 1 h): take the shorter measure.
    span = min(end - start, end_l.replace(tzinfo=None) - start_l.replace(tzinfo=None))
    if span > max_span:
        raise TimeExprError(text, "span", detail=f"longer than {max_span}", max_span=max_span)
    return start_l, end_l


def _next_day(start_of_day: datetime, tz: ZoneInfo) -> datetime:
    try:
        return _wall(start_of_day.date() + timedelta(days=1), 0, 0, 0, tz)
    except OverflowError:
        raise TimeExprError(str(start_of_day.date()), detail="date out of range") from None


def parse_date(text: str, now: datetime, tz: ZoneInfo) -> date:
    """The calendar day ``text`` names, in ``tz``; see the module docstring.

    Raises :class:`TimeExprError` (``expects="date"``) for anything else.
    """
    _check_now(now)
    s = _normalise(text)
    today = _local(now, tz).date()
    try:
        if s in _DAYS_AGO:
            return today - timedelta(days=_DAYS_AGO[s])
        if m := _REL_DAYS_RE.fullmatch(s):
            return today - timedelta(days=int(m["days"]))
        if (m := _DATETIME_RE.fullmatch(s)) and m["hh"] is None:
            if m["y"] is not None:
                return date(int(m["y"]), int(m["mo"]), int(m["d"]))
            return _recent_day(int(m["mo2"]), int(m["d2"]), today)
    except (ValueError, OverflowError) as e:
        raise TimeExprError(text, detail=str(e), expects="date") from None
    raise TimeExprError(text, detail="not a date", expects="date")


_HHMM = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")


def parse_hhmm(text: str) -> time | None:
    """`08:30`, `8:30` or `08：30` (full-width colon) -> time; None if it is not a time."""
    m = _HHMM.fullmatch(text.strip())
    return time(int(m[1]), int(m[2])) if m else None


def parse_duration(text: str) -> timedelta | None:
    """`30m`, `2h`, `1d`; None for anything else. ASCII digits only ("²".isdigit() is
    true, int() refuses it), at most six of them (99999999999999d overflows timedelta)."""
    units = {"m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not 1 <= len(number) <= 6:
        return None
    if not (number.isascii() and number.isdigit()):
        return None
    return timedelta(seconds=int(number) * units[unit])
