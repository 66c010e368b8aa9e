"""/find <text>: users, talk groups and orgs that match, within the caller's scope.

`/find` alone asks for the text; the question is a dialog on the SQLite FSM
storage, so it survives a restart of the bridge.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message

from bot.access import Caller
from bot.directory import Directory
from bot.render.replies import Reply, T, find_results
from handlers.filters import MinRole, remember_asker
from handlers.reply import answer
from storage.roles import Role


class FindDialog(StatesGroup):
    query = State()


async def find(
    message: Message,
    command: CommandObject,
    caller: Caller,
    t: T,
    directory: Directory,
    state: FSMContext,
) -> None:
    query = (command.args or "").strip()
    if not query:
        await state.set_state(FindDialog.query)
        await answer(message, Reply(t("find-ask")))
        return
    sent = await answer(
        message, find_results(t, query, directory.search(query, scope=caller.scope))
    )
    await remember_asker(state.storage, sent, caller.user_id)  # its buttons answer the caller


async def find_answer(
    message: Message, caller: Caller, t: T, directory: Directory, state: FSMContext
) -> None:
    await state.clear()
    query = (message.text or "").strip()
    sent = await answer(
        message, find_results(t, query, directory.search(query, scope=caller.scope))
    )
    await remember_asker(state.storage, sent, caller.user_id)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = Router(name=__name__)
    r.message.filter(MinRole(Role.VIEWER))
    r.message.register(find, Command("find"))
    r.message.register(find_answer, FindDialog.query, F.text, ~F.text.startswith("/"))
    return r
