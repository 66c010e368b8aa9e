"""Outgoing flood control: one limiter for everything the bot sends.

A session middleware (`bot.session.middleware(FloodControl(...))`) shapes every
Bot API call that sends or edits a message to `BRIDGE_RATE_*`: a global rate, a
per-chat rate, and a per-minute rate for group chats. A 429 that still comes
pauses *all* sends for `retry_after` and the call is repeated; server (5xx) and
network errors are retried a bounded number of times with backoff.
`answerCallbackQuery` is never retried: a late answer is useless and a
duplicate is an error.
"""

from __future__ import annotations

import asyncio
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
        self._groups: OrderedDict[int | str, AsyncLimiter] = OrderedDict()
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

    async def _acquire(self, chat_id: Any) -> None:
        await self._resume.wait()
        if chat_id is not None:
            if _is_group(chat_id):
                await self._limiter(self._groups, chat_id, self._rate_group, 60.0).acquire()
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
            if shaped:
                await self._acquire(chat_id)
            try:
                result = await make_request(bot, method)
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


def _is_group(chat_id: Any) -> bool:
    # Group and supergroup ids are negative; channels' "@name" also counts as a group.
    if isinstance(chat_id, int):
        return chat_id < 0
    return isinstance(chat_id, str) and (chat_id.startswith("-") or chat_id.startswith("@"))
