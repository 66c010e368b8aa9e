"""/subscribe, /unsubscribe, /subscriptions, /mute: what this chat (or topic) receives.

Who may change it: an admin, or a supervisor who administers this group chat (in a
private chat, the person themself). `/mute` is for any administrator of the chat.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, Filter
from aiogram.types import Message

from bot.access import Caller
from bot.config import Settings
from bot.directory import Directory
from bot.relay.service import Relay
from bot.render import Reply, T
from handlers.reply import answer
from storage.audit import AuditRepo
from storage.mutes import MuteRepo
from storage.roles import Role
from storage.subscriptions import KINDS, Subscription

if TYPE_CHECKING:
    from bot.jobs import Jobs

router = Router(name=__name__)

MUTE_MAX = timedelta(days=7)


async def _is_chat_admin(bot: Bot, message: Message, user_id: int) -> bool:
    if message.chat.type == ChatType.PRIVATE:
        return True
    member = await bot.get_chat_member(message.chat.id, user_id)
    return member.status in ("creator", "administrator")


class ChatManager(Filter):
    """An admin; or, with at least `role`, an administrator of this chat."""

    def __init__(self, role: Role | None) -> None:
        self.role = role

    async def __call__(self, message: Message, bot: Bot, caller: Caller | None = None) -> bool:
        if caller is None:
            return False
        if caller.role >= Role.ADMIN:
            return True
        if self.role is not None and caller.role < self.role:
            return False
        return await _is_chat_admin(bot, message, caller.user_id)


def thread_of(message: Message) -> int:
    return (message.message_thread_id or 0) if message.is_topic_message else 0


def describe(t: T, sub: Subscription, directory: Directory) -> str:
    parts = [t.plain(f"kind-{sub.kind}")]
    if sub.orgs:
        names = []
        for o in sub.orgs:
            org = directory.org(o)
            names.append(org.name if org else str(o))
        parts.append(t.plain("sub-orgs", orgs="、".join(names)))
    if sub.levels:
        parts.append(t.plain("sub-levels", levels=", ".join(sub.levels)))
    return " — ".join(parts)


def parse_subscribe(words: list[str]) -> tuple[list[str], list[int], list[str]]:
    """`<kind...> [org <id...>] [level <l...>]` -> kinds, org ids, levels; ValueError if wrong."""
    kinds: list[str] = []
    orgs: list[int] = []
    levels: list[str] = []
    mode = "kind"
    for w in words:
        lw = w.lower()
        if lw in ("org", "orgs"):
            mode = "org"
        elif lw in ("level", "levels"):
            mode = "level"
        elif mode == "kind":
            if lw == "all":
                kinds.extend(KINDS)
            elif lw in KINDS:
                kinds.append(lw)
            else:
                raise ValueError(w)
        elif mode == "org":
            if not w.isdigit():
                raise ValueError(w)
            orgs.append(int(w))
        else:
            levels.append(w)
    if not kinds or (mode == "org" and not orgs) or (mode == "level" and not levels):
        raise ValueError("")
    return list(dict.fromkeys(kinds)), orgs, levels


@router.message(Command("subscribe"), ChatManager(Role.SUPERVISOR))
async def subscribe(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    relay: Relay,
    directory: Directory,
    audit: AuditRepo,
) -> None:
    try:
        kinds, orgs, levels = parse_subscribe((command.args or "").split())
    except ValueError:
        await answer(message, Reply(t("usage-subscribe")))
        return
    for o in orgs:
        if directory.org(o, caller.scope) is None:
            await answer(message, Reply(t("not-found", kind="org", query=o)))
            return
    if caller.scope is not None and not orgs and caller.org_id is not None:
        orgs = [caller.org_id]  # a scoped person subscribes only to their own subtree
    subs = relay.subs
    thread = thread_of(message)
    done = []
    for kind in kinds:
        done.append(
            await subs.set(
                message.chat.id, thread, kind, tuple(orgs), tuple(levels), caller.user_id
            )
        )
    await audit.add(
        caller.user_id,
        "subscribe",
        str(message.chat.id),
        {"kinds": kinds, "orgs": orgs, "levels": levels, "thread": thread},
        "ok",
        datetime.now(UTC),
    )
    lines = [t("sub-done")] + [f"• {describe(t, s, directory)}" for s in done]
    await answer(message, Reply("\n".join(lines)))


@router.message(Command("unsubscribe"), ChatManager(Role.SUPERVISOR))
async def unsubscribe(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    relay: Relay,
    audit: AuditRepo,
) -> None:
    arg = (command.args or "").strip().lower()
    if arg != "all" and arg not in KINDS:
        await answer(message, Reply(t("usage-unsubscribe")))
        return
    subs = relay.subs
    n = await subs.remove(message.chat.id, thread_of(message), None if arg == "all" else arg)
    await audit.add(
        caller.user_id,
        "unsubscribe",
        str(message.chat.id),
        {"kind": arg},
        str(n),
        datetime.now(UTC),
    )
    await answer(message, Reply(t("unsub-done", count=n)))


@router.message(Command("subscriptions"), ChatManager(Role.SUPERVISOR))
async def subscriptions(
    message: Message,
    t: T,
    relay: Relay,
    directory: Directory,
    mutes: MuteRepo,
    settings: Settings,
    jobs: Jobs | None = None,
) -> None:
    subs = relay.subs
    rows = await subs.for_chat(message.chat.id)
    # Presence watches and the daily digest are listed too (bot.jobs).
    extra = await jobs.describe_chat(t, message.chat.id) if jobs is not None else []
    lines: list[str] = []
    if not rows and not extra:
        lines.append(t("subs-none"))
    else:
        lines.append(t("subs-title"))
        for s in rows:
            where = t.plain("subs-topic", thread=s.thread_id) if s.thread_id else ""
            lines.append(f"• {describe(t, s, directory)}{where}")
        lines += extra
    until = await mutes.get(message.chat.id)
    if until is not None and until > datetime.now(UTC):
        lines.append("")
        lines.append(t("mute-on", until=until.astimezone(settings.bridge.tz).strftime("%H:%M")))
    lines.append("")
    lines.append(t("usage-subscribe"))
    await answer(message, Reply("\n".join(lines)))


@router.message(Command("mute"), ChatManager(None))
async def mute(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    mutes: MuteRepo,
    settings: Settings,
    audit: AuditRepo,
    relay: Relay,
) -> None:
    arg = (command.args or "30m").strip().lower()
    now = datetime.now(UTC)
    if arg == "off":
        # The delivery worker sends the summary once the mute has ended.
        await mutes.set(message.chat.id, now, caller.user_id, now)
        relay.wake()
        await answer(message, Reply(t("mute-off")))
        return
    delta = _duration(arg)
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


def _duration(text: str) -> timedelta | None:
    units = {"m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        return None
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])
