"""/user <user> and /org [org]: details from 2.14 and 2.13, within the caller's scope.

Their buttons answer, in a group, only whoever asked (`asker_only`).
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.access import Caller
from bot.directory import Directory, Kind
from bot.platform import PlatformClient
from bot.render.replies import Reply, T, org_details, user_details
from bot.telegram.callbacks import PickAction, PickCb
from handlers.filters import feature_router, remember_asker
from handlers.reply import answer, edit
from handlers.resolve import resolve_or_ask
from storage.roles import Role


async def user_reply(
    uid: int, caller: Caller, t: T, directory: Directory, platform: PlatformClient
) -> Reply:
    user = directory.user(uid, caller.scope)
    if user is None:
        return Reply(t("not-found", kind="user", query=uid))
    info = await platform.user_info(uid)
    if info is None:
        return Reply(t("not-found", kind="user", query=uid))
    groups = [
        (g.id, g.name)
        for g in info.groups
        if caller.scope is None or directory.group(g.id, caller.scope) is not None
    ]
    path = directory.org_path(user.org_id)
    if caller.scope is not None:
        # As in /org: the orgs above the caller's subtree are not theirs to see.
        path = [o for o in path if o.id in caller.scope]
    return user_details(t, info, path, groups)


async def org_reply(
    oid: int, caller: Caller, t: T, directory: Directory, platform: PlatformClient
) -> Reply:
    org = directory.org(oid, caller.scope)
    if org is None:
        return Reply(t("not-found", kind="org", query=oid))
    detail = await platform.org_users(oid)
    users = [(u.name, u.account, u.online) for u in detail.users] if detail else []
    path = directory.org_path(oid)
    if caller.scope is not None:
        path = [o for o in path if o.id in caller.scope]
    children = [
        o for o in directory.org_children(oid) if caller.scope is None or o.id in caller.scope
    ]
    return org_details(t, org, path, children, directory.org_groups(oid), users)


async def user(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    bot: Bot,
    state: FSMContext,
) -> None:
    query = (command.args or "").strip()
    if not query:
        await answer(message, Reply(t("usage-user")))
        return
    match = await resolve_or_ask(
        message, t, directory, caller, query, Kind.USER, PickAction.USER, state=state
    )
    if match is None:
        return
    uid = match.id
    async with ChatActionSender.typing(
        bot=bot, chat_id=message.chat.id, message_thread_id=message.message_thread_id
    ):
        reply = await user_reply(uid, caller, t, directory, platform)
    await remember_asker(state.storage, await answer(message, reply), caller.user_id)


async def org(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
    bot: Bot,
    state: FSMContext,
) -> None:
    query = (command.args or "").strip()
    if query:
        match = await resolve_or_ask(
            message, t, directory, caller, query, Kind.ORG, PickAction.ORG, state=state
        )
        if match is None:
            return
        oid = match.id
    else:
        roots = directory.roots(caller.scope)
        if not roots:
            await answer(message, Reply(t("directory-empty")))
            return
        oid = roots[0].id
    async with ChatActionSender.typing(
        bot=bot, chat_id=message.chat.id, message_thread_id=message.message_thread_id
    ):
        reply = await org_reply(oid, caller, t, directory, platform)
    await remember_asker(state.storage, await answer(message, reply), caller.user_id)


async def picked_user(
    callback: CallbackQuery,
    callback_data: PickCb,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
) -> None:
    await callback.answer()
    await edit(callback, await user_reply(callback_data.id, caller, t, directory, platform))


async def picked_org(
    callback: CallbackQuery,
    callback_data: PickCb,
    caller: Caller,
    t: T,
    directory: Directory,
    platform: PlatformClient,
) -> None:
    await callback.answer()
    await edit(callback, await org_reply(callback_data.id, caller, t, directory, platform))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.VIEWER)
    r.message.register(user, Command("user"))
    r.message.register(org, Command("org"))
    r.callback_query.register(picked_user, PickCb.filter(F.action == PickAction.USER))
    r.callback_query.register(picked_org, PickCb.filter(F.action == PickAction.ORG))
    return r
