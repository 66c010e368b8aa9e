"""Access filters for routers: `router.message.filter(MinRole(Role.VIEWER))`.

Also the one rule for changing what a chat receives (`ChatManager`, and what a scoped
person may replace: `within`), and whose buttons a request's are (`asker_only`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiogram import Bot, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Filter
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject

from bot.access import Caller
from bot.render.replies import Reply, T
from handlers.reply import answer
from storage.roles import Role

Middleware = Callable[
    [Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]], TelegramObject, dict[str, Any]],
    Awaitable[Any],
]


class MinRole(Filter):
    """Passes when the caller's role is at least `role`."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, event: Any, caller: Caller | None = None) -> bool:
        return caller is not None and caller.role >= self.role


async def administers(bot: Bot, chat: Chat, user_id: int) -> bool:
    """Whether the user is an administrator of the chat, as Telegram says now (a private
    chat: whether it is theirs)."""
    if chat.type == ChatType.PRIVATE:
        return chat.id == user_id
    try:
        member = await bot.get_chat_member(chat.id, user_id)
    except TelegramBadRequest:  # not a member (any more), or a chat the bot cannot see
        return False
    return member.status in (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR)


def _chat_of(event: Message | CallbackQuery) -> Chat | None:
    if isinstance(event, Message):
        return event.chat
    return event.message.chat if event.message is not None else None


class ChatManager(Filter):
    """Who may change what a chat (or forum topic) receives: every command that does
    (/subscribe, /unsubscribe, /watch, /unwatch, /report daily|off, /mute, and the buttons
    that finish them) and the listing of it (/subscriptions).

    A bridge admin always may; anyone else needs at least `role` and, in a group, to be an
    administrator of that group. Whoever fails for want of being a group administrator is
    told so by the handler `chat_change_refused(role)` registered after the guarded ones.
    """

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(
        self, event: Message | CallbackQuery, bot: Bot, caller: Caller | None = None
    ) -> bool:
        if caller is None or caller.role < self.role:
            return False
        if caller.role >= Role.ADMIN:
            return True
        chat = _chat_of(event)
        return chat is not None and await administers(bot, chat, caller.user_id)


def chat_change_refused(role: Role) -> Callable[..., Awaitable[None]]:
    """A handler for what `ChatManager(role)` refused (register it after the guarded
    handlers, with the same command or button filter and the role): says who may."""

    async def refuse(event: Message | CallbackQuery, t: T) -> None:
        role_name = t(f"role-{role.label}")
        if isinstance(event, CallbackQuery):
            await event.answer(t.plain("chat-admin-only", role=role_name), show_alert=True)
        else:
            await answer(event, Reply(t("chat-admin-only", role=role_name)))

    return refuse


def within(
    scope: frozenset[int] | None,
    *,
    orgs: Iterable[int | None] = (),
    scope_org: int | None = None,
    named: bool = False,
) -> bool:
    """Whether a chat's setting reaches only inside `scope` (a caller's org subtree; None:
    everything): what a scoped person may replace or remove.

    `orgs` are the setting's org filter (empty, or None among them: every org);
    `scope_org` the subtree its maker could see, which bounds it whatever it names;
    `named` says it names users or talk groups (wherever they are) besides its orgs.
    """
    if scope is None:
        return True
    if scope_org is not None:
        return scope_org in scope
    listed = list(orgs)
    if named or not listed:
        return False
    return all(o is not None and o in scope for o in listed)


# -- whose buttons ----------------------------------------------------------------------
#
# In a group, the buttons of a request (choices for an ambiguous name, /groups pages, an
# /online view's Refresh, a /where list's pins, ...) answer only whoever made it: anyone
# else pressing them would act on someone else's request (and edit their message). The
# bridge remembers who asked, per message it sent with buttons, in the FSM storage (so
# it outlives a restart) under its own destiny: one record per chat, the newest kept.
# A message it has no record of (sent before this, or by a feature that does not record)
# answers whoever presses, with their own role and scope — as their own command would.

ASKERS = "button-askers"
ASKERS_KEPT = 500


def _askers_key(bot_id: int, chat_id: int) -> StorageKey:
    # One record per chat: FSMStrategy.CHAT's key (the chat id in place of a user's).
    return StorageKey(bot_id=bot_id, chat_id=chat_id, user_id=chat_id, destiny=ASKERS)


async def remember_asker(storage: BaseStorage, sent: Message, user_id: int) -> None:
    """Record that the buttons of `sent` (the bridge's message: its buttons now, or those
    an edit gives it later) answer `user_id` only."""
    if sent.chat.type == ChatType.PRIVATE or sent.bot is None:
        return  # a private chat has one person in it
    key = _askers_key(sent.bot.id, sent.chat.id)
    askers = await storage.update_data(key, {str(sent.message_id): user_id})
    if len(askers) > ASKERS_KEPT + 50:
        newest = sorted(askers, key=int)[-ASKERS_KEPT:]
        await storage.set_data(key, {k: askers[k] for k in newest})


async def asker_of(storage: BaseStorage, bot_id: int, chat_id: int, message_id: int) -> int | None:
    """Who the buttons of that message answer; None: not recorded."""
    askers = await storage.get_data(_askers_key(bot_id, chat_id))
    asker = askers.get(str(message_id))
    return asker if isinstance(asker, int) else None


async def asker_only(
    handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
    event: TelegramObject,
    data: dict[str, Any],
) -> Any:
    """Inner middleware for a router's buttons: a press on a message that answers someone
    else's request is refused (a short answer, nothing done)."""
    if isinstance(event, CallbackQuery) and event.message is not None:
        chat = event.message.chat
        storage: BaseStorage | None = data.get("fsm_storage")
        bot: Bot | None = data.get("bot")
        if chat.type != ChatType.PRIVATE and storage is not None and bot is not None:
            asker = await asker_of(storage, bot.id, chat.id, event.message.message_id)
            if asker is not None and asker != event.from_user.id:
                t: T = data["t"]
                await event.answer(t.plain("button-not-yours"), show_alert=True)
                return None
    return await handler(event, data)


def feature_router(name: str, role: Role, *middlewares: Middleware) -> Router:
    """A feature's fresh router: messages and buttons only from callers with at least
    `role`, `middlewares` on both (e.g. the lookup context), and its buttons answering,
    in a group, only whoever asked."""
    r = Router(name=name)
    r.message.filter(MinRole(role))
    r.callback_query.filter(MinRole(role))
    for m in middlewares:
        r.message.middleware(m)
        r.callback_query.middleware(m)
    r.callback_query.middleware(asker_only)
    return r
