"""Turning a name typed in a command into one entity, or asking which one."""

from __future__ import annotations

from aiogram.types import Message

from bot.access import Caller
from bot.callbacks import PickAction
from bot.directory import Directory, Kind
from bot.render import Reply, T, choices
from bot.text import esc
from handlers.reply import answer


async def resolve_or_ask(
    message: Message,
    t: T,
    directory: Directory,
    caller: Caller,
    query: str,
    kind: Kind,
    action: PickAction,
) -> int | None:
    """The id when `query` names exactly one visible entity; else reply and return None.

    Nothing outside the caller's scope is ever a candidate: it is "not found".
    """
    found = directory.resolve(query, kind, caller.scope)
    if len(found) == 1:
        return found[0].id
    if not found:
        await answer(message, Reply(t("not-found", kind=kind.value, query=esc(query))))
        return None
    await answer(message, choices(t, found, action, query))
    return None
