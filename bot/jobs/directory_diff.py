"""The directory refresh job, and its diff against the stored snapshot.

The platform pushes org and user changes (3.2–3.5), but not always: a change made
while the callback URL was wrong, or while the bridge was down, is never pushed.
After each refresh the directory is compared with what the bridge last knew
(`known_entities`, the same snapshot the relay's change diffs use), and what
differs goes to `user-changes` / `org-changes` subscribers. Whichever of the two
paths sees a change first records it, so it is told once.

The first diff ever only records the snapshot (everyone would be "new").
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.jobs.common import Job, JobFailed, enqueue_text
from bot.relay.changes import (
    SNAPSHOT_SEEDED,
    Change,
    change,
    org_change,
    org_deleted_title,
    orgs_snapshot,
    pack,
    user_change,
    user_deleted_title,
    users_snapshot,
)
from bot.relay.context import Context
from bot.relay.subscribers import SubscriberIndex
from storage.jobstate import JobStateRepo
from storage.known import KnownRepo
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)


class DirectoryDiff(Job):
    def __init__(
        self,
        ctx: Context,
        outbox: OutboxRepo,
        known: KnownRepo,
        job_state: JobStateRepo,
        subscribers: SubscriberIndex,
    ) -> None:
        super().__init__(ctx, outbox)
        self.known = known
        self.state = job_state
        self.subscribers = subscribers

    async def refresh(self, now: datetime) -> int:
        """The scheduled job: reload the directory, then tell what changed."""
        if not await self.directory.refresh():
            raise JobFailed(f"directory refresh failed: {self.directory.last_error}")
        return await self.diff(now)

    async def diff(self, now: datetime) -> int:
        """Compare the loaded directory with the stored snapshot; returns messages queued."""
        if not self.directory.loaded:
            return 0
        users, orgs = users_snapshot(self.directory), orgs_snapshot(self.directory)
        if not users or not orgs:
            # An empty answer is far likelier a platform fault than everyone deleted.
            log.warning("directory has no users or no orgs: not comparing it")
            return 0
        if not await self.state.get(SNAPSHOT_SEEDED):
            # What the relay already recorded (a change it told) is newer: keep it.
            had_users, had_orgs = await self.known.all("user"), await self.known.all("org")
            async with self.db.transaction():
                new_users = {k: v for k, v in users.items() if k not in had_users}
                new_orgs = {k: v for k, v in orgs.items() if k not in had_orgs}
                await self.known.put_many("user", new_users, now)
                await self.known.put_many("org", new_orgs, now)
                await self.state.put(SNAPSHOT_SEEDED, True, now)
            log.info("directory snapshot recorded: %d users, %d orgs", len(users), len(orgs))
            return 0
        known_users = await self.known.all("user")
        known_orgs = await self.known.all("org")
        changes: list[Change] = []
        puts_users: dict[int, dict[str, Any]] = {}
        puts_orgs: dict[int, dict[str, Any]] = {}
        t = self.t
        for uid, after in users.items():
            before = known_users.get(uid)
            told = user_change(t, before, after)
            if told is None:
                continue
            if before is not None and "online" in before:
                # The directory does not know presence: keep what the relay last saw.
                after = {**after, "online": before["online"]}
            orgs_of = (after["org_id"], before.get("org_id") if before else None)
            changes.append(change(t, "user-changes", *told, orgs_of))
            puts_users[uid] = after
        gone_users = [uid for uid in known_users if uid not in users]
        for uid in gone_users:
            before = known_users[uid]
            title = user_deleted_title(t, uid, before)
            changes.append(change(t, "user-changes", title, [], (before.get("org_id"),)))
        for oid, after in orgs.items():
            told = org_change(t, known_orgs.get(oid), after)
            if told is None:
                continue
            parent = self.directory.snapshot.orgs[oid].parent_id
            changes.append(change(t, "org-changes", *told, (oid, parent)))
            puts_orgs[oid] = after
        gone_orgs = [oid for oid in known_orgs if oid not in orgs]
        for oid in gone_orgs:
            title = org_deleted_title(t, oid, known_orgs[oid])
            changes.append(change(t, "org-changes", title, [], (oid,)))
        if not changes:
            return 0
        queued = 0
        async with self.db.transaction():
            queued = await self._enqueue(changes, now)
            await self.known.put_many("user", puts_users, now)
            await self.known.put_many("org", puts_orgs, now)
            for uid in gone_users:
                await self.known.delete("user", uid)
            for oid in gone_orgs:
                await self.known.delete("org", oid)
        log.info("directory diff: %d changes, %d messages", len(changes), queued)
        if queued:
            self.wake()
        return queued

    async def _enqueue(self, changes: list[Change], now: datetime) -> int:
        """Per chat, the changes it subscribed to, packed into as few messages as fit."""
        per_chat: dict[tuple[int, int, str], list[str]] = {}
        subtrees: dict[int, frozenset[int]] = {}  # walked once for every change
        for kind in ("org-changes", "user-changes"):
            subs = await self.subscribers.of_kind(kind)
            if not subs:
                continue
            for c in changes:
                if c.kind != kind:
                    continue
                for sub in self.subscribers.among(subs, c.org_ids, subtrees=subtrees):
                    per_chat.setdefault((sub.chat_id, sub.thread_id, kind), []).append(c.text)
        queued = 0
        for (chat_id, thread_id, kind), texts in per_chat.items():
            for text in pack(texts):
                queued += await enqueue_text(self.outbox, chat_id, thread_id, kind, text, now)
        return queued
