"""The one position poll (`position-poll`, every `BRIDGE_FOLLOW_POLL_S`).

Follows and geofence watches are served together: each tick takes the union of the users
they concern, asks 2.4 (`latest_fixes`) once for all of them — in the client's batches
of `FIXES_PER_CALL` users, what one request carries — and hands the same fixes (WGS-84:
the client converts GCJ-02) to the follows and to the fences. A user followed in five
chats and watched by three fences costs one place in one lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from bot.jobs.follows import FollowUpdater
from bot.platform.models import Fix
from bot.relay.context import Context, Part


class FixWatcher(Protocol):
    """What else the poll serves (the geofences: `bot.jobs.fences.FenceWatcher`)."""

    async def users(self, now: datetime) -> set[int]: ...

    async def on_fixes(self, fixes: Mapping[int, Fix], now: datetime) -> None: ...


class PositionPoll(Part):
    """One tick: whom, one batched 2.4 lookup, then follows and fences."""

    def __init__(self, ctx: Context, follows: FollowUpdater, fences: FixWatcher) -> None:
        super().__init__(ctx)
        self.follows = follows
        self.fences = fences

    async def users(self, now: datetime) -> set[int]:
        return await self.follows.users(now) | await self.fences.users(now)

    async def fixes(self, users: set[int]) -> dict[int, Fix]:
        """The latest fix of each of these users that has one."""
        return {fix.uid: fix for fix in await self.platform.latest_fixes(sorted(users))}

    async def poll(self, now: datetime) -> None:
        fixes = await self.fixes(await self.users(now))
        failed: Exception | None = None
        try:
            await self.follows.on_fixes(fixes, now)
        except Exception as exc:  # the fences still get this tick's fixes; then it counts
            failed = exc
        await self.fences.on_fixes(fixes, now)
        if failed is not None:
            raise failed
