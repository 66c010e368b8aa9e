"""Terminals from the chat (admin): /device <id> assign <account>|idle|repair.

A scoped admin may change only a terminal the bridge last assigned, here, to a user of
their subtree.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.directory import Directory, Kind
from bot.platform import DeviceState
from bot.render.replies import Reply
from handlers.admin import admin_router, arguments, audited, exactly_one
from handlers.lookup import CommandContext
from handlers.reply import answer
from storage.audit import AuditRepo


def _device_words(words: list[str]) -> bool:
    # 2.11 `id` is a number: ASCII digits only (str.isdigit alone also takes "²").
    return len(words) >= 2 and words[0].isascii() and words[0].isdigit() and len(words[0]) <= 20


async def device(message: Message, command: CommandObject, ctx: CommandContext) -> None:
    t, directory, caller = ctx.t, ctx.directory, ctx.caller
    words = await arguments(message, command, t, "usage-device", _device_words)
    if words is None:
        return
    terminal, action = words[0], words[1].lower()
    account: str | None = None
    if action == "assign" and len(words) == 3:
        match = await exactly_one(message, ctx, words[2], Kind.USER)
        if match is None:
            return
        user = directory.user(match.id)
        assert user is not None
        account, state = user.account, DeviceState.ASSIGNED
    elif action == "idle" and len(words) == 2:
        state = DeviceState.IDLE
    elif action == "repair" and len(words) == 2:
        state = DeviceState.REPAIR
    else:
        await answer(message, Reply(t("usage-device")))
        return
    if caller.scope is not None and not await _terminal_in_scope(
        terminal, caller.scope, directory, ctx.audit
    ):
        await answer(message, Reply(t("device-not-found", id=terminal)))
        return
    args = {"state": state.name.lower(), "account": account}
    async with audited(ctx, "device", terminal, args):
        await ctx.platform.bind_device(terminal, state, account)
    await answer(
        message,
        Reply(t(f"device-{state.name.lower()}", id=terminal, account=account or "")),
    )


async def _terminal_in_scope(
    terminal: str, scope: frozenset[int], directory: Directory, audit: AuditRepo
) -> bool:
    """Whether a terminal belongs inside an org subtree.

    The platform has no call that reads a terminal, so the bridge knows a terminal only
    from its own /device: it belongs to the user it was last assigned to here (set idle
    or under repair since, it stays theirs). A terminal never assigned through the bridge,
    or whose user is gone or outside the subtree, is outside it.
    """
    last = await audit.last_ok("device", terminal, state=DeviceState.ASSIGNED.name.lower())
    account = last.args.get("account") if last is not None else None
    if not isinstance(account, str):
        return False
    return any(
        (u := directory.user(m.id, scope)) is not None and u.account == account
        for m in directory.resolve(account, Kind.USER, scope)
    )


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = admin_router(__name__)
    r.message.register(device, Command("device"))
    return r
