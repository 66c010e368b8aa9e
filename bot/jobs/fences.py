"""Geofence crossings told to the chats that watch them (/fence watch).

`FenceWatcher` does not poll: the one poll of followed and fenced users (the follow job)
asks it which users concern the fences (`users`), fetches their fixes once for both, and
hands it them (`on_fixes`, WGS-84). It decides crossings with `bot.geo.fences.decide`,
and in one transaction stores where each user now stands and queues each crossing's
message in the outbox (kind ``fence``): a crossing is told once, durably, in order, and
held by `/mute` like every relayed message.

A watch set by a scoped supervisor (`scope_org`) is told only about users of that org
subtree, a talk group's members included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.geo.fences import Crossed, Crossing, FenceArea, decide, stale_limit
from bot.jobs.common import Job
from bot.platform.models import Fix
from bot.relay.context import Context
from bot.relay.messages import FenceAlert
from bot.render.fences import fence_alert, user_label
from storage.fences import FenceRepo, FenceState, FenceWatch
from storage.outbox import OutboxRepo

__all__ = ["DEFAULT_POLL", "FenceWatcher", "Plan"]

DEFAULT_POLL = timedelta(seconds=10)  # BRIDGE_FOLLOW_POLL_S's default


@dataclass
class Plan:
    """The active watches as the poll uses them: the users concerned on each fence, and
    for each (fence, user) the chats (chat, thread, events) to tell."""

    concerned: dict[int, set[int]] = field(default_factory=dict)
    tell: dict[tuple[int, int], list[FenceWatch]] = field(default_factory=dict)

    def users(self) -> set[int]:
        return {uid for uids in self.concerned.values() for uid in uids}


class FenceWatcher(Job):
    """Crossings of the watched fences, decided from the fixes the poll hands over."""

    def __init__(
        self,
        ctx: Context,
        outbox: OutboxRepo,
        fences: FenceRepo,
        *,
        poll: timedelta = DEFAULT_POLL,
    ) -> None:
        super().__init__(ctx, outbox)
        self.fences = fences
        self.stale_after = stale_limit(poll)

    def _members(self, w: FenceWatch) -> list[int]:
        scope = self.directory.subtree(w.scope_org) if w.scope_org is not None else None
        if w.target_kind == "user":
            ids: list[int] = [w.target_id]
        else:
            group = self.directory.group(w.target_id)
            ids = list(group.member_ids) if group is not None else []
        if scope is None:
            return ids
        return [uid for uid in ids if self.directory.user(uid, scope) is not None]

    async def plan(self) -> Plan:
        """Who concerns which fence, and who is told, from the active watches."""
        concerned: dict[int, set[int]] = defaultdict(set)
        tell: dict[tuple[int, int], list[FenceWatch]] = defaultdict(list)
        for w in await self.fences.active_watches():
            for uid in self._members(w):
                concerned[w.fence_id].add(uid)
                tell[(w.fence_id, uid)].append(w)
        return Plan(dict(concerned), dict(tell))

    async def users(self, now: datetime) -> set[int]:
        """Every user an active watch concerns (a talk group's members, within the scope
        of whoever set the watch)."""
        return (await self.plan()).users()

    async def on_fixes(self, fixes: Mapping[int, Fix], now: datetime) -> None:
        """One poll's fixes (WGS-84, by user id): store the states, queue the crossings."""
        plan = await self.plan()
        if not plan.concerned:
            return
        fences = {f.id: f for f in await self.fences.visible(None) if f.id in plan.concerned}
        areas = {fid: FenceArea(f.lat, f.lon, f.radius_m, f.polygon) for fid, f in fences.items()}
        stored = await self.fences.states()
        states = {key: Crossing(s.inside, s.pending, s.last_fix_at) for key, s in stored.items()}
        decided = decide(areas, plan.concerned, states, fixes, now, stale_after=self.stale_after)
        if not decided.states and not decided.crossings:
            return
        queued = 0
        async with self.db.transaction():
            await self.fences.save_states(
                FenceState(fid, uid, c.inside, c.pending, c.last_fix_at)
                for (fid, uid), c in decided.states.items()
            )
            for fid, uid, event, fix in decided.crossings:
                queued += await self._queue(
                    fences[fid].name, uid, event, fix, plan.tell.get((fid, uid), []), now
                )
        if queued:
            self.wake()

    async def _queue(
        self,
        fence_name: str,
        uid: int,
        event: Crossed,
        fix: Fix,
        watches: list[FenceWatch],
        now: datetime,
    ) -> int:
        who = user_label(self.directory.user(uid), uid)
        at = fix.time or now
        text = fence_alert(self.t, who, fence_name, event is Crossed.ENTER, at, self.tz, now)
        payload = FenceAlert(text=text, lat=fix.lat, lon=fix.lon).to_payload()
        # A chat told about the user through two watches (the user and their group) gets
        # it once.
        chats = dict.fromkeys((w.chat_id, w.thread_id) for w in watches if w.tells(event.value))
        for chat_id, thread in chats:
            await self.outbox.enqueue(chat_id, thread, "fence", payload, now)
        return len(chats)
