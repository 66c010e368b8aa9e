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

from bot.render.replies import Reply, find_results
from handlers.filters import feature_router, remember_asker
from handlers.lookup import CommandContext, command_context
from handlers.reply import answer
from storage.roles import Role


class FindDialog(StatesGroup):
    query = State()


async def _results(message: Message, query: str, ctx: CommandContext) -> None:
    found = ctx.directory.search(query, scope=ctx.caller.scope)
    sent = await answer(message, find_results(ctx.t, query, found))
    await remember_asker(ctx.fsm_storage, sent, ctx.caller.user_id)  # its buttons answer the caller


async def find(
    message: Message, command: CommandObject, ctx: CommandContext, state: FSMContext
) -> None:
    query = (command.args or "").strip()
    if not query:
        await state.set_state(FindDialog.query)
        await answer(message, Reply(ctx.t("find-ask")))
        return
    await _results(message, query, ctx)


async def find_answer(message: Message, ctx: CommandContext, state: FSMContext) -> None:
    await state.clear()
    await _results(message, (message.text or "").strip(), ctx)


def router() -> Router:
    """A fresh router of this feature, for one dispatcher: handlers in the order tried."""
    r = feature_router(__name__, Role.VIEWER, command_context)
    r.message.register(find, Command("find"))
    r.message.register(find_answer, FindDialog.query, F.text, ~F.text.startswith("/"))
    return r
