"""Outer middlewares: who is calling (role, scope, language), and remembering chats."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, Message, TelegramObject, User

from bot.access import Caller, Callers
from bot.directory import Directory
from bot.i18n import Translator
from storage.chats import ChatRepo
from storage.roles import RoleRepo
from storage.users import UserRepo

log = logging.getLogger(__name__)

RECORD_EVERY_S = 600.0
"""How often an unchanged chat or user is written again (their `last_seen`, `updated_at`)."""


class ContextMiddleware(BaseMiddleware):
    """Puts `caller` (a `Caller`), `lang` and `t` (the translator) into every update's data.

    In a group chat each member acts with their own role.
    """

    def __init__(
        self,
        *,
        admin_ids: frozenset[int],
        default_lang: str,
        roles: RoleRepo,
        users: UserRepo,
        chats: ChatRepo,
        directory: Directory,
        translator: Translator,
    ) -> None:
        self._default_lang = default_lang
        self._callers = Callers(roles, users, admin_ids, directory.subtree, default_lang)
        self._users = users
        self._chats = chats
        self._translator = translator
        self._recorded: dict[tuple[str, int], tuple[tuple[object, ...], float]] = {}

    def _due(self, key: tuple[str, int], values: tuple[object, ...]) -> bool:
        """Whether a chat or user should be written again: at once when its names differ
        from those last written, else every `RECORD_EVERY_S` — not on every update, which
        cost most of a command's storage trips."""
        last = self._recorded.get(key)
        return last is None or last[0] != values or time.monotonic() - last[1] >= RECORD_EVERY_S

    def _wrote(self, key: tuple[str, int], values: tuple[object, ...]) -> None:
        if len(self._recorded) > 50_000:
            self._recorded.clear()
        self._recorded[key] = (values, time.monotonic())

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if chat is not None:
            title = chat.title or chat.full_name
            if self._due(("chat", chat.id), (chat.type, title)):
                await self._chats.upsert(chat.id, chat.type, title)
                self._wrote(("chat", chat.id), (chat.type, title))
        if user is None or user.is_bot:
            # No person to judge: a group's anonymous admin (sent as the group), a channel,
            # another bot. Roles belong to people, so nothing is handled; a command gets one
            # line saying why, in the bridge's language.
            message: Message | None = getattr(event, "message", None)
            if message is not None and (message.text or message.caption or "").startswith("/"):
                t = self._translator.get(self._default_lang)
                await message.answer(t("anonymous-sender"))
            return None
        names = (user.username, user.full_name, user.language_code)
        if self._due(("user", user.id), names):
            await self._users.seen(user.id, *names)
            self._wrote(("user", user.id), names)
        caller = await self.caller_of(user)
        data["caller"] = caller
        data["lang"] = caller.lang
        data["t"] = self._translator.get(caller.lang)
        return await handler(event, data)

    async def caller_of(self, user: User) -> Caller:
        return await self._callers.of(user.id, user.language_code)
