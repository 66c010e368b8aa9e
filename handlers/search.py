"""/find <text>: users, talk groups and orgs that match, within the caller's scope."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.access import Caller
from bot.directory import Directory
from bot.render import Reply, T, find_results
from handlers.filters import MinRole
from handlers.reply import answer
from storage.roles import Role

router = Router(name=__name__)
router.message.filter(MinRole(Role.VIEWER))


@router.message(Command("find"))
async def find(
    message: Message, command: CommandObject, caller: Caller, t: T, directory: Directory
) -> None:
    query = (command.args or "").strip()
    if not query:
        await answer(message, Reply(t("usage-find")))
        return
    matches = directory.search(query, scope=caller.scope, limit=20)
    await answer(message, find_results(t, query, matches))
