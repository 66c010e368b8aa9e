"""/where <user|group> (supervisor): a pin with the fix's details, or every member's last fix.

Every lookup is written to the audit log (who looked up whom, when).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.access import Caller
from bot.callbacks import PickAction, PickCb, WhereCb
from bot.config import Settings
from bot.directory import Directory, DirUser, Kind
from bot.platform import PlatformClient
from bot.platform.models import Fix
from bot.render import Reply, T
from bot.render_geo import fix_details, group_fixes
from handlers.filters import MinRole
from handlers.reply import answer
from handlers.resolve import resolve_or_ask
from storage.audit import AuditRepo
from storage.roles import Role

router = Router(name=__name__)
router.message.filter(MinRole(Role.SUPERVISOR))
router.callback_query.filter(MinRole(Role.SUPERVISOR))


async def send_user_fix(
    message: Message,
    uid: int,
    caller: Caller,
    t: T,
    lang: str,
    directory: Directory,
    platform: PlatformClient,
    audit: AuditRepo,
    settings: Settings,
) -> None:
    user = directory.user(uid, caller.scope)
    if user is None:
        await answer(message, Reply(t("not-found", kind="user", query=uid)))
        return
    fixes = await platform.latest_fixes([uid])
    fix = next((f for f in fixes if f.uid == uid), None)
    now = datetime.now(UTC)
    await audit.add(
        caller.user_id, "where", str(uid), {"name": user.name}, "fix" if fix else "no fix", now
    )
    if fix is None:
        await answer(message, Reply(t("where-no-fix", name=user.name, account=user.account)))
        return
    heading = (round(fix.bearing) % 360 or 360) if fix.bearing is not None else None
    pin = await message.answer_location(latitude=fix.lat, longitude=fix.lon, heading=heading)
    text = fix_details(t, lang, user, fix, now, settings.bridge.tz)
    await pin.reply(text)


async def send_group_fixes(
    message: Message,
    gid: int,
    caller: Caller,
    t: T,
    lang: str,
    directory: Directory,
    platform: PlatformClient,
    audit: AuditRepo,
    settings: Settings,
) -> None:
    group = directory.group(gid, caller.scope)
    if group is None:
        await answer(message, Reply(t("not-found", kind="group", query=gid)))
        return
    members: list[DirUser] = [
        u for uid in group.member_ids if (u := directory.user(uid, caller.scope)) is not None
    ]
    fixes: dict[int, Fix] = {}
    if members:
        fixes = {f.uid: f for f in await platform.latest_fixes([u.id for u in members])}
    now = datetime.now(UTC)
    await audit.add(
        caller.user_id,
        "where-group",
        str(gid),
        {"name": group.name, "members": len(members), "with_fix": len(fixes)},
        "ok",
        now,
    )
    await answer(message, group_fixes(t, lang, group, members, fixes, now, settings.bridge.tz))


@router.message(Command("where"))
async def where(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    lang: str,
    directory: Directory,
    platform: PlatformClient,
    audit: AuditRepo,
    settings: Settings,
    bot: Bot,
    state: FSMContext,
) -> None:
    query = (command.args or "").strip()
    if not query:
        await answer(message, Reply(t("usage-where")))
        return
    match = await resolve_or_ask(
        message, t, directory, caller, query, (Kind.USER, Kind.GROUP), PickAction.WHERE
    )
    if match is None:
        return
    async with ChatActionSender.find_location(
        bot=bot, chat_id=message.chat.id, message_thread_id=message.message_thread_id
    ):
        if match.kind is Kind.USER:
            await send_user_fix(
                message, match.id, caller, t, lang, directory, platform, audit, settings
            )
        else:
            await send_group_fixes(
                message, match.id, caller, t, lang, directory, platform, audit, settings
            )


@router.callback_query(PickCb.filter(F.action == PickAction.WHERE))
async def picked(
    callback: CallbackQuery,
    callback_data: PickCb,
    caller: Caller,
    t: T,
    lang: str,
    directory: Directory,
    platform: PlatformClient,
    audit: AuditRepo,
    settings: Settings,
) -> None:
    await callback.answer()
    if not isinstance(callback.message, Message):
        return
    send = send_user_fix if callback_data.kind is Kind.USER else send_group_fixes
    await send(
        callback.message, callback_data.id, caller, t, lang, directory, platform, audit, settings
    )


@router.callback_query(WhereCb.filter())
async def member_pin(
    callback: CallbackQuery,
    callback_data: WhereCb,
    caller: Caller,
    t: T,
    lang: str,
    directory: Directory,
    platform: PlatformClient,
    audit: AuditRepo,
    settings: Settings,
) -> None:
    await callback.answer()
    if not isinstance(callback.message, Message):
        return
    await send_user_fix(
        callback.message, callback_data.uid, caller, t, lang, directory, platform, audit, settings
    )
