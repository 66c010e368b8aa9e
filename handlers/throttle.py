"""Incoming commands limited per user; replies to users without a role behind relays.

Forty commands from a group member without a role once cost forty "you have no access"
replies out of that group's twenty messages a minute, and the next incident waited for
them. Now each user's commands and button presses are counted in a sliding window —
generously for users with a role, tightly for users without one. A user over the limit is
told once, then ignored for `quiet_s`; and everything sent while handling an update from a
user without a role goes out under `bot.telegram.flood.low_priority()`, behind relayed and
scheduled messages.

An outer middleware on messages and callback queries, after `ContextMiddleware` (it reads
`caller`). Messages that are not commands in a group (chatter the bot sees as an admin,
service messages) are not counted: they get no reply.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.access import Caller
from bot.render.replies import Reply, T
from bot.telegram.flood import low_priority
from handlers.reply import answer
from storage.roles import Role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most `count` commands in any `period` seconds."""

    count: int
    period: float


KNOWN = Limit(120, 60.0)
"""Users with a role: far more than a person types or taps, less than a runaway script."""
STRANGER = Limit(5, 60.0)
"""Users without a role: /start, /help and a few tries."""
QUIET_S = 60.0
"""How long a user over the limit is ignored after being told."""
FORGET_AFTER = 10_000
"""Users remembered before the idle ones are forgotten."""


class Verdict(enum.Enum):
    ANSWER = "answer"
    TELL = "tell"  # over the limit: told once
    IGNORE = "ignore"  # told already: quiet until the time is up


class CommandThrottle(BaseMiddleware):
    """Counts each user's commands and presses; see the module's docstring."""

    def __init__(
        self,
        *,
        known: Limit = KNOWN,
        stranger: Limit = STRANGER,
        quiet_s: float = QUIET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.known = known
        self.stranger = stranger
        self.quiet_s = quiet_s
        self.clock = clock
        # Per user and tier: a user who just lost their role is not judged as a stranger
        # by the commands they sent while they had it.
        self._seen: dict[tuple[int, bool], deque[float]] = {}
        self._quiet_until: dict[int, float] = {}

    def install(self, dp: Dispatcher) -> CommandThrottle:
        """Register on messages and callback queries of `dp`; returns itself."""
        dp.message.outer_middleware(self)
        dp.callback_query.outer_middleware(self)
        return self

    def judge(self, user_id: int, *, has_role: bool) -> Verdict:
        """Count one command of `user_id` now and say what becomes of it."""
        now = self.clock()
        until = self._quiet_until.get(user_id)
        if until is not None:
            if now < until:
                return Verdict.IGNORE
            del self._quiet_until[user_id]
        limit = self.known if has_role else self.stranger
        times = self._seen.get((user_id, has_role))
        if times is None:
            if len(self._seen) >= FORGET_AFTER:
                self._forget(now)
            times = self._seen[user_id, has_role] = deque()
        horizon = now - limit.period
        while times and times[0] <= horizon:
            times.popleft()
        if len(times) < limit.count:
            times.append(now)
            return Verdict.ANSWER
        times.clear()  # after the quiet time, a fresh window
        self._quiet_until[user_id] = now + self.quiet_s
        return Verdict.TELL

    def _forget(self, now: float) -> None:
        """Drop users with nothing in any window and no quiet time running."""
        longest = max(self.known.period, self.stranger.period)
        for key in [k for k, ts in self._seen.items() if not ts or ts[-1] <= now - longest]:
            del self._seen[key]
        for user_id in [u for u, end in self._quiet_until.items() if end <= now]:
            del self._quiet_until[user_id]

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        caller: Caller | None = data.get("caller")
        if caller is None:  # no user (a channel post): nothing to count
            return await handler(event, data)
        has_role = caller.role is not Role.NONE
        with contextlib.nullcontext() if has_role else low_priority():
            verdict = (
                self.judge(caller.user_id, has_role=has_role) if _counts(event) else Verdict.ANSWER
            )
            if verdict is Verdict.ANSWER:
                return await handler(event, data)
            if verdict is Verdict.TELL:
                log.info(
                    "user %s over the command limit: ignored for %.0f s",
                    caller.user_id,
                    self.quiet_s,
                )
            await self._refuse(event, data["t"], tell=verdict is Verdict.TELL)
            return None

    async def _refuse(self, event: TelegramObject, t: T, *, tell: bool) -> None:
        seconds = round(self.quiet_s)
        try:
            if isinstance(event, CallbackQuery):
                # Answered either way, or the button spins; answers cost no message.
                if tell:
                    await event.answer(t.plain("throttled", seconds=seconds), show_alert=True)
                else:
                    await event.answer()
            elif tell and isinstance(event, Message):
                await answer(event, Reply(t("throttled", seconds=seconds)))
        except TelegramAPIError as exc:  # the chat refused it: the user stays ignored
            log.warning("could not tell a user they are over the command limit: %s", exc)


def _counts(event: TelegramObject) -> bool:
    """A button press, a command, or anything in private chat: what the bot answers."""
    if isinstance(event, CallbackQuery):
        return True
    if isinstance(event, Message):
        text = event.text or event.caption or ""
        return text.startswith("/") or event.chat.type == ChatType.PRIVATE
    return False
