"""What command handlers need, gathered once per update: `ctx`.

`CommandContext` for the viewer and admin commands (/online, /user, /org, /deluser, ...);
`LookupContext` adds what the supervisor commands (/where, /track, /recordings,
/attendance, /signins, /report, /watch, /unwatch) also use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any

from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import TelegramObject

from bot.access import Caller
from bot.app.services import Background, Clock, Timings
from bot.config import Settings
from bot.directory import Directory
from bot.jobs import Jobs
from bot.platform import PlatformClient
from bot.render.replies import T
from storage.audit import AuditRepo

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class CommandContext:
    """Who asks, in which language, and the services asked.

    Each field is named after the key of the handler data it comes from.
    """

    caller: Caller
    t: T
    lang: str
    directory: Directory
    platform: PlatformClient
    audit: AuditRepo
    settings: Settings
    bot: Bot
    clock: Clock  # the process's one clock: handlers never call datetime.now
    fsm_storage: BaseStorage  # dialogs, and whose buttons a message's are


@dataclass(frozen=True)
class LookupContext(CommandContext):
    """A `CommandContext` with the work and jobs the supervisor commands start."""

    background: Background  # work that outlives the update
    timings: Timings
    jobs: Jobs


def filled_context(
    kind: type[CommandContext],
) -> Callable[[Handler, TelegramObject, dict[str, Any]], Awaitable[Any]]:
    async def middleware(handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["ctx"] = kind(**{f.name: data[f.name] for f in fields(kind)})
        return await handler(event, data)

    return middleware


# Inner middlewares: they run after the router's role filter, so `caller` is there by then.
command_context = filled_context(CommandContext)
"""Puts a `CommandContext` into the handler data as `ctx`."""
lookup_context = filled_context(LookupContext)
"""Puts a `LookupContext` into the handler data as `ctx`."""
