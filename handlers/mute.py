"""/mute: hold this chat's relayed messages for a while; when the mute ends, one summary
comes, then what was held. Who may: `handlers.filters.ChatManager(Role.VIEWER)`.
"""

from __future__ import annotations

from datetime import timedelta

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.access import Caller
from bot.app.services import Clock
from bot.config import Settings
from bot.parsing.timeexpr import parse_duration
from bot.relay.service import Relay
from bot.render.replies import Reply, T
from handlers.filters import ChatManager, MinRole, chat_change_refused
from handlers.reply import answer
from storage.audit import AuditRepo
from storage.mutes import MuteRepo
from storage.roles import Role

MUTE_MAX = timedelta(days=7)


async def mute(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    mutes: MuteRepo,
    settings: Settings,
    audit: AuditRepo,
    relay: Relay,
    clock: Clock,
) -> None:
    arg = (command.args or "30m").strip().lower()
    now = clock()
    if arg == "off":
        # The delivery worker sends the summary once the mute has ended.
        await mutes.set(message.chat.id, now, caller.user_id, now)
        relay.wake()
        await answer(message, Reply(t("mute-off")))
        return
    delta = parse_duration(arg)
    if delta is None or not timedelta(0) < delta <= MUTE_MAX:
        await answer(message, Reply(t("usage-mute")))
        return
    until = now + delta
    await mutes.set(message.chat.id, until, caller.user_id, now)
    await audit.add(caller.user_id, "mute", str(message.chat.id), {"for": arg}, "ok", now)
    await answer(
        message,
        Reply(t("mute-set", until=until.astimezone(settings.bridge.tz).strftime("%m-%d %H:%M"))),
    )


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.register(mute, Command("mute"), ChatManager(Role.VIEWER))
    # What ChatManager refused to someone with the role: not an administrator of this group.
    r.message.register(chat_change_refused(Role.VIEWER), Command("mute"), MinRole(Role.VIEWER))
    return r
