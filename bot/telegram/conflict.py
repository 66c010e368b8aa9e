"""Two instances polling one token: Telegram answers getUpdates with 409 Conflict.

`ConflictGuard` is a session middleware that notices it and tells the root, which
stops with a clear message instead of fighting (DESIGN §6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramConflictError
from aiogram.methods import GetUpdates
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram.methods import Response, TelegramMethod


class ConflictGuard(BaseRequestMiddleware):
    """Notices a 409 Conflict on getUpdates: another instance polls this token."""

    def __init__(self, on_conflict: Callable[[str], None]) -> None:
        self._on_conflict = on_conflict

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramConflictError as exc:
            if isinstance(method, GetUpdates):
                self._on_conflict(exc.message)
            raise
