"""bot/telegram/flood.py: sliding windows held in the strictest reading, dated by the
answer; replies to users without a role yield to relayed messages. Every clock here is injected."""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendMediaGroup,
    SendMessage,
)
from aiogram.types import InputMediaPhoto
from conftest import Clock, examples
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.demo.stack import BOT_TOKEN, Stack
from bot.sandbox.telegram import FastClock, TelegramEmulator
from bot.telegram.flood import FloodControl, SlidingWindow, low_priority


class VirtualTime:
    """A clock whose `sleep` returns when every task is waiting and the clock has been
    moved to the sleeper's deadline: minutes of sends run in milliseconds, in order."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), self._seq, fut))
        self._seq += 1
        await fut

    async def run(self, aw: Awaitable[Any], *, within: float = 3600.0) -> Any:
        task = asyncio.ensure_future(aw)
        deadline = self.now + within
        for _step in range(100_000):
            for _ in range(30):  # let every task that can run, run
                await asyncio.sleep(0)
            if task.done():
                return task.result()
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)
            assert self._timers, "every task waits and no clock is set: a deadlock"
            when, _, fut = heapq.heappop(self._timers)
            if when > deadline:
                task.cancel()
                raise AssertionError(f"not done within {within:.0f} s of the virtual clock")
            self.now = max(self.now, when)
            fut.set_result(None)
        task.cancel()
        raise AssertionError("the clock was moved 100,000 times: a busy wait")


def windows_hold(times: list[float], limit: int, period: float) -> bool:
    """No window of `period` seconds (a message counts until `period` after it) holds
    more than `limit` of `times`."""
    times = sorted(times)
    return all(
        sum(1 for u in times[: i + 1] if t - period < u) <= limit for i, t in enumerate(times)
    )


# ------------------------------------------------------------------------------ the window


def test_a_send_is_dated_by_its_answer_not_its_start() -> None:
    clock = Clock()
    window = SlidingWindow(1, 60.0, clock=clock)  # one message a minute
    assert window.try_acquire() == 0.0
    clock.now += 10  # Telegram answers 10 s later: it counted the message somewhere before
    window.release()
    clock.now += 59  # 69 s after the send started; a limiter dating by start lets one in
    assert window.try_acquire() == pytest.approx(1.0)
    clock.now += 1
    assert window.try_acquire() == 0.0


def test_sends_in_flight_hold_their_place_until_they_are_answered() -> None:
    clock = Clock()
    window = SlidingWindow(2, 60.0, clock=clock)
    assert window.try_acquire() == 0.0
    assert window.try_acquire() == 0.0
    clock.now += 600  # however long: an unanswered send may still arrive
    assert window.try_acquire() is None
    window.release()
    assert window.try_acquire() == pytest.approx(60.0)  # answered just now: a full minute
    clock.now += 60
    assert window.try_acquire() == 0.0
    assert window.in_flight == 2


def test_a_full_minute_spread_out_has_no_room_until_its_first_send_is_a_minute_old() -> None:
    # The strictest reading: 20 sends one every 2 s leave a token bucket (20, 20/min)
    # room for ~13 more at 40 s; a sliding minute has none until 60 s, then one.
    clock = Clock()
    window = SlidingWindow(20, 60.0, clock=clock)
    start = clock.now
    for i in range(20):
        clock.now = start + 2 * i
        assert window.try_acquire() == 0.0
        window.release()
    clock.now = start + 40
    assert window.try_acquire() == pytest.approx(20.0)
    clock.now = start + 60
    assert window.try_acquire() == 0.0
    window.release()
    assert window.try_acquire() == pytest.approx(2.0)


def test_the_long_run_rate_is_the_configured_one() -> None:
    clock = Clock()
    window = SlidingWindow(20, 60.0, clock=clock)
    sent = 0
    while clock.now < 1000.0 + 600:  # ten minutes, answers instant
        if window.try_acquire() == 0.0:
            window.release()
            sent += 1
        else:
            clock.now += 0.5
    assert sent == 200  # 20 in each of ten minutes, not one more


def test_an_album_takes_one_place_per_item() -> None:
    clock = Clock()
    window = SlidingWindow(20, 60.0, clock=clock)
    assert window.try_acquire(10) == 0.0
    window.release(10)
    assert window.try_acquire(10) == 0.0
    window.release(10)
    assert window.try_acquire(1) == pytest.approx(60.0)  # twenty counted: the 21st waits


@settings(max_examples=examples(60), deadline=None)
@given(
    limit=st.integers(1, 20),
    sends=st.lists(
        st.tuples(
            st.floats(0, 20),  # seconds before the next attempt
            st.floats(0, 30),  # how long Telegram takes to answer
            st.floats(0, 1),  # where between start and answer it counts the message
            st.integers(1, 4),  # messages in the call (an album: one per item)
        ),
        max_size=120,
    ),
)
def test_no_window_ever_holds_more_than_its_limit_whatever_the_latency(
    limit: int, sends: list[tuple[float, float, float, int]]
) -> None:
    clock = Clock()
    window = SlidingWindow(limit, 60.0, clock=clock)
    answers: list[tuple[float, int]] = []  # (answer time, units), in flight
    arrivals: list[float] = []
    for gap, latency, where, units in sends:
        target = clock.now + gap
        for when, n in sorted(a for a in answers if a[0] <= target):
            clock.now = max(clock.now, when)
            window.release(n)
            answers.remove((when, n))
        clock.now = target
        if window.try_acquire(units) == 0.0:
            taken = window.units(units)
            answers.append((clock.now + latency, taken))
            arrivals.extend([clock.now + where * latency] * taken)
    assert windows_hold(arrivals, limit, 60.0)


# ------------------------------------------------------------------------------ the middleware


def recorder(
    vt: VirtualTime, latency: Callable[[], float] = lambda: 0.2
) -> tuple[list[tuple[Any, float, bool]], Callable[..., Awaitable[bool]]]:
    """A fake Telegram: records (chat, arrival time, low priority) and answers later."""
    arrived: list[tuple[Any, float, bool]] = []

    async def make_request(_bot: object, method: Any) -> bool:
        lat = latency()
        await vt.sleep(lat / 2)
        n = len(method.media) if isinstance(method, SendMediaGroup) else 1
        low = str(getattr(method, "text", "")).startswith("low")
        arrived.extend([(method.chat_id, vt.now, low)] * n)
        await vt.sleep(lat / 2)
        return True

    return arrived, make_request


async def test_a_burst_to_three_groups_holds_every_window() -> None:
    # The burst: 60 incidents to 3 groups at once, answers taking 0–3 s.
    vt = VirtualTime()
    rng = random.Random(12)
    flood = FloodControl(25, 1, 20, clock=vt, sleep=vt.sleep)
    arrived, make_request = recorder(vt, lambda: rng.uniform(0.0, 3.0))
    groups = [-100101, -100102, -100103]

    async def drain(chat: int) -> None:  # as the delivery worker: one send at a time
        for i in range(60):
            await flood(make_request, None, SendMessage(chat_id=chat, text=f"incident {i}"))  # type: ignore[arg-type]

    await vt.run(asyncio.gather(*(drain(g) for g in groups)))
    assert len(arrived) == 180
    for g in groups:
        times = [t for c, t, _ in arrived if c == g]
        assert windows_hold(times, 20, 60.0)
        assert windows_hold(times, 1, 1.0)
    assert windows_hold([t for _, t, _ in arrived], 25, 1.0)
    # …and not far slower than the limits allow: 60 to a group is three minutes' worth.
    assert vt.now - 1000.0 < 3 * 60 + 10


async def test_many_chats_at_once_hold_the_global_second() -> None:
    vt = VirtualTime()
    flood = FloodControl(25, 1, 20, clock=vt, sleep=vt.sleep)
    arrived, make_request = recorder(vt, lambda: 0.05)
    photos = [InputMediaPhoto(media="file-id") for _ in range(3)]

    async def one(chat: int) -> None:
        await flood(make_request, None, SendMessage(chat_id=chat, text="hi"))  # type: ignore[arg-type]
        await flood(make_request, None, SendMediaGroup(chat_id=chat, media=photos))  # type: ignore[arg-type]

    await vt.run(asyncio.gather(*(one(2000 + i) for i in range(60))))
    assert len(arrived) == 60 * 4
    assert windows_hold([t for _, t, _ in arrived], 25, 1.0)


async def test_relayed_messages_go_before_replies_to_users_without_a_role() -> None:
    vt = VirtualTime()
    flood = FloodControl(1000, 1000, 20, clock=vt, sleep=vt.sleep)
    arrived, make_request = recorder(vt)
    group = -100200

    async def send(text: str) -> None:
        await flood(make_request, None, SendMessage(chat_id=group, text=text))  # type: ignore[arg-type]

    async def stranger_replies() -> None:
        with low_priority():  # set by the throttle for an update from a user without a role
            await asyncio.gather(*(send(f"low {i}") for i in range(40)))

    async def scenario() -> None:
        strangers = asyncio.ensure_future(stranger_replies())
        for _ in range(5):
            await asyncio.sleep(0)
        await vt.sleep(0.5)  # the stranger's replies have taken what they may
        await send("incident")  # an incident arrives after them
        await strangers

    await vt.run(scenario())
    order = [low for _, _, low in arrived]
    incident = order.index(False)
    # A quarter of the group's minute is kept for all but the stranger: the incident
    # goes at once, after 15 replies, not behind all forty (two minutes later).
    assert incident == 15
    times = [t for _, t, _ in arrived]
    assert times[incident] < 1000.0 + 2
    assert windows_hold(times, 20, 60.0)


async def test_a_waiting_relay_goes_before_waiting_replies_when_the_minute_frees() -> None:
    vt = VirtualTime()
    flood = FloodControl(1000, 1000, 20, clock=vt, sleep=vt.sleep)
    arrived, make_request = recorder(vt)
    group = -100201

    async def send(text: str) -> None:
        await flood(make_request, None, SendMessage(chat_id=group, text=text))  # type: ignore[arg-type]

    async def scenario() -> None:
        await asyncio.gather(*(send(f"incident {i}") for i in range(20)))  # the minute is full
        with low_priority():
            replies = asyncio.ensure_future(asyncio.gather(*(send(f"low {i}") for i in range(5))))
        for _ in range(5):
            await asyncio.sleep(0)
        await vt.sleep(1)
        await asyncio.gather(send("incident late"), replies)

    await vt.run(scenario())
    texts = [low for _, _, low in arrived]
    assert texts[:20] == [False] * 20
    assert texts[20] is False  # waited less long than the replies, went first all the same
    assert texts[21:] == [True] * 5


async def test_callback_answers_are_never_held_by_a_full_group() -> None:
    vt = VirtualTime()
    flood = FloodControl(1000, 1000, 1, clock=vt, sleep=vt.sleep)
    calls: list[str] = []

    async def make_request(_bot: object, method: Any) -> bool:
        calls.append(type(method).__name__)
        return True

    async def scenario() -> None:
        await flood(make_request, None, SendMessage(chat_id=-100300, text="x"))  # type: ignore[arg-type]
        edit = asyncio.ensure_future(
            flood(make_request, None, EditMessageText(chat_id=-100300, message_id=1, text="y"))  # type: ignore[arg-type]
        )
        with low_priority():
            await flood(make_request, None, AnswerCallbackQuery(callback_query_id="1"))  # type: ignore[arg-type]
        assert calls == ["SendMessage", "AnswerCallbackQuery"]  # at once, same instant
        assert vt.now == 1000.0
        await edit

    await vt.run(scenario())
    assert calls[-1] == "EditMessageText"
    assert vt.now >= 1060.0


async def test_a_cancelled_waiter_takes_no_room() -> None:
    window = SlidingWindow(1, 60.0)
    await window.acquire()
    waiter = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert window.in_flight == 1


async def test_a_waiter_wakes_when_a_send_in_flight_is_answered() -> None:
    window = SlidingWindow(1, 0.001)  # a place is free at once after the answer
    await window.acquire()
    waiter = asyncio.create_task(window.acquire())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()  # in flight: no room, however much time passes
    window.release()
    await asyncio.wait_for(waiter, 5)
    assert window.in_flight == 1


async def test_a_failed_or_cancelled_send_gives_its_places_back_dated() -> None:
    from aiogram.exceptions import TelegramBadRequest

    clock = Clock()
    flood = FloodControl(100, 100, 20, clock=clock)
    method = SendMessage(chat_id=-100123, text="x")

    async def refused(_bot: object, m: SendMessage) -> object:
        raise TelegramBadRequest(method=m, message="Bad Request: chat not found")

    with pytest.raises(TelegramBadRequest):
        await flood(refused, None, method)  # type: ignore[arg-type]
    started = asyncio.Event()

    async def hangs(_bot: object, _m: SendMessage) -> object:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    task = asyncio.create_task(flood(hangs, None, method))  # type: ignore[arg-type]
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [group, _chat, _global] = flood.windows(-100123, 1)
    assert group[0].in_flight == 0
    assert group[0].used() == 2  # a call that may have reached Telegram counts


# ------------------------------------------------------------------------------ the real stack


async def test_a_burst_of_60_incidents_to_3_groups_draws_no_429_from_a_sliding_window_telegram(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    # The case, through the whole bridge and the emulator counting Telegram's
    # limits in sliding windows (30 in any second, 20 to a group in any minute), with the
    # bridge at its defaults. Three minutes of each group's limit pass in seconds: both
    # sides read one clock that runs 60 times faster than real time (latencies too).
    fast = FastClock(speed=60)
    emu = TelegramEmulator(BOT_TOKEN, flood_limits=True, clock=fast)
    stack = await make_bot_stack(flood_limits=True, rates=(25.0, 1.0, 20.0), emulator=emu)
    assert stack.bridge is not None
    stack.bridge.flood.use_clock(fast, fast.sleep)
    groups = [-100401, -100402, -100403]
    for g in groups:
        stack.add_group(g, f"Team {g}")
        await stack.bridge.repos.subscriptions.set(g, 0, "incidents")
    for _ in range(60):
        body = stack.platform.make_report(urls=[])
        status, _answer = await stack.platform_event("report", body)
        assert status == 200
    for g in groups:
        await emu.wait_for(lambda g=g: len(emu.messages(g)) >= 60, 60)

    sends = [c for c in emu.calls_to("sendMessage") if c.params.get("chat_id") in groups]
    assert [c for c in sends if c.status == 429] == []
    for g in groups:
        times = [c.time for c in sends if c.params.get("chat_id") == g and c.ok]
        assert len(times) == 60
        assert windows_hold(times, 20, 60.0)
