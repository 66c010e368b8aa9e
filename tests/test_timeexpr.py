"""bot.parsing.timeexpr: the time expressions users type in commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.parsing.timeexpr import TimeExprError, parse_date, parse_range, parse_time

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 28, 10, 30, 15, tzinfo=SH)


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=tz)


def same_instant_and_zone(got: datetime, want: datetime, tz: ZoneInfo) -> None:
    assert got.tzinfo is tz
    assert got.astimezone(UTC) == want.astimezone(UTC)
    assert got.utcoffset() == want.utcoffset()


# -- parse_time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-11-28", at(2026, 11, 28)),
        ("2026-11-20", at(2026, 11, 20)),
        ("2026/11/20", at(2026, 11, 20)),
        ("2026.11.20", at(2026, 11, 20)),
        ("2026-11-28 08:00", at(2026, 11, 28, 8)),
        ("2026-11-28T08:00", at(2026, 11, 28, 8)),
        ("2026-11-28t08:00:30", at(2026, 11, 28, 8, 0, 30)),
        ("2026-1-5 8:05", at(2026, 1, 5, 8, 5)),
        ("  2026-11-28   08:00 ", at(2026, 11, 28, 8)),
        ("２０２６－１１－２８ ０８：００", at(2026, 11, 28, 8)),  # full-width keyboard
        ("08:00", at(2026, 11, 28, 8)),
        ("8:00", at(2026, 11, 28, 8)),
        ("08：00", at(2026, 11, 28, 8)),
        ("23:59:59", at(2026, 11, 28, 23, 59, 59)),
        ("00:00", at(2026, 11, 28)),
        ("11-27", at(2026, 11, 27)),
        ("11-27 18:00", at(2026, 11, 27, 18)),
        ("12-01", at(2025, 12, 1)),  # not in the future: last year's
        ("-2h", NOW - timedelta(hours=2)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("-1d", NOW - timedelta(days=1)),
        ("-1d12h", NOW - timedelta(days=1, hours=12)),
        ("-1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("-2H", NOW - timedelta(hours=2)),
        ("－2h", NOW - timedelta(hours=2)),
        ("\u22122h", NOW - timedelta(hours=2)),  # minus sign
        ("now", NOW),
        ("NOW", NOW),
        ("现在", NOW),
    ],
)
def test_parse_time_accepts(text: str, want: datetime) -> None:
    same_instant_and_zone(parse_time(text, NOW, SH), want, SH)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "2026-02-30",
        "2026-13-01",
        "2026-11-31",
        "2026-11-28 25:00",
        "25:00",
        "24:00",
        "12:60",
        "12:00:60",
        "0000-01-01",
        "0001-01-01",  # midnight there is before year 1 in UTC
        "2026-11-28 08",
        "2026-11-28 08:00 extra",
        "2026-11/28",
        "08",
        "8am",
        "-",
        "-5",
        "-2x",
        "-2s",
        "+2h",
        "2h",
        "-h",
        "- 2h",
        "-99999999d",
        "yesterday 25:00",  # day words are taken (tests/test_day_words.py); bad times not
        "tomorrow",
        "٠٨:٠٠",  # Arabic-Indic digits: int() would take them, we do not
        "0x10:00",
        "2026-11-28T",
        "02-30",
    ],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(TimeExprError) as info:
        parse_time(text, NOW, SH)
    e = info.value
    assert e.text == text
    assert e.reason == "unparseable"
    assert e.msg_id == "err-time-unparseable"
    assert e.msg_args["text"] == text
    assert e.detail


def test_error_text_shown_to_the_user_is_shortened() -> None:
    with pytest.raises(TimeExprError) as info:
        parse_time("x" * 500, NOW, SH)
    assert info.value.text == "x" * 500
    shown = info.value.msg_args["text"]
    assert isinstance(shown, str)
    assert len(shown) <= 40
    assert shown.endswith("…")


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_time("08:00", datetime(2026, 11, 28), SH)


def test_now_in_another_zone_is_converted() -> None:
    now_utc = NOW.astimezone(UTC)
    same_instant_and_zone(parse_time("now", now_utc, SH), NOW, SH)
    # "today" is today in the bridge's zone, not in now's
    late_utc = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)  # 04:00 on the 29th in Shanghai
    assert parse_time("08:00", late_utc, SH) == at(2026, 11, 29, 8)
    assert parse_time("08:00", late_utc, BERLIN) == at(2026, 11, 28, 8, tz=BERLIN)


# -- DST (Europe/Berlin: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00) -----


def test_relative_times_are_elapsed_time_across_dst() -> None:
    now = at(2026, 3, 29, 12, tz=BERLIN)  # CEST, the day clocks went forward
    got = parse_time("-1d", now, BERLIN)
    assert now.timestamp() - got.timestamp() == 86400
    assert got == at(2026, 3, 28, 11, tz=BERLIN)  # 11:00 CET: 24 h, not "same time"
    got = parse_time("-12h", now, BERLIN)
    assert now.timestamp() - got.timestamp() == 12 * 3600
    assert (got.hour, got.utcoffset()) == (23, timedelta(hours=1))


def test_skipped_wall_time_moves_forward() -> None:
    now = at(2026, 4, 1, tz=BERLIN)
    got = parse_time("2026-03-29 02:30", now, BERLIN)
    assert (got.hour, got.minute, got.utcoffset()) == (3, 30, timedelta(hours=2))


def test_repeated_wall_time_takes_its_first_occurrence() -> None:
    now = at(2026, 11, 1, tz=BERLIN)
    got = parse_time("2026-10-25 02:30", now, BERLIN)
    assert (got.hour, got.minute, got.utcoffset()) == (2, 30, timedelta(hours=2))


def test_day_start_in_both_offsets() -> None:
    now = at(2026, 11, 1, tz=BERLIN)
    assert parse_time("2026-03-29", now, BERLIN).utcoffset() == timedelta(hours=1)
    assert parse_time("2026-03-30", now, BERLIN).utcoffset() == timedelta(hours=2)


# -- parse_range -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ([], (NOW - timedelta(hours=24), NOW)),
        (["-2h"], (NOW - timedelta(hours=2), NOW)),
        (["08:00"], (at(2026, 11, 28, 8), NOW)),
        (["2026-11-28", "08:00"], (at(2026, 11, 28, 8), NOW)),  # two words, one time
        (["2026-11-28 08:00"], (at(2026, 11, 28, 8), NOW)),
        (["2026-11-28T08:00", "09:30"], (at(2026, 11, 28, 8), at(2026, 11, 28, 9, 30))),
        (
            ["2026-11-27", "08:00", "2026-11-27", "18:00"],
            (at(2026, 11, 27, 8), at(2026, 11, 27, 18)),
        ),
        (["2026-11-27", "08:00", "-2h"], (at(2026, 11, 27, 8), NOW - timedelta(hours=2))),
        (["2026-11-27"], (at(2026, 11, 27), at(2026, 11, 28))),  # a whole day
        (["11-27"], (at(2026, 11, 27), at(2026, 11, 28))),
        (["2026-11-28"], (at(2026, 11, 28), NOW)),  # today: up to now
        (["2026-11-20", "2026-11-22"], (at(2026, 11, 20), at(2026, 11, 23))),  # inclusive
        (["2026-11-22", "2026-11-28"], (at(2026, 11, 22), at(2026, 11, 29))),  # 7 days
        (["-7d"], (NOW - timedelta(days=7), NOW)),
        (["-1d", "now"], (NOW - timedelta(days=1), NOW)),
    ],
)
def test_parse_range(args: list[str], want: tuple[datetime, datetime]) -> None:
    start, end = parse_range(args, NOW, SH)
    same_instant_and_zone(start, want[0], SH)
    same_instant_and_zone(end, want[1], SH)


@pytest.mark.parametrize(
    ("args", "reason", "text"),
    [
        (["09:00", "08:00"], "order", "09:00 08:00"),
        (["now", "now"], "order", "now now"),
        (["2026-11-29"], "order", "2026-11-29"),  # a day still to come
        (["23:00"], "order", "23:00"),  # later today
        (["-8d"], "span", "-8d"),
        (["2026-11-01", "2026-11-28"], "span", "2026-11-01 2026-11-28"),
        (["2026-11-21", "2026-11-28"], "span", "2026-11-21 2026-11-28"),  # 8 whole days
        (["tomorrow"], "unparseable", "tomorrow"),
        (["-2h", "x"], "unparseable", "x"),
        (["-3h", "-2h", "-1h"], "unparseable", "-1h"),
        (["2026-11-28", "08:00", "09:00", "10:00"], "unparseable", "10:00"),
        (["2026-02-30"], "unparseable", "2026-02-30"),
    ],
)
def test_parse_range_errors(args: list[str], reason: str, text: str) -> None:
    with pytest.raises(TimeExprError) as info:
        parse_range(args, NOW, SH)
    assert (info.value.reason, info.value.text) == (reason, text)
    assert info.value.msg_id == f"err-time-{reason}"


def test_span_error_says_the_limit() -> None:
    with pytest.raises(TimeExprError) as info:
        parse_range(["-3d"], NOW, SH, max_span=timedelta(days=2))
    assert info.value.max_span == timedelta(days=2)
    assert info.value.msg_args["days"] == 2


def test_default_span_is_configurable() -> None:
    start, end = parse_range([], NOW, SH, default=timedelta(hours=2))
    assert end - start == timedelta(hours=2)


def test_a_week_of_days_with_a_dst_change_is_a_week() -> None:
    now = at(2026, 11, 1, tz=BERLIN)
    # 7 calendar days holding the autumn change: 7 d + 1 h of real time
    start, end = parse_range(["2026-10-19", "2026-10-25"], now, BERLIN)
    assert end.timestamp() - start.timestamp() == 7 * 86400 + 3600
    # "-7d" across the spring change: 7 d of real time, 7 d + 1 h on the wall clock
    spring = at(2026, 3, 30, 12, tz=BERLIN)
    start, end = parse_range(["-7d"], spring, BERLIN)
    assert end.timestamp() - start.timestamp() == 7 * 86400
    with pytest.raises(TimeExprError):
        parse_range(["2026-10-18", "2026-10-25"], now, BERLIN)


# -- parse_date --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2026-11-28", date(2026, 11, 28)),
        ("2024-02-29", date(2024, 2, 29)),
        ("2026/11/01", date(2026, 11, 1)),
        ("11-28", date(2026, 11, 28)),
        ("11/27", date(2026, 11, 27)),
        ("12-31", date(2025, 12, 31)),
        ("today", date(2026, 11, 28)),
        ("Today", date(2026, 11, 28)),
        ("今天", date(2026, 11, 28)),
        ("yesterday", date(2026, 11, 27)),
        ("昨天", date(2026, 11, 27)),
        ("前天", date(2026, 11, 26)),
        ("-1d", date(2026, 11, 27)),
        ("-0d", date(2026, 11, 28)),
        ("-30d", date(2026, 10, 29)),
        ("２０２６－１１－２８", date(2026, 11, 28)),
    ],
)
def test_parse_date_accepts(text: str, want: date) -> None:
    assert parse_date(text, NOW, SH) == want


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-02-29",
        "02-29",
        "2026-11-28 08:00",
        "08:00",
        "-2h",
        "-1d2h",
        "now",
        "13-01",
        "-9999999d",
        "x",
    ],
)
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(TimeExprError) as info:
        parse_date(text, NOW, SH)
    assert info.value.msg_id == "err-date-unparseable"
    assert info.value.text == text


def test_today_is_the_bridge_zones_today() -> None:
    now = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    assert parse_date("today", now, SH) == date(2026, 11, 29)
    assert parse_date("today", now, BERLIN) == date(2026, 11, 28)
    assert parse_date("yesterday", now, SH) == date(2026, 11, 28)


# -- properties ----------------------------------------------------------------------

ZONES = st.sampled_from([SH, BERLIN, ZoneInfo("UTC"), ZoneInfo("America/Santiago")])
NOWS = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=ZONES,
)
NEAR_MISSES = st.from_regex(
    r"\A[-－+]?[0-9０-９]{0,5}([-/.:：T t][0-9]{0,4}){0,4}[dhmsDHM]?\Z", fullmatch=True
)
ANY_TEXT = st.text(max_size=30) | NEAR_MISSES | st.sampled_from(["now", "today", "现在", "昨天"])


@settings(max_examples=examples(500), deadline=None)
@given(ANY_TEXT, NOWS, ZONES)
def test_parse_time_raises_only_time_expr_error(text: str, now: datetime, tz: ZoneInfo) -> None:
    try:
        got = parse_time(text, now, tz)
    except TimeExprError as e:
        assert e.text == text
        return
    assert got.tzinfo is tz
    assert got == got.astimezone(UTC).astimezone(tz)  # a wall time that exists


@settings(max_examples=examples(500), deadline=None)
@given(ANY_TEXT, NOWS, ZONES)
def test_parse_date_raises_only_time_expr_error(text: str, now: datetime, tz: ZoneInfo) -> None:
    try:
        parse_date(text, now, tz)
    except TimeExprError as e:
        assert e.expects == "date"


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(ANY_TEXT, max_size=5), NOWS, ZONES)
def test_parse_range_raises_only_time_expr_error(
    args: list[str], now: datetime, tz: ZoneInfo
) -> None:
    try:
        start, end = parse_range(args, now, tz)
    except TimeExprError as e:
        assert e.reason in ("unparseable", "order", "span")
        return
    assert start.tzinfo is tz and end.tzinfo is tz
    assert start < end
    real = end.astimezone(UTC) - start.astimezone(UTC)
    assert real <= timedelta(days=7, hours=1)


@settings(max_examples=examples(500), deadline=None)
@given(
    NOWS,
    ZONES,
    st.integers(0, 400),
    st.integers(0, 100),
    st.integers(0, 10_000),
    st.booleans(),
)
def test_relative_forms_are_exactly_now_minus_delta(
    now: datetime, tz: ZoneInfo, days: int, hours: int, minutes: int, upper: bool
) -> None:
    text = "-" + "".join(
        f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n
    )
    if text == "-":
        text = "-0m"
    if upper:
        text = text.upper()
    got = parse_time(text, now, tz)
    delta = timedelta(days=days, hours=hours, minutes=minutes)
    assert got.tzinfo is tz
    assert got.astimezone(UTC) == now.astimezone(UTC) - delta


@settings(max_examples=examples(500), deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    ZONES,
    st.sampled_from([" ", "T", "t", "  "]),
)
def test_wall_times_mean_that_wall_time(local: datetime, tz: ZoneInfo, sep: str) -> None:
    local = local.replace(microsecond=0)
    text = f"{local:%Y-%m-%d}{sep}{local:%H:%M:%S}"
    got = parse_time(text, NOW, tz)
    assert got.tzinfo is tz
    exists = local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local
    if exists:
        assert got.replace(tzinfo=None) == local
        assert got.utcoffset() == local.replace(tzinfo=tz).utcoffset()  # the first occurrence
    else:  # skipped by a DST change: moved forward by the gap
        assert local < got.replace(tzinfo=None) <= local + timedelta(hours=1)


@settings(max_examples=examples(300), deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), NOWS, ZONES)
def test_dates_round_trip(day: date, now: datetime, tz: ZoneInfo) -> None:
    assert parse_date(day.isoformat(), now, tz) == day
    start = parse_time(day.isoformat(), now, tz)
    assert start.date() == day
    assert start.astimezone(UTC) <= datetime(day.year, day.month, day.day, 1, tzinfo=tz).astimezone(
        UTC
    )
