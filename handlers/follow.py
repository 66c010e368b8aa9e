"""/follow <user|group> [duration], /unfollow [user|group|all] (supervisor), and the Stop
button under a follow's line.

A follow is a Telegram live location per followed user, with a line above it (one per
person per chat/topic: a group follow leaves to a user's own follow here); the
position poll (`bot.jobs.positions`, `bot.jobs.follows`) moves them and ends them. This
records the follow, answers with its first messages, and asks the job to stop follows.
Scope and audit as /where: nobody outside a scoped supervisor's subtree can be named, and
every follow is written to the audit log. The Stop button answers anyone with the role
whose scope holds the follow's (a follow is the chat's, not its starter's).
"""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.directory import Kind
from bot.jobs.follows import MAX_SHOWN
from bot.parsing.places import PlaceError, parse_follow_duration
from bot.render.follow import group_header, user_header
from bot.render.maps import with_map
from bot.render.replies import Reply
from bot.telegram.callbacks import FollowCb, PickAction, PickCb
from bot.webapp.links import MapTarget, map_open
from handlers.filters import feature_router, within
from handlers.lookup import LookupContext, lookup_context
from handlers.reply import answer
from handlers.resolve import NameArg, Named, name_command, name_picked
from handlers.subscriptions import thread_of
from storage.follows import TargetKind
from storage.roles import Role

FOLLOW = NameArg((Kind.USER, Kind.GROUP), PickAction.FOLLOW, "usage-follow", more=True)
UNFOLLOW = NameArg((Kind.USER, Kind.GROUP), PickAction.UNFOLLOW, "usage-unfollow")
ALL = ("all", "全部")


def _kind(kind: Kind) -> TargetKind:
    return "user" if kind is Kind.USER else "group"


async def start_follow(message: Message, named: Named, ctx: LookupContext) -> None:
    t, caller = ctx.t, ctx.caller
    try:
        duration = parse_follow_duration(" ".join(named.rest) or None)
    except PlaceError as exc:
        await answer(message, Reply(t(exc.msg_id, **exc.msg_args)))
        return
    if named.kind is Kind.USER:
        user = ctx.directory.user(named.id, caller.scope)
        name, uids = (user.name, [user.id]) if user is not None else ("", [])
    else:
        group = ctx.directory.group(named.id, caller.scope)
        name = group.name if group is not None else ""
        uids = [] if group is None else [
            u for u in group.member_ids if ctx.directory.user(u, caller.scope) is not None
        ]  # fmt: skip
    if not name:
        await answer(message, Reply(t("not-found", kind=named.kind.value, query=named.id)))
        return
    updater = ctx.jobs.follows
    chat_id, thread = message.chat.id, thread_of(message)
    with updater.starting(chat_id, thread, _kind(named.kind), named.id):
        await begin(message, named, name, uids, duration, ctx)


async def begin(
    message: Message,
    named: Named,
    name: str,
    uids: list[int],
    duration: timedelta,
    ctx: LookupContext,
) -> None:
    t, caller, tz = ctx.t, ctx.caller, ctx.settings.bridge.tz
    now = ctx.clock()
    updater = ctx.jobs.follows
    chat_id, thread = message.chat.id, thread_of(message)
    follow = await updater.repo.start(
        chat_id,
        thread,
        _kind(named.kind),
        named.id,
        scope_org=caller.org_id if caller.scope is not None else None,
        created_by=caller.user_id,
        now=now,
        ends_at=now + duration,
    )
    minutes = int(duration.total_seconds() // 60)
    if follow is None:
        running = await updater.repo.running(chat_id, thread, _kind(named.kind), named.id)
        until = running.ends_at.astimezone(tz).strftime("%H:%M") if running else "?"
        await answer(message, Reply(t("follow-already", name=name, time=until)))
        return
    fixes = await ctx.jobs.positions.fixes(set(uids))  # batched as the poll asks
    await ctx.audit.add(
        caller.user_id,
        "follow",
        f"{_kind(named.kind)}:{named.id}",
        {"name": name, "chat": chat_id, "minutes": minutes},
        "ok",
        now,
    )
    target = MapTarget(_kind(named.kind), named.id)
    link = await map_open(ctx.settings.bridge, ctx.bot, message.chat.type, target)
    if named.kind is Kind.GROUP:
        taken = await updater.others_here(follow, now)  # one live location per person
        online = [
            u for u in uids if u not in taken and (fx := fixes.get(u)) is not None and fx.online
        ]
        names = _names(ctx, online[MAX_SHOWN:])
        shown = min(len(online), MAX_SHOWN)
        elsewhere = _names(ctx, [u for u in uids if u in taken])
        header = group_header(t, name, shown, names, follow.ends_at, now, tz, elsewhere)
        await answer(message, with_map(t, Reply(header), link))
    elif link is not None:  # a user's follow has no header of its own: one for the 🗺 button
        header = user_header(t, name, follow.ends_at, now, tz)
        await answer(message, with_map(t, Reply(header), link))
    await updater.show(follow, fixes, now)


def _names(ctx: LookupContext, uids: list[int]) -> list[str]:
    users = (ctx.directory.user(u, ctx.caller.scope) for u in uids)
    return [u.name for u in users if u is not None]


async def unfollow(
    message: Message, command: CommandObject, ctx: LookupContext, state: FSMContext
) -> None:
    query = (command.args or "").strip()
    if not query or query.lower() in ALL:
        await stop_follows(message, None, ctx)
        return
    read = await UNFOLLOW.read(message, command, ctx, state)
    if read is not None:
        match, _ = read
        await stop_follows(message, Named(match.kind, match.id, []), ctx)


async def unfollow_picked(message: Message, named: Named, ctx: LookupContext) -> None:
    await stop_follows(message, named, ctx)


async def stop_follows(message: Message, named: Named | None, ctx: LookupContext) -> None:
    now, updater = ctx.clock(), ctx.jobs.follows
    kind = None if named is None else _kind(named.kind)
    target = None if named is None else named.id
    stopped = await updater.repo.stop_in(message.chat.id, thread_of(message), now, kind, target)
    await ctx.audit.add(
        ctx.caller.user_id,
        "unfollow",
        "all" if named is None else f"{kind}:{target}",
        {"chat": message.chat.id, "count": len(stopped)},
        "ok" if stopped else "none",
        now,
    )
    if not stopped:
        if named is None:
            await answer(message, Reply(ctx.t("unfollow-none")))
        else:
            entity = (
                ctx.directory.user(named.id) if named.kind is Kind.USER
                else ctx.directory.group(named.id)
            )  # fmt: skip
            name = entity.name if entity is not None else str(named.id)
            await answer(message, Reply(ctx.t("unfollow-none-of", name=name)))
        return
    await updater.finish(now)
    await answer(message, Reply(ctx.t("unfollow-done", count=len(stopped))))


async def stop_pressed(
    callback: CallbackQuery, callback_data: FollowCb, ctx: LookupContext
) -> None:
    updater, now = ctx.jobs.follows, ctx.clock()
    follow = await updater.repo.get(callback_data.follow_id)
    chat_id = callback.message.chat.id if callback.message is not None else None
    if follow is None or follow.chat_id != chat_id or not follow.running(now):
        await callback.answer(ctx.t.plain("follow-gone"))
        return
    if not within(ctx.caller.scope, scope_org=follow.scope_org, named=True):
        await callback.answer(ctx.t.plain("button-not-yours"), show_alert=True)
        return
    await updater.repo.stop(follow.id, now)
    await ctx.audit.add(
        ctx.caller.user_id,
        "unfollow",
        f"{follow.target_kind}:{follow.target_id}",
        {"chat": follow.chat_id, "button": True},
        "ok",
        now,
    )
    await callback.answer(ctx.t.plain("follow-stopped"))
    await updater.finish(now)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, lookup_context)
    r.message.register(
        name_command(FOLLOW, start_follow, ChatAction.FIND_LOCATION), Command("follow")
    )
    r.message.register(unfollow, Command("unfollow"))
    r.callback_query.register(
        name_picked(FOLLOW, start_follow), PickCb.filter(F.action == PickAction.FOLLOW)
    )
    r.callback_query.register(
        name_picked(UNFOLLOW, unfollow_picked), PickCb.filter(F.action == PickAction.UNFOLLOW)
    )
    r.callback_query.register(stop_pressed, FollowCb.filter())
    return r
