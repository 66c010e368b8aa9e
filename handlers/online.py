"""/groups and /online <group>: who is online in a talk group (2.2 and 2.3 together).

Their buttons answer, in a group, only whoever asked (`asker_only`); each press shows what
the presser may see (a forged group id outside their scope is "not found").
"""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.access import Caller
from bot.app.services import Clock
from bot.config import Settings
from bot.directory import Directory, DirUser, Kind
from bot.platform import PlatformClient
from bot.render.replies import Reply, T, groups_page, online_view
from bot.telegram.callbacks import GroupsCb, OnlineCb, PickAction, PickCb
from handlers.filters import feature_router, remember_asker
from handlers.reply import answer, edit
from handlers.resolve import resolve_or_ask
from storage.roles import Role


async def online_reply(
    gid: int,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    settings: Settings,
    clock: Clock,
) -> Reply:
    group = directory.group(gid, caller.scope)
    if group is None:
        return Reply(t("not-found", kind="group", query=gid))
    # Members outside the caller's scope are not shown, not even as "offline".
    members: list[DirUser] = [
        u for uid in group.member_ids if (u := directory.user(uid, caller.scope)) is not None
    ]
    uids = [u.id for u in members]
    if uids:
        here_ids, online_ids = await asyncio.gather(
            platform.in_group_uids(gid, uids), platform.online_uids(gid, uids)
        )
    else:
        here_ids, online_ids = [], []
    here_set, online_set = set(here_ids), set(online_ids) | set(here_ids)
    here = [u for u in members if u.id in here_set]
    elsewhere = [u for u in members if u.id in online_set and u.id not in here_set]
    offline = [u for u in members if u.id not in online_set]
    at = clock().astimezone(settings.bridge.tz).strftime("%H:%M:%S")
    return online_view(t, group, here, elsewhere, offline, at)


async def groups(
    message: Message, caller: Caller, t: T, directory: Directory, fsm_storage: BaseStorage
) -> None:
    sent = await answer(message, groups_page(t, directory.groups(caller.scope), 0))
    await remember_asker(fsm_storage, sent, caller.user_id)


async def groups_page_cb(
    callback: CallbackQuery, callback_data: GroupsCb, caller: Caller, t: T, directory: Directory
) -> None:
    await callback.answer()
    await edit(callback, groups_page(t, directory.groups(caller.scope), callback_data.page))


async def online(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    state: FSMContext,
) -> None:
    query = (command.args or "").strip()
    if not query:
        await answer(message, Reply(t("usage-online")))
        return
    match = await resolve_or_ask(
        message, t, directory, caller, query, Kind.GROUP, PickAction.ONLINE, state=state
    )
    if match is None:
        return
    gid = match.id
    async with ChatActionSender.typing(
        bot=bot, chat_id=message.chat.id, message_thread_id=message.message_thread_id
    ):
        reply = await online_reply(gid, caller, t, directory, platform, settings, clock)
    await remember_asker(state.storage, await answer(message, reply), caller.user_id)


async def online_cb(
    callback: CallbackQuery,
    callback_data: OnlineCb,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    settings: Settings,
    clock: Clock,
    fsm_storage: BaseStorage,
) -> None:
    await callback.answer(t("refreshing") if callback_data.refresh else None)
    reply = await online_reply(callback_data.gid, caller, t, directory, platform, settings, clock)
    if callback_data.refresh:
        await edit(callback, reply)
    elif callback.message is not None and isinstance(callback.message, Message):
        sent = await answer(callback.message, reply)
        await remember_asker(fsm_storage, sent, caller.user_id)


async def picked_group(
    callback: CallbackQuery,
    callback_data: PickCb,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    settings: Settings,
    clock: Clock,
) -> None:
    await callback.answer()
    reply = await online_reply(callback_data.id, caller, t, directory, platform, settings, clock)
    await edit(callback, reply)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.VIEWER)
    r.message.register(groups, Command("groups"))
    r.callback_query.register(groups_page_cb, GroupsCb.filter())
    r.message.register(online, Command("online"))
    r.callback_query.register(online_cb, OnlineCb.filter())
    r.callback_query.register(picked_group, PickCb.filter(F.action == PickAction.ONLINE))
    return r
