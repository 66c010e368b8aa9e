"""Outgoing flood control: one limiter for everything the bot sends.

A session middleware (`bot.session.middleware(FloodControl(...))`) shapes every
Bot API call that sends or edits a message to `BRIDGE_RATE_*`: a global rate, a
per-chat rate, and a per-minute rate for group chats (an `ArrivalBucket`, charged
when Telegram answers, so a slow answer never lets one message too many into a
group's minute). A 429 that still comes
pauses *all* sends for `retry_after` and the call is repeated; server (5xx) and
network errors are retried a bounded number of times with backoff.
`answerCallbackQuery` is never retried: a late answer is useless and a
duplicate is an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods.base import TelegramType
from aiolimiter import AsyncLimiter

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

_SHAPED_PREFIXES = ("send", "edit", "copy", "forward", "stopmessagelivelocation")
_UNSHAPED = {"sendchataction"}
_NEVER_RETRY = {"answercallbackquery", "getupdates"}


class ArrivalBucket:
    """A leaky bucket charged when a send is *answered*, not when it starts.

    Telegram counts a group's messages when they arrive; the bridge cannot know that
    moment, only that it lies before the answer. So a send in flight counts as a full
    unit that does not leak yet, and is charged (starts leaking) when its answer comes.
    The bucket the bridge keeps is then never emptier than Telegram's, whatever the
    latency, and the long-run rate is still `capacity` per `period`. (Charging when a
    send starts, as a plain limiter does, lets a slow answer slip one message into a
    window Telegram sees as full: a 429 at a sustained per-group rate.)
    """

    def __init__(
        self, capacity: float, period: float, clock: Callable[[], float] | None = None
    ) -> None:
        self.capacity = capacity
        self.rate = capacity / period
        self.level = 0.0
        self.stamp = 0.0
        self.in_flight = 0
        self._clock = clock
        self._changed = asyncio.Event()

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def _leak(self, now: float) -> None:
        if now > self.stamp:
            self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
            self.stamp = now

    def try_acquire(self, units: int = 1) -> float | None:
        """Take room for `units` messages (an album is one per item) and return 0, or
        return how long to wait before asking again (None: until a send in flight is
        answered)."""
        units = max(1, min(units, int(self.capacity)))
        self._leak(self._now())
        missing = units - (self.capacity - self.level - self.in_flight)
        if missing <= 0:
            self.in_flight += units
            return 0.0
        # Leaking alone makes room when enough is charged; otherwise a send must end.
        return missing / self.rate if self.level >= missing else None

    async def acquire(self, units: int = 1) -> int:
        """Wait for room for `units` messages; the caller must `release()` what this
        returns afterwards."""
        while (wait := self.try_acquire(units)) != 0.0:
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await changed.wait()
        return max(1, min(units, int(self.capacity)))

    def release(self, units: int = 1) -> None:
        """The send was answered (or failed, or was cancelled): charge it now."""
        self._leak(self._now())
        self.in_flight -= units
        self.level += units
        self._changed.set()
        self._changed = asyncio.Event()


class FloodControl(BaseRequestMiddleware):
    """Rate limits, a shared pause on `retry_after`, and bounded retries."""

    def __init__(
        self,
        rate_global: float,
        rate_per_chat: float,
        rate_per_group_min: float,
        *,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._global = AsyncLimiter(rate_global, 1.0)
        self._rate_chat = rate_per_chat
        self._rate_group = rate_per_group_min
        self._chats: OrderedDict[int | str, AsyncLimiter] = OrderedDict()
        self._groups: OrderedDict[int | str, ArrivalBucket] = OrderedDict()
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._resume = asyncio.Event()
        self._resume.set()
        self._on_event = on_event or (lambda _kind: None)

    def _limiter(
        self,
        table: OrderedDict[int | str, AsyncLimiter],
        key: int | str,
        rate: float,
        period: float,
    ) -> AsyncLimiter:
        lim = table.get(key)
        if lim is None:
            lim = table[key] = AsyncLimiter(rate, period)
            if len(table) > 10_000:  # forget the least recently used chats
                table.popitem(last=False)
        else:
            table.move_to_end(key)
        return lim

    def _group(self, chat_id: Any) -> ArrivalBucket | None:
        if chat_id is None or not _is_group(chat_id):
            return None
        bucket = self._groups.get(chat_id)
        if bucket is None:
            bucket = self._groups[chat_id] = ArrivalBucket(self._rate_group, 60.0)
            if len(self._groups) > 10_000:  # forget the least recently used groups
                oldest = next(iter(self._groups))
                if self._groups[oldest].in_flight == 0:
                    del self._groups[oldest]
        else:
            self._groups.move_to_end(chat_id)
        return bucket

    async def _acquire(self, chat_id: Any) -> None:
        await self._resume.wait()
        if chat_id is not None:
            await self._limiter(self._chats, chat_id, self._rate_chat, 1.0).acquire()
        await self._global.acquire()
        await self._resume.wait()

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
        attempt = 0
        while True:
            group = self._group(chat_id) if shaped else None
            try:
                taken = await group.acquire(_messages_in(method)) if group is not None else 0
                try:
                    if shaped:
                        await self._acquire(chat_id)
                    result = await make_request(bot, method)
                finally:
                    if group is not None:
                        group.release(taken)
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


def _messages_in(method: Any) -> int:
    """How many messages a call puts in the chat: an album, one per item."""
    media = getattr(method, "media", None)
    return len(media) if isinstance(media, list) else 1


def _is_group(chat_id: Any) -> bool:
    # Group and supergroup ids are negative; channels' "@name" also counts as a group.
    if isinstance(chat_id, int):
        return chat_id < 0
    return isinstance(chat_id, str) and (chat_id.startswith("-") or chat_id.startswith("@"))
