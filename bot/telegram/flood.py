"""Outgoing flood control: one limiter for everything the bot sends.

A session middleware (`bot.session.middleware(FloodControl(...))`) shapes every Bot API
call that sends or edits a message to `BRIDGE_RATE_*` in the strictest reading Telegram
might apply (it publishes no algorithm): at most N sends in *every* sliding window —
`rate_global` in any second, `rate_per_chat` to one chat in any second, and
`rate_per_group_min` to one group chat in any minute. A token bucket is not enough: it
lets a full burst and then its refill into the same minute. Each window is a
`SlidingWindow`, which dates a send by its answer (see there). An album counts one message
per item in the global and group windows, as Telegram counts it.

Replies to users without a role yield to everything else (relayed and scheduled messages,
replies to users with a role): sends made under `low_priority()` wait behind any other send
waiting for the same window, and take a group's minute only while a quarter of it stays
free for the rest. A stranger's forty "you have no access" replies never stand between an
incident and its group.

A 429 that still comes pauses *all* sends for `retry_after` and the call is repeated;
server (5xx) and network errors are retried a bounded number of times with backoff.
`answerCallbackQuery` is neither shaped nor retried: it does not count in Telegram's
limits, a late answer is useless and a duplicate is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

_SHAPED_PREFIXES = ("send", "edit", "copy", "forward", "stopmessagelivelocation")
_UNSHAPED = {"sendchataction"}
_NEVER_RETRY = {"answercallbackquery", "getupdates"}
MAX_WINDOWS = 10_000
"""Windows kept per table (chats, groups); the least recently used empty ones go first."""

_low: ContextVar[bool] = ContextVar("pttbridge_flood_low_priority", default=False)


@contextlib.contextmanager
def low_priority() -> Iterator[None]:
    """Sends made inside (and in tasks started inside) yield to all other sends.

    For replies to users without a role: relayed and scheduled messages come first when
    a window is short.
    """
    token = _low.set(True)
    try:
        yield
    finally:
        _low.reset(token)


def is_low_priority() -> bool:
    return _low.get()


class SlidingWindow:
    """At most `limit` sends in any `period` seconds, as Telegram may count them.

    Telegram counts a message when it arrives, a moment the bridge cannot know — only that
    it lies between the start of the call and its answer. So a send holds its place in the
    window from its start (in flight) and is dated by its answer: a new send is admitted
    when fewer than `limit` sends are in flight or were answered less than `period` ago.
    It then starts, hence arrives, at least `period` after the answer, hence the arrival,
    of the send whose place it takes, whatever the latency. (Dating a send by its start,
    as a plain limiter does, lets a slow answer slip one message into a window Telegram
    sees as full.)

    Sends with `low=True` wait while any other send waits here, and leave `reserve`
    places free for the others.
    """

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        reserve: int = 0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.limit = max(1, int(limit))
        self.period = period
        self.reserve = max(0, min(reserve, self.limit - 1))
        self.in_flight = 0
        self.answered: deque[float] = deque()  # answer times inside the window, oldest first
        self._urgent = 0  # sends without low priority waiting for a place
        self._clock = clock
        self._sleep = sleep
        self._changed = asyncio.Event()

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def _expire(self, now: float) -> None:
        horizon = now - self.period
        answered = self.answered
        while answered and answered[0] <= horizon:
            answered.popleft()

    def used(self) -> int:
        """Places taken now: sends in flight and sends answered within the window."""
        self._expire(self._now())
        return self.in_flight + len(self.answered)

    def idle(self) -> bool:
        """Nothing in the window, nobody waiting: forgetting it loses nothing."""
        return self.used() == 0 and self._urgent == 0

    def units(self, units: int, *, low: bool = False) -> int:
        """How many places a send of `units` messages takes (never more than fit)."""
        return max(1, min(units, self.limit - (self.reserve if low else 0)))

    def try_acquire(self, units: int = 1, *, low: bool = False) -> float | None:
        """Take places for `units` messages and return 0, or return how long to wait
        before asking again (None: until a send in flight is answered or a waiter served).
        """
        units = self.units(units, low=low)
        if low and self._urgent:
            return None
        now = self._now()
        self._expire(now)
        room = self.limit - (self.reserve if low else 0)
        over = self.in_flight + len(self.answered) + units - room
        if over <= 0:
            self.in_flight += units
            return 0.0
        if over <= len(self.answered):  # the `over` oldest answers must leave the window
            return max(self.answered[over - 1] + self.period - now, 1e-6)
        return None

    async def acquire(self, units: int = 1, *, low: bool = False) -> int:
        """Wait for places for `units` messages; `release()` (or `cancel()`) what this
        returns afterwards."""
        if not low:
            self._urgent += 1
        try:
            while (wait := self.try_acquire(units, low=low)) != 0.0:
                await self._wait(wait)
        finally:
            if not low:
                self._urgent -= 1
                if not self._urgent:
                    self._notify()  # sends with low priority may go now
        return self.units(units, low=low)

    async def _wait(self, seconds: float | None) -> None:
        changed = self._changed
        if seconds is None:
            await changed.wait()
        elif self._sleep is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await changed.wait()
        else:  # an injected clock: its sleep, or a change, whichever comes first
            waits = {
                asyncio.ensure_future(changed.wait()),
                asyncio.ensure_future(self._sleep(seconds)),
            }
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    def release(self, units: int = 1) -> None:
        """The send was answered (or failed, or was cancelled mid-way): date it now."""
        now = self._now()
        self.in_flight -= units
        self.answered.extend([now] * units)
        self._notify()

    def cancel(self, units: int = 1) -> None:
        """The places were taken but nothing was sent: give them back undated."""
        self.in_flight -= units
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def _window_for(rate: float, period: float) -> tuple[int, float]:
    """`rate` messages per `period` as whole messages per window: 25.5/s holds as 25/s,
    0.5/s as 1 per 2 s."""
    if rate >= 1:
        return math.floor(rate), period
    return 1, period / rate


class FloodControl(BaseRequestMiddleware):
    """Sliding-window rate limits with priorities, a shared pause on `retry_after`, and
    bounded retries."""

    def __init__(
        self,
        rate_global: float,
        rate_per_chat: float,
        rate_per_group_min: float,
        *,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._global_spec = _window_for(rate_global, 1.0)
        self._chat_spec = _window_for(rate_per_chat, 1.0)
        self._group_spec = _window_for(rate_per_group_min, 60.0)
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._resume = asyncio.Event()
        self._resume.set()
        self._on_event = on_event or (lambda _kind: None)
        self.use_clock(clock, sleep)

    def use_clock(
        self,
        clock: Callable[[], float] | None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Measure windows with `clock` and wait with `sleep` (None: the event loop's
        time): a test or a bench can run time faster. Forgets past sends."""
        self._clock = clock
        self._sleep = sleep
        self._window_sleep = sleep if clock is not None else None
        self._global = self._window(self._global_spec)
        self._chats: OrderedDict[int | str, SlidingWindow] = OrderedDict()
        self._groups: OrderedDict[int | str, SlidingWindow] = OrderedDict()

    def _window(self, spec: tuple[int, float], reserve: int = 0) -> SlidingWindow:
        limit, period = spec
        return SlidingWindow(
            limit, period, reserve=reserve, clock=self._clock, sleep=self._window_sleep
        )

    def _get(
        self, table: OrderedDict[int | str, SlidingWindow], key: int | str, group: bool
    ) -> SlidingWindow:
        window = table.get(key)
        if window is not None:
            table.move_to_end(key)
            return window
        spec = self._group_spec if group else self._chat_spec
        # A group's minute keeps a quarter free for all but replies to users without a role.
        window = table[key] = self._window(spec, reserve=spec[0] // 4 if group else 0)
        while len(table) > MAX_WINDOWS:  # forget the least recently used, if empty
            oldest_key, oldest = next(iter(table.items()))
            if not oldest.idle():
                break
            del table[oldest_key]
        return window

    def windows(self, chat_id: Any, units: int) -> list[tuple[SlidingWindow, int]]:
        """The windows a send to `chat_id` must fit in, the longest wait first (a place
        held while waiting for the next is a place others cannot use)."""
        out: list[tuple[SlidingWindow, int]] = []
        if chat_id is not None:
            if _is_group(chat_id):
                out.append((self._get(self._groups, chat_id, True), units))
            out.append((self._get(self._chats, chat_id, False), 1))
        out.append((self._global, units))
        return out

    async def _pause(self, seconds: float) -> None:
        if self._resume.is_set():
            self._resume.clear()
            log.warning("Telegram asked to slow down: pausing all sends for %.0f s", seconds)
            try:
                await self._sleep(seconds)
            finally:
                self._resume.set()
        else:
            await self._resume.wait()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = type(method).__name__.lower()
        shaped = name.startswith(_SHAPED_PREFIXES) and name not in _UNSHAPED
        retry = name not in _NEVER_RETRY
        chat_id = getattr(method, "chat_id", None)
        low = _low.get()
        attempt = 0
        while True:
            try:
                result = await self._send(make_request, bot, method, chat_id, shaped, low)
                if shaped:
                    self._on_event("sent")
                return result
            except TelegramRetryAfter as exc:
                self._on_event("429")
                if not retry or attempt >= self._max_retries:
                    raise
                await self._pause(float(exc.retry_after))
            except (TelegramServerError, TelegramNetworkError):
                if not retry or attempt >= self._max_retries:
                    self._on_event("failed")
                    raise
                self._on_event("retried")
                await self._sleep(min(self._backoff_s * 2**attempt, 10.0))
            attempt += 1

    async def _send(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
        chat_id: Any,
        shaped: bool,
        low: bool,
    ) -> Response[TelegramType]:
        """One attempt: a place in every window, the call, the places dated by its end."""
        if not shaped:
            return await make_request(bot, method)
        taken: list[tuple[SlidingWindow, int]] = []
        started = False
        try:
            await self._resume.wait()
            for window, units in self.windows(chat_id, _messages_in(method)):
                taken.append((window, await window.acquire(units, low=low)))
            await self._resume.wait()
            started = True
            return await make_request(bot, method)
        finally:
            for window, units in taken:
                if started:
                    window.release(units)
                else:
                    window.cancel(units)


def _messages_in(method: Any) -> int:
    """How many messages a call puts in the chat: an album, one per item."""
    media = getattr(method, "media", None)
    return len(media) if isinstance(media, list) else 1


def _is_group(chat_id: Any) -> bool:
    # Group and supergroup ids are negative; channels' "@name" also counts as a group.
    if isinstance(chat_id, int):
        return chat_id < 0
    return isinstance(chat_id, str) and (chat_id.startswith("-") or chat_id.startswith("@"))
