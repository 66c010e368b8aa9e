"""/watch <group>, /unwatch <group> (supervisor): post here when members come and go.

The presence job (`bot.jobs.presence`) does the polling; this only records the
wish, with what the group looks like now, and says so. A scoped supervisor may
watch only groups of their subtree, and the chat is told only about members
they may see. Both change what the chat receives: in a group, only its
administrators may (`ChatManager`), and a scoped one may not replace or remove a
watch set with a wider reach than theirs.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.directory import Kind
from bot.render.jobs import watch_text
from bot.render.replies import Reply
from bot.telegram.callbacks import PickAction, PickCb
from handlers.filters import ChatManager, chat_change_refused, feature_router
from handlers.lookup import LookupContext, lookup_context
from handlers.reply import answer
from handlers.resolve import NameArg, Named, name_command, name_picked
from handlers.subscriptions import refused_here, thread_of
from storage.roles import Role

WATCH = NameArg(Kind.GROUP, PickAction.WATCH, "usage-watch")
UNWATCH = NameArg(Kind.GROUP, PickAction.UNWATCH, "usage-unwatch")


async def start_watch(message: Message, named: Named, ctx: LookupContext) -> None:
    caller, t, gid = ctx.caller, ctx.t, named.id
    group = ctx.directory.group(gid, caller.scope)
    if group is None:
        await answer(message, Reply(t("not-found", kind="group", query=gid)))
        return
    if await refused_here(message, ctx, groups=[gid]):
        return
    chat_id, thread = message.chat.id, thread_of(message)
    now = ctx.clock()
    scope_org = caller.org_id if caller.scope is not None else None
    new, obs = await ctx.jobs.presence.start_watching(
        chat_id, thread, group, scope_org, caller.user_id, now
    )
    await ctx.audit.add(caller.user_id, "watch", str(message.chat.id), {"group": gid}, "ok", now)
    text = watch_text(
        t, new, group.name, obs.online, len(group.member_ids), ctx.settings.bridge.presence_poll_s
    )
    await answer(message, Reply(text))


async def stop_watch(message: Message, gid: int, name: str, ctx: LookupContext) -> None:
    if await refused_here(message, ctx, groups=[gid]):
        return
    removed = await ctx.jobs.watches.remove(message.chat.id, thread_of(message), gid)
    await ctx.audit.add(
        ctx.caller.user_id,
        "unwatch",
        str(message.chat.id),
        {"group": gid},
        "ok" if removed else "not watched",
        ctx.clock(),
    )
    await answer(message, Reply(ctx.t("unwatch-done" if removed else "unwatch-not", group=name)))


async def unwatch(
    message: Message, command: CommandObject, ctx: LookupContext, state: FSMContext
) -> None:
    query = (command.args or "").strip()
    if query.isascii() and query.isdigit() and ctx.directory.group(int(query)) is None:
        # A group deleted from the platform can still be unwatched by its id.
        watched = {w.group_id for w in await ctx.jobs.watches.for_chat(message.chat.id)}
        if int(query) in watched:
            await stop_watch(message, int(query), query, ctx)
            return
    read = await UNWATCH.read(message, command, ctx, state)
    if read is not None:
        match, _ = read
        await stop_watch(message, match.id, match.label, ctx)


async def picked_unwatch(
    callback: CallbackQuery, callback_data: PickCb, ctx: LookupContext
) -> None:
    await callback.answer()
    if not isinstance(callback.message, Message):
        return
    group = ctx.directory.group(callback_data.id, ctx.caller.scope)
    if group is None:  # a forged button: outside the presser's scope, or no such group
        t = ctx.t
        await answer(callback.message, Reply(t("not-found", kind="group", query=callback_data.id)))
        return
    await stop_watch(callback.message, group.id, group.name, ctx)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, lookup_context)
    r.message.register(
        name_command(WATCH, start_watch), Command("watch"), ChatManager(Role.SUPERVISOR)
    )
    r.callback_query.register(
        name_picked(WATCH, start_watch),
        PickCb.filter(F.action == PickAction.WATCH),
        ChatManager(Role.SUPERVISOR),
    )
    r.message.register(unwatch, Command("unwatch"), ChatManager(Role.SUPERVISOR))
    r.callback_query.register(
        picked_unwatch, PickCb.filter(F.action == PickAction.UNWATCH), ChatManager(Role.SUPERVISOR)
    )
    # What ChatManager refused to a supervisor: not an administrator of this group.
    r.message.register(chat_change_refused(Role.SUPERVISOR), Command("watch", "unwatch"))
    r.callback_query.register(
        chat_change_refused(Role.SUPERVISOR),
        PickCb.filter(F.action.in_({PickAction.WATCH, PickAction.UNWATCH})),
    )
    return r
