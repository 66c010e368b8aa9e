"""/where <user|group> (supervisor): a pin with the fix's details, or every member's last fix.

Every lookup is written to the audit log (who looked up whom, when). The buttons
answer, in a group, only whoever asked (`asker_only`).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.directory import DirUser, Kind
from bot.platform.models import Fix
from bot.render.geo import fix_details, group_fixes
from bot.render.maps import with_map
from bot.render.replies import Reply
from bot.telegram.callbacks import PickAction, PickCb, WhereCb
from bot.webapp.links import MapTarget, map_open
from handlers.filters import feature_router, remember_asker
from handlers.lookup import LookupContext, lookup_context
from handlers.reply import answer
from handlers.resolve import NameArg, Named, name_command, name_picked
from storage.roles import Role


async def send_user_fix(message: Message, uid: int, ctx: LookupContext) -> None:
    user = ctx.directory.user(uid, ctx.caller.scope)
    if user is None:
        await answer(message, Reply(ctx.t("not-found", kind="user", query=uid)))
        return
    fixes = await ctx.platform.latest_fixes([uid])
    fix = next((f for f in fixes if f.uid == uid), None)
    now = ctx.clock()
    await ctx.audit.add(
        ctx.caller.user_id, "where", str(uid), {"name": user.name}, "fix" if fix else "no fix", now
    )
    if fix is None:
        await answer(message, Reply(ctx.t("where-no-fix", name=user.name, account=user.account)))
        return
    heading = (round(fix.bearing) % 360 or 360) if fix.bearing is not None else None
    pin = await message.answer_location(latitude=fix.lat, longitude=fix.lon, heading=heading)
    details = Reply(fix_details(ctx.t, ctx.lang, user, fix, now, ctx.settings.bridge.tz))
    link = await map_open(ctx.settings.bridge, ctx.bot, message.chat.type, MapTarget("user", uid))
    details = with_map(ctx.t, details, link)
    await pin.reply(details.text, reply_markup=details.keyboard)


async def send_group_fixes(message: Message, gid: int, ctx: LookupContext) -> None:
    group = ctx.directory.group(gid, ctx.caller.scope)
    if group is None:
        await answer(message, Reply(ctx.t("not-found", kind="group", query=gid)))
        return
    members: list[DirUser] = [
        u
        for uid in group.member_ids
        if (u := ctx.directory.user(uid, ctx.caller.scope)) is not None
    ]
    fixes: dict[int, Fix] = {}
    if members:
        fixes = {f.uid: f for f in await ctx.platform.latest_fixes([u.id for u in members])}
    now = ctx.clock()
    await ctx.audit.add(
        ctx.caller.user_id,
        "where-group",
        str(gid),
        {"name": group.name, "members": len(members), "with_fix": len(fixes)},
        "ok",
        now,
    )
    tz = ctx.settings.bridge.tz
    reply = group_fixes(ctx.t, ctx.lang, group, members, fixes, now, tz)
    link = await map_open(ctx.settings.bridge, ctx.bot, message.chat.type, MapTarget("group", gid))
    sent = await answer(message, with_map(ctx.t, reply, link))
    await remember_asker(ctx.fsm_storage, sent, ctx.caller.user_id)


WHERE = NameArg((Kind.USER, Kind.GROUP), PickAction.WHERE, "usage-where")


async def send_fixes(message: Message, named: Named, ctx: LookupContext) -> None:
    send = send_user_fix if named.kind is Kind.USER else send_group_fixes
    await send(message, named.id, ctx)


async def member_pin(callback: CallbackQuery, callback_data: WhereCb, ctx: LookupContext) -> None:
    await callback.answer()
    if not isinstance(callback.message, Message):
        return
    await send_user_fix(callback.message, callback_data.uid, ctx)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, lookup_context)
    r.message.register(name_command(WHERE, send_fixes, ChatAction.FIND_LOCATION), Command("where"))
    r.callback_query.register(
        name_picked(WHERE, send_fixes), PickCb.filter(F.action == PickAction.WHERE)
    )
    r.callback_query.register(member_pin, WhereCb.filter())
    return r
