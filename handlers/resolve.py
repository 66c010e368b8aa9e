"""Turning a name typed in a command into one entity, or asking which one.

Every command that takes a name opens the same way: read the argument, answer the usage
line when it is missing, resolve the name in the caller's scope (nothing: "not found";
several: buttons to pick from), then show what was named. `NameArg.read` is that
opening; `name_command` and `name_picked` build a feature's handlers around what it
shows, for the command and for the button that picks among several matches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiogram.enums import ChatAction
from aiogram.filters import CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import CallbackQuery, MaybeInaccessibleMessage, Message
from aiogram.utils.chat_action import ChatActionSender

from bot.access import Caller
from bot.directory import Directory, Kind, Match
from bot.render.replies import Reply, T, choices
from bot.telegram.callbacks import PickAction, PickCb
from handlers.filters import remember_asker
from handlers.lookup import CommandContext
from handlers.reply import answer

_ARGS_KEY = "pick_args"
PICKS = "pick-commands"
PICKS_KEPT = 200  # per chat: the newest pick messages' commands

C = TypeVar("C", bound=CommandContext)


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
    keep: Mapping[str, Any] | None = None,
) -> Match | None:
    """The match when `query` names exactly one visible entity; else reply and return None.

    Nothing outside the caller's scope is ever a candidate: it is "not found". When
    buttons are shown they answer the caller only (`remember_asker`: pass `state`), and
    the command's other arguments (`rest`) are kept in the FSM data so the choice can
    finish the command as typed; or `keep`, what a command needs to finish, is kept with
    the buttons' message (`kept_for_pick`).
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
        if keep is not None:
            await _keep_for_pick(state.storage, sent, action, keep)
    return None


def _picks_key(bot_id: int, chat_id: int) -> StorageKey:
    return StorageKey(bot_id=bot_id, chat_id=chat_id, user_id=chat_id, destiny=PICKS)


async def _keep_for_pick(
    storage: BaseStorage, sent: Message, action: PickAction, keep: Mapping[str, Any]
) -> None:
    # With the message, per chat (the newest kept): a tap on any of a chat's pick messages
    # finishes its own command, after a restart too.
    if sent.bot is None:
        return
    key = _picks_key(sent.bot.id, sent.chat.id)
    kept = await storage.update_data(key, {str(sent.message_id): [action.value, dict(keep)]})
    if len(kept) > PICKS_KEPT + 20:
        newest = sorted(kept, key=int)[-PICKS_KEPT:]
        await storage.set_data(key, {k: kept[k] for k in newest})


async def kept_for_pick(
    storage: BaseStorage, message: MaybeInaccessibleMessage | None, action: PickAction
) -> dict[str, Any] | None:
    """What `resolve_or_ask(keep=…)` kept with this message of `action`'s buttons; None:
    nothing (a message too old, inaccessible, or not one of those)."""
    if not isinstance(message, Message) or message.bot is None:
        return None
    kept = await storage.get_data(_picks_key(message.bot.id, message.chat.id))
    entry = kept.get(str(message.message_id))
    if not isinstance(entry, list) or len(entry) != 2 or entry[0] != action.value:
        return None
    data = entry[1]
    return data if isinstance(data, dict) else None


K = TypeVar("K")


async def kept_pick(
    callback: CallbackQuery,
    ctx: CommandContext,
    action: PickAction,
    load: Callable[[dict[str, Any]], K | None],
) -> tuple[Message, K] | None:
    """A pick button of a command kept with its message (`kept_for_pick`): the message and
    what `load` reads of what was kept, the button answered; None when nothing usable is
    kept (an expired or foreign button), refused in words."""
    msg = callback.message
    kept = await kept_for_pick(ctx.fsm_storage, msg, action)
    loaded = load(kept) if kept is not None else None
    if loaded is None or not isinstance(msg, Message):
        await callback.answer(ctx.t.plain("button-expired"), show_alert=True)
        return None
    await callback.answer()
    return msg, loaded


def picked_match(directory: Directory, caller: Caller, kind: Kind, id_: int) -> Match | None:
    """The user or group a pick button names, if the presser may see it (a forged button
    may name anything)."""
    if kind not in (Kind.USER, Kind.GROUP) or not directory.in_scope(kind, id_, caller.scope):
        return None
    return Match(kind, id_, directory.label(kind, id_), True)


async def picked_args(state: FSMContext, action: PickAction) -> list[str]:
    """The other arguments of the command whose name was ambiguous."""
    data = await state.get_data()
    pending = data.get(_ARGS_KEY) or {}
    args = pending.get(action.value) or []
    return [str(a) for a in args]


@dataclass(frozen=True)
class Named:
    """What a command named (typed, or picked with a button), and its other arguments."""

    kind: Kind
    id: int
    rest: list[str]


@dataclass(frozen=True)
class NameArg:
    """How a command takes a name: of which kinds, which pick buttons it gets, the usage
    line answered without one, and whether other arguments follow the name.

    With `more`, the name is the first word and the words after it are the command's other
    arguments (kept for a pick, so the choice finishes the command as typed); without, the
    whole argument is the name (a name may hold spaces).
    """

    kind: Kind | tuple[Kind, ...]
    action: PickAction
    usage: str
    more: bool = False

    async def read(
        self, message: Message, command: CommandObject, ctx: CommandContext, state: FSMContext
    ) -> tuple[Match, list[str]] | None:
        """The one match and the other arguments; else the answer is given and None."""
        if self.more:
            words = (command.args or "").split()
            query, rest = (words[0], words[1:]) if words else ("", [])
        else:
            query, rest = (command.args or "").strip(), []
        if not query:
            await answer(message, Reply(ctx.t(self.usage)))
            return None
        match = await resolve_or_ask(
            message,
            ctx.t,
            ctx.directory,
            ctx.caller,
            query,
            self.kind,
            self.action,
            state=state,
            rest=rest if self.more else None,
        )
        return None if match is None else (match, rest)


Show = Callable[[Message, Named, C], Awaitable[None]]


def name_command(
    arg: NameArg, show: Show[C], chat_action: ChatAction | None = None
) -> Callable[[Message, CommandObject, C, FSMContext], Awaitable[None]]:
    """The command's handler: `arg.read`, then `show` (under `chat_action`, if any)."""

    async def command_handler(
        message: Message, command: CommandObject, ctx: C, state: FSMContext
    ) -> None:
        read = await arg.read(message, command, ctx, state)
        if read is None:
            return
        match, rest = read
        named = Named(match.kind, match.id, rest)
        if chat_action is None:
            await show(message, named, ctx)
            return
        async with ChatActionSender(
            bot=ctx.bot,
            chat_id=message.chat.id,
            message_thread_id=message.message_thread_id,
            action=chat_action,
        ):
            await show(message, named, ctx)

    return command_handler


def name_picked(
    arg: NameArg, show: Show[C]
) -> Callable[[CallbackQuery, PickCb, C, FSMContext], Awaitable[None]]:
    """The handler of `arg`'s pick buttons: `show` what was picked, in the chat."""

    async def picked_handler(
        callback: CallbackQuery, callback_data: PickCb, ctx: C, state: FSMContext
    ) -> None:
        await callback.answer()
        if not isinstance(callback.message, Message):
            return
        rest = await picked_args(state, arg.action) if arg.more else []
        await show(callback.message, Named(callback_data.kind, callback_data.id, rest), ctx)

    return picked_handler
