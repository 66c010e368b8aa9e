"""Presence watch: who of a watched talk group came online or went offline.

Every `BRIDGE_PRESENCE_POLL_S` the union of watched groups is polled — each group
once, however many chats watch it: 2.3 for its members, and 2.2 for those coming
online (to say whether in this group or another). A member's new
state is told only when two polls in a row saw it (a radio dropping off for a few
seconds is not news), and each chat gets at most one message per poll, covering
every group it watches. State and messages are written in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from bot.directory import DirGroup
from bot.jobs.common import Job, enqueue_text
from bot.platform import PlatformError
from bot.relay.context import Context
from bot.render.jobs import PresenceBlock, PresenceItem, presence_text
from storage.outbox import OutboxRepo
from storage.watches import Presence, PresenceChange, PresenceRepo, Watch, WatchRepo

log = logging.getLogger(__name__)

CONCURRENT_GROUPS = 8


@dataclass(frozen=True)
class Observation:
    """One poll of one group: each member online or offline, and who is in this group."""

    group_id: int
    states: dict[int, Presence]
    here: frozenset[int]

    @property
    def online(self) -> int:
        return sum(1 for s in self.states.values() if s == "online")


class PresenceWatch(Job):
    def __init__(
        self, ctx: Context, outbox: OutboxRepo, watches: WatchRepo, presence: PresenceRepo
    ) -> None:
        super().__init__(ctx, outbox)
        self.watches = watches
        self.state = presence

    async def observe(self, group: DirGroup) -> Observation:
        """Ask the platform about a group's members: 2.3 (online, in any group) for all of
        them; 2.2 (online in this group) only for those who may be coming online, to say
        where — on most polls nobody is, and the group costs one call."""
        uids = list(group.member_ids)
        if not uids:
            return Observation(group.id, {}, frozenset())
        online = set(await self.platform.online_uids(group.id, uids))
        states: dict[int, Presence] = {u: "online" if u in online else "offline" for u in uids}
        told = await self.state.told(group.id)
        rising = [u for u in uids if states[u] == "online" and told.get(u) == "offline"]
        here = await self.platform.in_group_uids(group.id, rising) if rising else []
        return Observation(group.id, states, frozenset(here))

    async def poll(self, now: datetime) -> int:
        """One tick: poll every watched group once, tell confirmed changes; returns messages
        queued. A group the platform failed for is skipped this time (the others are told)
        and the first such error is raised at the end, so the job counts as failed."""
        watches = await self.watches.active()
        gids = sorted({w.group_id for w in watches})
        if not gids:
            return 0
        sem = asyncio.Semaphore(CONCURRENT_GROUPS)

        async def one(gid: int) -> Observation | None:
            group = self.directory.group(gid)
            if group is None:
                log.info("watched group %s is not in the directory; skipped", gid)
                return None
            async with sem:
                return await self.observe(group)

        results = await asyncio.gather(*(one(g) for g in gids), return_exceptions=True)
        failures: list[BaseException] = []
        observed: list[Observation] = []
        for gid, res in zip(gids, results, strict=True):
            if isinstance(res, BaseException):
                if not isinstance(res, PlatformError):
                    raise res
                log.warning("presence of group %s not polled: %s", gid, res)
                failures.append(res)
            elif res is not None:
                observed.append(res)
        queued = 0
        async with self.db.transaction():
            changes: dict[int, tuple[list[PresenceChange], frozenset[int]]] = {}
            for obs in observed:
                found = await self.state.apply(obs.group_id, obs.states, now)
                if found:
                    changes[obs.group_id] = (found, obs.here)
            if changes:
                queued = await self._tell(watches, changes, now)
        if queued:
            self.wake()
        if failures:
            raise failures[0]
        return queued

    async def _tell(
        self,
        watches: list[Watch],
        changes: dict[int, tuple[list[PresenceChange], frozenset[int]]],
        now: datetime,
    ) -> int:
        per_chat: dict[tuple[int, int], list[PresenceBlock]] = {}
        for w in watches:
            if w.group_id not in changes:
                continue
            group = self.directory.group(w.group_id)
            if group is None:
                continue
            found, here = changes[w.group_id]
            scope = self.directory.subtree(w.scope_org) if w.scope_org is not None else None
            items: list[PresenceItem] = []
            for c in found:
                u = self.directory.user(c.user_id)
                if scope is not None and (u is None or u.org_id not in scope):
                    continue  # not someone whoever set this watch may see
                items.append(
                    PresenceItem(
                        name=u.name if u else str(c.user_id),
                        account=u.account if u else "",
                        online=c.after == "online",
                        here=c.user_id in here,
                    )
                )
            if items:
                items.sort(key=lambda i: (i.name, i.account))
                per_chat.setdefault((w.chat_id, w.thread_id), []).append(
                    PresenceBlock(group.name, group.id, items)
                )
        at = now.astimezone(self.tz).strftime("%H:%M")
        queued = 0
        for (chat_id, thread_id), blocks in per_chat.items():
            text = presence_text(self.t, blocks, at)
            queued += await enqueue_text(self.outbox, chat_id, thread_id, "presence", text, now)
        return queued

    async def start_watching(
        self,
        chat_id: int,
        thread_id: int,
        group: DirGroup,
        scope_org: int | None,
        created_by: int | None,
        now: datetime,
    ) -> tuple[bool, Observation]:
        """`/watch`: record the watch and what the group looks like now (the starting point
        for a group nobody watched yet). Returns (new, the observation)."""
        obs = await self.observe(group)
        async with self.db.transaction():
            new = await self.watches.add(chat_id, thread_id, group.id, scope_org, created_by, now)
            await self.state.baseline(group.id, obs.states, now)
        return new, obs
