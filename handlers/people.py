"""/user <user> and /org [org]: details from 2.14 and 2.13, within the caller's scope.

Their buttons answer, in a group, only whoever asked (`asker_only`).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.directory import Kind
from bot.render.replies import Reply, org_details, user_details
from bot.telegram.callbacks import PickAction, PickCb
from handlers.filters import feature_router, remember_asker
from handlers.lookup import CommandContext, command_context
from handlers.reply import answer, edit
from handlers.resolve import NameArg, Named, name_command
from storage.roles import Role


async def user_reply(uid: int, ctx: CommandContext) -> Reply:
    caller, directory, t = ctx.caller, ctx.directory, ctx.t
    user = directory.user(uid, caller.scope)
    if user is None:
        return Reply(t("not-found", kind="user", query=uid))
    info = await ctx.platform.user_info(uid)
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


async def org_reply(oid: int, ctx: CommandContext) -> Reply:
    caller, directory = ctx.caller, ctx.directory
    org = directory.org(oid, caller.scope)
    if org is None:
        return Reply(ctx.t("not-found", kind="org", query=oid))
    detail = await ctx.platform.org_users(oid)
    users = [(u.name, u.account, u.online) for u in detail.users] if detail else []
    path = directory.org_path(oid)
    if caller.scope is not None:
        path = [o for o in path if o.id in caller.scope]
    children = [
        o for o in directory.org_children(oid) if caller.scope is None or o.id in caller.scope
    ]
    return org_details(ctx.t, org, path, children, directory.org_groups(oid), users)


USER = NameArg(Kind.USER, PickAction.USER, "usage-user")
ORG = NameArg(Kind.ORG, PickAction.ORG, "usage-org")


async def show_user(message: Message, named: Named, ctx: CommandContext) -> None:
    reply = await user_reply(named.id, ctx)
    await remember_asker(ctx.fsm_storage, await answer(message, reply), ctx.caller.user_id)


async def show_org(message: Message, named: Named, ctx: CommandContext) -> None:
    reply = await org_reply(named.id, ctx)
    await remember_asker(ctx.fsm_storage, await answer(message, reply), ctx.caller.user_id)


_org_named = name_command(ORG, show_org, ChatAction.TYPING)


async def org(
    message: Message, command: CommandObject, ctx: CommandContext, state: FSMContext
) -> None:
    if (command.args or "").strip():
        await _org_named(message, command, ctx, state)
        return
    # No org named: the caller's own top org.
    roots = ctx.directory.roots(ctx.caller.scope)
    if not roots:
        await answer(message, Reply(ctx.t("directory-empty")))
        return
    async with ChatActionSender.typing(
        bot=ctx.bot, chat_id=message.chat.id, message_thread_id=message.message_thread_id
    ):
        await show_org(message, Named(Kind.ORG, roots[0].id, []), ctx)


async def picked_user(callback: CallbackQuery, callback_data: PickCb, ctx: CommandContext) -> None:
    await callback.answer()
    await edit(callback, await user_reply(callback_data.id, ctx))


async def picked_org(callback: CallbackQuery, callback_data: PickCb, ctx: CommandContext) -> None:
    await callback.answer()
    await edit(callback, await org_reply(callback_data.id, ctx))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.VIEWER, command_context)
    r.message.register(name_command(USER, show_user, ChatAction.TYPING), Command("user"))
    r.message.register(org, Command("org"))
    r.callback_query.register(picked_user, PickCb.filter(F.action == PickAction.USER))
    r.callback_query.register(picked_org, PickCb.filter(F.action == PickAction.ORG))
    return r
