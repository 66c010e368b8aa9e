"""/attendance [date] [org], /signins [date] [org], /report daily <HH:MM> [org] | off.

All supervisor. A summary in the chat and every record as a CSV file (UTF-8 with a
BOM: Excel opens the Chinese right). Without an org, a scoped supervisor gets their
own subtree and everyone else the whole platform; an org outside the caller's
scope is "not found". The daily digest is a scheduler job per chat (and topic):
setting or stopping it changes what the chat receives, so in a group only its
administrators may (`ChatManager`), and a scoped one may not replace or stop a
digest of a wider reach (an all-org one); `/report` alone shows it to any supervisor,
an org outside their scope unnamed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import Literal

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.config import Settings
from bot.directory import Kind
from bot.parsing.timeexpr import TimeExprError, parse_date, parse_hhmm
from bot.render.jobs import report_current_text, report_set_text
from bot.render.replies import Reply, org_ids_text
from bot.telegram.callbacks import PickAction, PickCb
from handlers.filters import ChatManager, chat_change_refused, feature_router
from handlers.lookup import LookupContext, lookup_context
from handlers.reply import answer
from handlers.resolve import NameArg, Named, Show, name_picked, resolve_or_ask
from handlers.subscriptions import refused_here, thread_of
from storage.roles import Role

What = Literal["attendance", "signins"]
# A word shaped like a date that is not one (2026-13-40) is a mistake, not an org's name.
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}")
ACTION: Mapping[What, PickAction] = MappingProxyType(
    {
        "attendance": PickAction.ATTENDANCE,
        "signins": PickAction.SIGNINS,
    }
)


def split_args(words: list[str], now: datetime, settings: Settings) -> tuple[date, list[str]]:
    """`[date] [org]`: the first word is a date if it reads as one; the rest names an org.

    Raises TimeExprError when there are two or more words and the first is not a date.
    """
    tz = settings.bridge.tz
    if not words:
        return now.astimezone(tz).date(), []
    try:
        return parse_date(words[0], now, tz), words[1:]
    except TimeExprError:
        if len(words) == 1 and not _DATE_LIKE.match(words[0]):
            return now.astimezone(tz).date(), words
        raise


async def send_summary(
    message: Message, what: What, day: date, org_id: int | None, ctx: LookupContext
) -> None:
    caller, t = ctx.caller, ctx.t
    if org_id is None and caller.scope is not None:
        org_id = caller.org_id  # a scoped supervisor's own subtree
    if org_id is not None and ctx.directory.org(org_id, caller.scope) is None:
        await answer(message, Reply(t("not-found", kind="org", query=org_id)))
        return
    now = ctx.clock()
    async with ChatActionSender.upload_document(
        bot=ctx.bot, chat_id=message.chat.id, message_thread_id=message.message_thread_id
    ):
        if what == "attendance":
            built = await ctx.jobs.reports.attendance(day, org_id, caller.scope, t, now)
        else:
            built = await ctx.jobs.reports.signins(day, org_id, t)
        await answer(message, Reply(built.text))
        await message.answer_document(
            BufferedInputFile(built.csv, built.filename), caption=built.caption
        )
    await ctx.audit.add(
        caller.user_id, what, str(org_id or ""), {"day": day.isoformat()}, "ok", now
    )


async def attendance_or_signins(
    message: Message, command: CommandObject, ctx: LookupContext, state: FSMContext
) -> None:
    # One handler for both: they differ only in which records they summarise.
    what: What = "signins" if command.command == "signins" else "attendance"
    t = ctx.t
    words = (command.args or "").split()
    try:
        day, rest = split_args(words, ctx.clock(), ctx.settings)
    except TimeExprError as err:
        await answer(message, Reply(t(err.msg_id, **err.msg_args) + "\n" + t(f"usage-{what}")))
        return
    org_id: int | None = None
    if rest:
        match = await resolve_or_ask(
            message,
            t,
            ctx.directory,
            ctx.caller,
            " ".join(rest),
            Kind.ORG,
            ACTION[what],
            state=state,
            rest=[day.isoformat()],
        )
        if match is None:
            return
        org_id = match.id
    await send_summary(message, what, day, org_id, ctx)


def summary_picked(what: What) -> Show[LookupContext]:
    """`/attendance` or `/signins` finished by the org picked among several: on the day
    typed with the command (kept with the buttons), else today."""

    async def show(message: Message, named: Named, ctx: LookupContext) -> None:
        try:
            day = date.fromisoformat(named.rest[0]) if named.rest else None
        except ValueError:
            day = None
        if day is None:
            day = ctx.clock().astimezone(ctx.settings.bridge.tz).date()
        await send_summary(message, what, day, named.id, ctx)

    return show


async def report_shown(message: Message, ctx: LookupContext) -> None:
    """`/report` alone: what this chat (topic) has now, and how to change it."""
    t, directory = ctx.t, ctx.directory
    current = await ctx.jobs.report_of(message.chat.id, thread_of(message))
    zone = ctx.settings.bridge.timezone
    scope = ctx.caller.scope
    shown = report_current_text(t, current, directory, zone)
    if (
        current is not None
        and current.org_id is not None
        and scope is not None
        and directory.org(current.org_id, scope) is None
    ):  # an org not theirs to see: unnamed
        org = t.plain("outside-scope-org")
        shown = t("report-current-org", time=current.at_time, zone=zone, org=org)
    await answer(message, Reply("\n".join([shown, t("usage-report")])))


async def report(message: Message, command: CommandObject, ctx: LookupContext) -> None:
    caller, t, directory, jobs, settings = ctx.caller, ctx.t, ctx.directory, ctx.jobs, ctx.settings
    words = (command.args or "").split()
    if not words:  # only blanks after the command
        await report_shown(message, ctx)
        return
    chat_id, thread = message.chat.id, thread_of(message)
    now = ctx.clock()
    zone = settings.bridge.timezone
    if [w.lower() for w in words] == ["off"]:
        if await refused_here(message, ctx, digest=True):
            return
        removed = await jobs.remove_report(chat_id, thread)
        await ctx.audit.add(caller.user_id, "report-off", str(chat_id), {}, str(removed), now)
        await answer(message, Reply(t("report-off" if removed else "report-none")))
        return
    at = parse_hhmm(words[1]) if len(words) >= 2 and words[0].lower() == "daily" else None
    if at is None:
        # A mistake: say which word, then how (what is set now stays as it is).
        if words[0].lower() != "daily":
            why = [t("err-word-here", text=words[0])]
        else:
            why = [t("err-hhmm", text=words[1])] if len(words) >= 2 else []
        await answer(message, Reply("\n".join([*why, t("usage-report")])))
        return
    org_id: int | None = None
    if len(words) > 2:
        query = " ".join(words[2:])
        found = directory.resolve(query, Kind.ORG, caller.scope)
        if len(found) != 1:
            # No buttons here: the digest names its org by id, so show the ids to type.
            text = org_ids_text(t, query, found)
            await answer(message, Reply(f"{text}\n{t('usage-report')}"))
            return
        org_id = found[0].id
    elif caller.scope is not None:
        org_id = caller.org_id
    if await refused_here(message, ctx, digest=True):
        return
    hhmm = at.strftime("%H:%M")
    saved, first = await jobs.set_report(chat_id, thread, hhmm, org_id, caller.user_id, now)
    await ctx.audit.add(
        caller.user_id, "report", str(chat_id), {"at": hhmm, "org": org_id}, "ok", now
    )
    text = report_set_text(t, saved, directory, zone, first, settings.bridge.tz, now=now)
    await answer(message, Reply(text))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.SUPERVISOR, lookup_context)
    r.message.register(attendance_or_signins, Command("attendance", "signins"))
    for what, action in ACTION.items():
        picked = NameArg(Kind.ORG, action, f"usage-{what}", more=True)
        r.callback_query.register(
            name_picked(picked, summary_picked(what)), PickCb.filter(F.action == action)
        )
    r.message.register(report_shown, Command("report", magic=~F.args))
    r.message.register(report, Command("report"), ChatManager(Role.SUPERVISOR))
    # What ChatManager refused to a supervisor: not an administrator of this group.
    r.message.register(chat_change_refused(Role.SUPERVISOR), Command("report"))
    return r
