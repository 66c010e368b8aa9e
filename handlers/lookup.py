"""What the supervisor commands (/where, /track, /recordings, /attendance, /signins, /report,
/watch, /unwatch) need, gathered once per update."""

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


@dataclass(frozen=True)
class LookupContext:
    """Who looks up, in which language, and the services asked.

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
    background: Background  # work that outlives the update
    timings: Timings
    clock: Clock  # the process's one clock: handlers never call datetime.now
    jobs: Jobs
    fsm_storage: BaseStorage  # dialogs, and whose buttons a message's are


async def lookup_context(
    handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
    event: TelegramObject,
    data: dict[str, Any],
) -> Any:
    """Inner middleware: puts a `LookupContext` into the handler data as `ctx`.

    Inner, so it runs after the router's role filter: `caller` is there by then.
    """
    data["ctx"] = LookupContext(**{f.name: data[f.name] for f in fields(LookupContext)})
    return await handler(event, data)
