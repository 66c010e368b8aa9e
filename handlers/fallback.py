"""The catch-all: what was not handled gets a clear answer (denied, unknown, or help)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message

from bot.access import Caller
from bot.render.replies import Reply, T
from bot.telegram.commands import BY_NAME
from handlers.reply import answer
from storage.roles import Role


# A caption is a command too (a file sent with "/register"): aiogram's Command filter
# reads captions, so a router refusing one must get the same answer as for a text.
async def command_fallback(message: Message, caller: Caller, t: T) -> None:
    word = (message.text or message.caption or "/").split()[0][1:]
    name, _, mention = word.partition("@")
    me = await message.bot.me() if message.bot else None
    if mention and me is not None and mention.lower() != (me.username or "").lower():
        return  # a command meant for another bot in this group
    cmd = BY_NAME.get(name.lower())
    if caller.role is Role.NONE:
        await answer(message, Reply(t("help-unknown", id=caller.user_id)))
    elif cmd is not None and caller.role < cmd.role:
        await answer(message, Reply(t("denied", role=t(f"role-{cmd.role.label}"))))
    else:
        await answer(message, Reply(t("unknown-command", command=name[:32])))


async def text_fallback(message: Message, caller: Caller, t: T) -> None:
    if caller.role is Role.NONE:
        await answer(message, Reply(t("help-unknown", id=caller.user_id)))
    elif message.location is not None and caller.role >= Role.SUPERVISOR:
        # A place shared on its own: say what it is good for.
        await answer(message, Reply(t("location-shared")))
    else:
        await answer(message, Reply(t("unknown-text")))


async def button_fallback(callback: CallbackQuery, caller: Caller, t: T) -> None:
    # A button this user may not use (e.g. pressed in a group by someone with a lower
    # role), or one from an older version of the bot.
    if caller.role is Role.NONE:
        await callback.answer(t("denied-button"), show_alert=True)
    else:
        await callback.answer(t("button-expired"), show_alert=True)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.register(command_fallback, F.text.startswith("/") | F.caption.startswith("/"))
    r.message.register(text_fallback, F.chat.type == ChatType.PRIVATE)
    r.callback_query.register(button_fallback)
    return r
