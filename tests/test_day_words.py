"""/track takes the day words /recordings takes (#14 point 6): 今天, 昨天, 前天, today,
yesterday — alone a whole day, followed by a time of day that moment.

The parser as a unit; then /track through the Telegram emulator and the sandbox platform,
both standing still at the sandbox's fixed now, checked by what the bridge asked the
platform for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import SANDBOX_NOW

from bot.demo.stack import Stack
from bot.parsing.timeexpr import TimeExprError, parse_date, parse_range, parse_time
from bot.sandbox.data import local_day_start_ms
from bot.sandbox.platform import SandboxPlatform

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 15, 21, tzinfo=TZ)


def at(d: date, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=TZ)


TODAY = NOW.date()
YESTERDAY = TODAY - timedelta(days=1)


@pytest.mark.parametrize(
    ("word", "days_ago"),
    [("今天", 0), ("today", 0), ("TODAY", 0), ("昨天", 1), ("yesterday", 1), ("前天", 2)],
)
def test_a_day_word_alone_is_that_whole_day(word: str, days_ago: int) -> None:
    day = TODAY - timedelta(days=days_ago)
    assert parse_date(word, NOW, TZ) == day  # what /recordings takes
    start, end = parse_range([word], NOW, TZ)
    assert start == at(day)
    assert end == (NOW if days_ago == 0 else at(day + timedelta(days=1)))


def test_day_words_with_times_and_as_the_end() -> None:
    assert parse_range(["昨天", "08:00"], NOW, TZ) == (at(YESTERDAY, 8), NOW)
    both = parse_range(["昨天 08:00", "今天 09:30"], NOW, TZ)
    assert both == (at(YESTERDAY, 8), at(TODAY, 9, 30))
    assert parse_range(["yesterday", "12:00", "today", "06:00"], NOW, TZ) == (
        at(YESTERDAY, 12),
        at(TODAY, 6),
    )
    # A day word as the end means the end of that day, as a date does.
    assert parse_range(["前天", "昨天"], NOW, TZ) == (at(TODAY - timedelta(days=2)), at(TODAY))
    assert parse_time("昨天", NOW, TZ) == at(YESTERDAY)


def test_day_words_still_refuse_what_makes_no_sense() -> None:
    with pytest.raises(TimeExprError) as err:
        parse_range(["今天", "昨天"], NOW, TZ)
    assert err.value.reason == "order"
    with pytest.raises(TimeExprError) as err:
        parse_range(["明天"], NOW, TZ)
    assert err.value.reason == "unparseable"
    with pytest.raises(TimeExprError) as err:
        parse_range(["昨天", "25:00"], NOW, TZ)
    assert err.value.reason == "unparseable"


MakeStack = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def stack(make_bot_stack: MakeStack) -> Stack:
    sandbox = SandboxPlatform(now=lambda: SANDBOX_NOW)
    return await make_bot_stack(sandbox=sandbox, clock=lambda: SANDBOX_NOW)


@pytest.mark.parametrize("word", ["昨天", "yesterday"])
async def test_track_takes_a_day_word_as_that_whole_day(stack: Stack, word: str) -> None:
    day = stack.platform.data.today() - timedelta(days=1)
    msgs = await stack.say("supervisor", f"/track zhangsan01 {word}")
    request = stack.platform.requests_to("/location/trackPlayback")[-1].json
    start_ms = local_day_start_ms(day)
    assert (request["startTimestamp"], request["endTimestamp"]) == (
        start_ms,
        start_ms + 24 * 3_600_000,
    )
    assert [m.kind for m in msgs] == ["photo", "document"]
    assert f"{day.isoformat()} 00:00" in msgs[0].plain_text()


async def test_track_takes_a_day_word_with_a_time(stack: Stack) -> None:
    day = stack.platform.data.today()
    await stack.say("supervisor", "/track zhangsan01 今天 06:00 今天 07:00")
    request = stack.platform.requests_to("/location/trackPlayback")[-1].json
    start_ms = local_day_start_ms(day) + 6 * 3_600_000
    assert (request["startTimestamp"], request["endTimestamp"]) == (
        start_ms,
        start_ms + 3_600_000,
    )
