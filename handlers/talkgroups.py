"""Talk groups from the chat (admin): /mkgroup <name> <org> [user...] and
/bind <group> <user>[:prio[:Y|N[:Y|N]]]...
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.directory import Kind
from bot.platform import GroupBinding
from bot.render.replies import Reply, bind_done_text
from handlers.admin import admin_router, arguments, audited, exactly_one, refresh
from handlers.lookup import CommandContext
from handlers.reply import answer


async def mkgroup(message: Message, command: CommandObject, ctx: CommandContext) -> None:
    t = ctx.t
    words = await arguments(
        message, command, t, "usage-mkgroup", lambda w: len(w) >= 2 and len(w[0]) <= 32
    )
    if words is None:
        return
    name, org_q, user_qs = words[0], words[1], words[2:]
    org = await exactly_one(message, ctx, org_q, Kind.ORG)
    if org is None:
        return
    uids: list[int] = []
    for q in user_qs:
        match = await exactly_one(message, ctx, q, Kind.USER)
        if match is None:
            return
        uids.append(match.id)
    args = {"name": name, "org": org.id, "users": uids}
    async with audited(ctx, "mkgroup", None, args) as entry:
        group = await ctx.platform.create_group(name, org.id, uids or None)
        entry.target = str(group.id)
    await answer(
        message,
        Reply(
            t(
                "mkgroup-done",
                name=group.name or name,
                id=group.id,
                org=org.label,
                members=len(uids),
            )
        ),
    )
    await refresh(ctx.directory)


def parse_binding(spec: str) -> tuple[str, int, bool, bool]:
    """`user[:prio[:Y|N[:Y|N]]]` -> (user, priority, may call, may speak); ValueError if wrong."""
    parts = spec.split(":")
    if not parts[0] or len(parts) > 4:
        raise ValueError(spec)
    prio = 10
    if len(parts) > 1:
        if not parts[1].isdigit() or not 1 <= int(parts[1]) <= 10:
            raise ValueError(spec)
        prio = int(parts[1])
    flags = []
    for p in parts[2:]:
        if p.upper() not in ("Y", "N"):
            raise ValueError(spec)
        flags.append(p.upper() == "Y")
    call = flags[0] if flags else True
    speak = flags[1] if len(flags) > 1 else True
    return parts[0], prio, call, speak


async def bind(message: Message, command: CommandObject, ctx: CommandContext) -> None:
    t = ctx.t
    words = await arguments(message, command, t, "usage-bind", lambda w: len(w) >= 2)
    if words is None:
        return
    group = await exactly_one(message, ctx, words[0], Kind.GROUP)
    if group is None:
        return
    bindings: list[GroupBinding] = []
    labels: list[str] = []
    for spec in words[1:]:
        try:
            q, prio, call, speak = parse_binding(spec)
        except ValueError:
            await answer(message, Reply(t("bind-bad-spec", spec=spec) + "\n" + t("usage-bind")))
            return
        match = await exactly_one(message, ctx, q, Kind.USER)
        if match is None:
            return
        bindings.append(GroupBinding(match.id, prio, call, speak))
        labels.append(
            t.plain(
                "bind-line",
                name=match.label,
                priority=prio,
                call=t.plain("yes" if call else "no"),
                speak=t.plain("yes" if speak else "no"),
            )
        )
    gid = group.id
    args = {"users": [b.to_body() for b in bindings]}
    async with audited(ctx, "bind", str(gid), args):
        await ctx.platform.bind_group(gid, bindings)
    await answer(message, Reply(bind_done_text(t, group.label, labels)))
    await refresh(ctx.directory)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = admin_router(__name__)
    r.message.register(mkgroup, Command("mkgroup"))
    r.message.register(bind, Command("bind"))
    return r
