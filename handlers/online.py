"""/groups and /online <group>: who is online in a talk group (2.2 and 2.3 together).

Their buttons answer, in a group, only whoever asked (`asker_only`); each press shows what
the presser may see (a forged group id outside their scope is "not found").
"""

from __future__ import annotations

import asyncio

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.directory import DirUser, Kind
from bot.render.maps import with_map
from bot.render.replies import Reply, groups_page, online_view
from bot.telegram.callbacks import GroupsCb, OnlineCb, PickAction, PickCb
from bot.webapp.links import MapTarget, map_open
from handlers.filters import feature_router, remember_asker
from handlers.lookup import CommandContext, command_context
from handlers.reply import answer, edit
from handlers.resolve import NameArg, Named, name_command
from storage.roles import Role


async def online_reply(gid: int, chat_type: str, ctx: CommandContext) -> Reply:
    """Who is online in talk group `gid`, with Refresh and (the map on) 🗺 buttons for a
    chat of `chat_type`."""
    caller, directory = ctx.caller, ctx.directory
    group = directory.group(gid, caller.scope)
    if group is None:
        return Reply(ctx.t("not-found", kind="group", query=gid))
    # Members outside the caller's scope are not shown, not even as "offline".
    members: list[DirUser] = [
        u for uid in group.member_ids if (u := directory.user(uid, caller.scope)) is not None
    ]
    uids = [u.id for u in members]
    if uids:
        here_ids, online_ids = await asyncio.gather(
            ctx.platform.in_group_uids(gid, uids), ctx.platform.online_uids(gid, uids)
        )
    else:
        here_ids, online_ids = [], []
    here_set, online_set = set(here_ids), set(online_ids) | set(here_ids)
    here = [u for u in members if u.id in here_set]
    elsewhere = [u for u in members if u.id in online_set and u.id not in here_set]
    offline = [u for u in members if u.id not in online_set]
    at = ctx.clock().astimezone(ctx.settings.bridge.tz).strftime("%H:%M:%S")
    link = await map_open(ctx.settings.bridge, ctx.bot, chat_type, MapTarget("group", gid))
    return with_map(ctx.t, online_view(ctx.t, group, here, elsewhere, offline, at), link)


def chat_type(callback: CallbackQuery) -> str:
    """The type of the chat a button was pressed in ("private" when it is not known: an
    inline message, which has no chat; its button is a web_app one either way)."""
    return callback.message.chat.type if callback.message is not None else "private"


async def groups(message: Message, ctx: CommandContext) -> None:
    sent = await answer(message, groups_page(ctx.t, ctx.directory.groups(ctx.caller.scope), 0))
    await remember_asker(ctx.fsm_storage, sent, ctx.caller.user_id)


async def groups_page_cb(
    callback: CallbackQuery, callback_data: GroupsCb, ctx: CommandContext
) -> None:
    await callback.answer()
    page = groups_page(ctx.t, ctx.directory.groups(ctx.caller.scope), callback_data.page)
    await edit(callback, page)


ONLINE = NameArg(Kind.GROUP, PickAction.ONLINE, "usage-online")


async def show_online(message: Message, named: Named, ctx: CommandContext) -> None:
    reply = await online_reply(named.id, message.chat.type, ctx)
    await remember_asker(ctx.fsm_storage, await answer(message, reply), ctx.caller.user_id)


async def online_cb(callback: CallbackQuery, callback_data: OnlineCb, ctx: CommandContext) -> None:
    await callback.answer(ctx.t("refreshing") if callback_data.refresh else None)
    if callback_data.refresh:
        await edit(callback, await online_reply(callback_data.gid, chat_type(callback), ctx))
    elif callback.message is not None and isinstance(callback.message, Message):
        await show_online(callback.message, Named(Kind.GROUP, callback_data.gid, []), ctx)


async def picked_group(callback: CallbackQuery, callback_data: PickCb, ctx: CommandContext) -> None:
    await callback.answer()
    await edit(callback, await online_reply(callback_data.id, chat_type(callback), ctx))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.VIEWER, command_context)
    r.message.register(groups, Command("groups"))
    r.callback_query.register(groups_page_cb, GroupsCb.filter())
    r.message.register(name_command(ONLINE, show_online, ChatAction.TYPING), Command("online"))
    r.callback_query.register(online_cb, OnlineCb.filter())
    r.callback_query.register(picked_group, PickCb.filter(F.action == PickAction.ONLINE))
    return r
