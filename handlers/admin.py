"""Admin chores from the chat, and what they share.

The commands live by concern: accounts (/register, /deluser: `handlers.accounts`), talk
groups (/mkgroup, /bind: `handlers.talkgroups`), terminals (/device: `handlers.devices`);
the audit trail (/audit) is here.

Every argument is checked before a platform call; destructive actions ask to
confirm; every action is written to the audit log (never a password); the
directory is refreshed after each change so /find sees it at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.access import Caller, grant_within
from bot.app.services import Clock
from bot.config import Settings
from bot.directory import Directory, Kind, Match
from bot.platform import PlatformError
from bot.render.audit import audit_text
from bot.render.csvfile import csv_bytes
from bot.render.replies import Reply, T
from bot.telegram.callbacks import ConfirmAction, ConfirmCb
from handlers.filters import feature_router
from handlers.lookup import CommandContext, command_context
from handlers.reply import answer
from storage.audit import AuditEntry, AuditRepo
from storage.roles import Role, RoleRepo
from storage.users import UserRepo


def admin_router(name: str) -> Router:
    """A fresh router of admin commands: admins only, with `ctx` (a `CommandContext`)."""
    return feature_router(name, Role.ADMIN, command_context)


def confirm_kb(t: T, action: ConfirmAction) -> Any:
    kb = InlineKeyboardBuilder()
    kb.button(text=t.plain("btn-confirm"), callback_data=ConfirmCb(action=action, ok=True))
    kb.button(text=t.plain("btn-cancel"), callback_data=ConfirmCb(action=action, ok=False))
    return kb.as_markup()


async def arguments(
    message: Message, command: CommandObject, t: T, usage: str, fits: Callable[[list[str]], bool]
) -> list[str] | None:
    """The command's words when `fits` takes them; else the usage line is answered and None."""
    words = (command.args or "").split()
    if fits(words):
        return words
    await answer(message, Reply(t(usage)))
    return None


async def exactly_one(
    message: Message, ctx: CommandContext, query: str, kind: Kind
) -> Match | None:
    """The one entity `query` names in the caller's scope; else say why and return None.

    Admin commands act on exactly what was named: no buttons to pick from.
    """
    found = ctx.directory.resolve(query, kind, ctx.caller.scope)
    if len(found) == 1:
        return found[0]
    key = "not-found" if not found else "admin-ambiguous"
    names = ", ".join(m.label for m in found[:8])
    await answer(message, Reply(ctx.t(key, kind=kind.value, query=query, names=names)))
    return None


async def refresh(directory: Directory) -> None:
    # Awaited (after the answer), not spawned: the admin's next /find must see the change.
    # `refresh` keeps the last good snapshot and logs when the platform fails; never raises.
    await directory.refresh()


@dataclass
class PendingAudit:
    """What `audited` writes; set `target`/`args` inside the block to what the write made."""

    target: str | None
    args: dict[str, Any]


@asynccontextmanager
async def audited(
    ctx: CommandContext, action: str, target: str | None, args: dict[str, Any]
) -> AsyncIterator[PendingAudit]:
    """`async with audited(ctx, action, target, args) as entry:` around a
    platform write: the audit log gets "ok" when the block ends, or the platform's error
    (its first 200 characters) when it refuses; the error then goes on to the error
    handler, which tells the user. What is known only after the write (a new group's id,
    the names deleted) is set on `entry` inside the block: a failure logs what was asked.
    """
    entry = PendingAudit(target, args)
    try:
        yield entry
    except PlatformError as exc:
        result = str(exc)[:200]
        await ctx.audit.add(
            ctx.caller.user_id, action, entry.target, entry.args, result, ctx.clock()
        )
        raise
    await ctx.audit.add(ctx.caller.user_id, action, entry.target, entry.args, "ok", ctx.clock())


# -- /audit ---------------------------------------------------------------------------------


async def _audit_actors(caller: Caller, roles: RoleRepo, settings: Settings) -> list[int] | None:
    """Whose entries the caller sees in /audit: None for all (an unscoped admin).

    A scoped admin sees the entries of the people whose role is held inside their subtree,
    themselves included: everything those could do stayed inside it. Not the bridge's own,
    not those of unscoped roles or of the settings' admins (they may concern anything),
    nor of people who hold no role now. An actor's entries follow their grant as it is
    today: entries of someone later moved into the subtree show, those of someone moved
    out do not.
    """
    if caller.scope is None:
        return None
    admins = set(settings.bridge.admin_ids)
    return [
        g.user_id
        for g in await roles.list()
        if g.user_id not in admins and grant_within(g, caller.scope)
    ]


async def audit_log(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    audit: AuditRepo,
    roles: RoleRepo,
    settings: Settings,
    users: UserRepo,
    clock: Clock,
) -> None:
    arg = (command.args or "").strip().lower()
    tz = settings.bridge.tz
    actors = await _audit_actors(caller, roles, settings)
    if arg == "csv":
        since = clock() - timedelta(days=90)
        entries = await audit.all_since(since, actors)
        rows: list[list[object]] = []
        for e in entries:
            seen = await users.get(e.actor_id) if e.actor_id else None
            rows.append(
                [
                    e.at.astimezone(tz).isoformat(timespec="seconds"),
                    e.actor_id or "",
                    seen.full_name if seen else "",
                    e.action,
                    e.target or "",
                    e.args,
                    e.result,
                ]
            )
        header = ["at", "actor_id", "actor", "action", "target", "args", "result"]
        data = csv_bytes(header, rows)  # every cell neutralised: names are typed by anyone
        await message.answer_document(
            BufferedInputFile(data, filename="audit.csv"),
            caption=t("audit-csv", count=len(entries)),
        )
        return
    if arg and not (arg.isascii() and arg.isdigit()):  # not "²", which int() refuses
        await answer(message, Reply(t("usage-audit")))
        return
    n = min(int(arg or 20), 200)
    entries = await audit.latest(n, actors)
    if not entries:
        await answer(message, Reply(t("audit-none")))
        return
    shown: list[tuple[AuditEntry, str]] = []
    for e in entries:
        seen = await users.get(e.actor_id) if e.actor_id else None
        who = seen.full_name if seen else (str(e.actor_id) if e.actor_id else "bridge")
        shown.append((e, who))
    await answer(message, Reply(audit_text(t, shown, tz)))


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = admin_router(__name__)
    r.message.register(audit_log, Command("audit"))
    return r
