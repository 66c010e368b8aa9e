"""Turning a name typed in a command into one entity, or asking which one."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.access import Caller
from bot.directory import Directory, Kind, Match
from bot.render.replies import Reply, T, choices
from bot.telegram.callbacks import PickAction
from handlers.filters import remember_asker
from handlers.reply import answer

_ARGS_KEY = "pick_args"


async def resolve_or_ask(
    message: Message,
    t: T,
    directory: Directory,
    caller: Caller,
    query: str,
    kind: Kind | tuple[Kind, ...],
    action: PickAction,
    *,
    state: FSMContext | None = None,
    rest: list[str] | None = None,
) -> Match | None:
    """The match when `query` names exactly one visible entity; else reply and return None.

    Nothing outside the caller's scope is ever a candidate: it is "not found". When
    buttons are shown they answer the caller only (`remember_asker`: pass `state`), and
    the command's other arguments (`rest`) are kept in the FSM data so the choice can
    finish the command as typed.
    """
    found = directory.resolve(query, kind, caller.scope, limit=50)
    if len(found) == 1:
        return found[0]
    if not found:
        what = kind.value if isinstance(kind, Kind) else "/".join(k.value for k in kind)
        await answer(message, Reply(t("not-found", kind=what, query=query)))
        return None
    if state is not None and rest is not None:
        # Kept even when empty: a choice must not inherit an earlier command's arguments.
        data = await state.get_data()
        pending = dict(data.get(_ARGS_KEY) or {})
        pending[action.value] = rest
        await state.update_data({_ARGS_KEY: pending})
    sent = await answer(message, choices(t, found, action, query))
    if state is not None:
        await remember_asker(state.storage, sent, caller.user_id)
    return None


async def picked_args(state: FSMContext, action: PickAction) -> list[str]:
    """The other arguments of the command whose name was ambiguous."""
    data = await state.get_data()
    pending = data.get(_ARGS_KEY) or {}
    args = pending.get(action.value) or []
    return [str(a) for a in args]
