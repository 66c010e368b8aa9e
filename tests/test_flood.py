"""bot/flood.py: the per-group bucket is charged when a send is answered, not when it starts."""

from __future__ import annotations

import asyncio

import pytest

from bot.flood import ArrivalBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_slow_answer_moves_the_next_window_later_than_a_start_charged_limiter() -> None:
    clock = Clock()
    bucket = ArrivalBucket(1, 60.0, clock)  # one message a minute
    assert bucket.try_acquire() == 0.0
    clock.now += 10  # Telegram answers 10 s later: it counted the message somewhere before
    bucket.release()
    clock.now += 59  # 69 s after the send started; a plain limiter would let one through
    wait = bucket.try_acquire()
    assert wait == pytest.approx(1.0)
    clock.now += 1
    assert bucket.try_acquire() == 0.0


def test_sends_in_flight_count_as_full_until_they_are_answered() -> None:
    clock = Clock()
    bucket = ArrivalBucket(2, 60.0, clock)
    assert bucket.try_acquire() == 0.0
    assert bucket.try_acquire() == 0.0
    clock.now += 600  # however long: nothing leaks while the answers are outstanding
    assert bucket.try_acquire() is None
    bucket.release()
    assert bucket.try_acquire() == pytest.approx(30.0)  # one charged unit must leak first
    clock.now += 30
    assert bucket.try_acquire() == 0.0
    assert bucket.in_flight == 2


def test_the_long_run_rate_is_the_configured_one() -> None:
    clock = Clock()
    bucket = ArrivalBucket(20, 60.0, clock)
    sent = 0
    while clock.now < 1000.0 + 600:  # ten minutes, answers instant
        if bucket.try_acquire() == 0.0:
            bucket.release()
            sent += 1
        else:
            clock.now += 0.5
    assert 200 <= sent <= 220  # 20 at once, then 20 a minute


async def test_a_waiter_wakes_when_a_send_in_flight_is_answered() -> None:
    bucket = ArrivalBucket(1, 0.001)  # leaks at once after the answer
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()  # in flight: no room, however much time passes
    bucket.release()
    await asyncio.wait_for(waiter, 5)
    assert bucket.in_flight == 1


async def test_a_cancelled_waiter_takes_no_room() -> None:
    bucket = ArrivalBucket(1, 60.0)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bucket.in_flight == 1


async def test_a_failed_or_cancelled_send_gives_its_group_unit_back_charged() -> None:
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.methods import SendMessage

    from bot.flood import FloodControl

    flood = FloodControl(100, 100, 20)
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
    bucket = flood._groups[-100123]
    assert bucket.in_flight == 0
    assert bucket.level == pytest.approx(2.0, abs=0.01)


def test_an_album_takes_one_unit_per_item() -> None:
    clock = Clock()
    bucket = ArrivalBucket(20, 60.0, clock)
    assert bucket.try_acquire(10) == 0.0
    bucket.release(10)
    assert bucket.try_acquire(10) == 0.0
    bucket.release(10)
    wait = bucket.try_acquire(1)  # twenty messages counted: the twenty-first waits
    assert wait == pytest.approx(3.0)
