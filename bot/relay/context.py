"""What every part of the relay and every scheduled job is built with.

The composition root makes one `Context` and gives each part the repositories it uses
besides: no part builds a repository of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.directory import Directory
from bot.i18n import Translate
from bot.platform import PlatformClient
from storage.db import Database


@dataclass(frozen=True)
class Context:
    """The one database, the platform, the directory, the words and zone of what goes to
    chats (`BRIDGE_LANGUAGE`, `BRIDGE_TIMEZONE`), the clock, and the delivery worker's
    wake-up (there are new outbox rows)."""

    db: Database
    platform: PlatformClient
    directory: Directory
    t: Translate
    tz: tzinfo
    clock: Callable[[], datetime]
    wake: Callable[[], None]


class Part:
    """A part of the relay or a job: its context as attributes (`self.db`, `self.t`, ...)."""

    def __init__(self, ctx: Context) -> None:
        self.db = ctx.db
        self.platform = ctx.platform
        self.directory = ctx.directory
        self.t = ctx.t
        self.tz = ctx.tz
        self.clock = ctx.clock
        self.wake = ctx.wake
