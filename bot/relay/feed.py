"""Org and user events (3.2–3.5): stored at once, then looked up and told as changes.

Org/user events carry only ids: they are stored (acknowledged) at once and processed
afterwards — looked up on the platform (2.13, 2.14), compared with what the bridge
knew, and told as a diff (`bot.relay.changes`). Events of the same kind with the same
ids waiting together are one event: one lookup, made after all of them arrived, tells
what each of them announced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bot.platform import (
    PlatformConflictError,
    PlatformError,
    PlatformNotFoundError,
    PlatformRequestError,
)
from bot.relay.changes import (
    SNAPSHOT_SEEDED,
    change,
    known_org,
    org_change,
    org_deleted_title,
    org_from_directory,
    user_change,
    user_deleted_title,
    user_from_directory,
)
from bot.relay.context import Context, Part
from bot.relay.messages import TextMessage
from bot.relay.notices import NoticeSender
from bot.relay.subscribers import SubscriberIndex
from storage.db import dump_json
from storage.inbox import InboxEvent, InboxRepo
from storage.jobstate import JobStateRepo
from storage.known import KnownRepo
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)

# Platform errors about the request itself: asking again later gets the same answer.
REFUSED = (PlatformRequestError, PlatformNotFoundError, PlatformConflictError)


class ChangeFeed(Part):
    """Stores org/user events and, in its processor loop, tells them as changes (and
    pushes queued notices)."""

    def __init__(
        self,
        ctx: Context,
        inbox: InboxRepo,
        outbox: OutboxRepo,
        known: KnownRepo,
        job_state: JobStateRepo,
        subscribers: SubscriberIndex,
        notices: NoticeSender,
    ) -> None:
        super().__init__(ctx)
        self.inbox = inbox
        self.outbox = outbox
        self.known = known
        self.job_state = job_state
        self.subscribers = subscribers
        self.notices = notices
        self._process_lock = asyncio.Lock()
        self._directory_fresh = False
        self.processed_wakeup = asyncio.Event()
        notices.on_queued = self.processed_wakeup.set

    async def ingest_ids(self, kind: str, ids: list[int]) -> bool:
        """Store an org/user event for processing (always: equal events coalesce when they
        are processed, not here — a change made after an earlier event was looked up must
        still be told)."""
        now = self.clock()
        unique = sorted(set(ids))
        key = f"{kind}:{','.join(str(i) for i in unique)}:{uuid.uuid4().hex}"
        await self.inbox.add(kind, key, {"id": unique}, now)
        self.processed_wakeup.set()
        return True

    async def process_inbox(self) -> int:
        """Process stored org/user events and queued notices; returns how many events."""
        async with self._process_lock:
            done = 0
            self._directory_fresh = False
            looked_up: set[tuple[str, str]] = set()
            for event in await self.inbox.unprocessed():
                same = (event.kind, dump_json(event.body.get("id")))
                if same in looked_up:
                    # An equal event of this batch was looked up after this one arrived.
                    await self.inbox.mark_processed(event.id, self.clock())
                    continue
                try:
                    await self._process(event)
                except REFUSED as exc:
                    # About this event only: record why, and go on with the next ones.
                    log.warning("event %s refused by the platform: %s", event.id, exc)
                    await self.inbox.mark_processed(event.id, self.clock(), error=str(exc)[:500])
                    continue
                except PlatformError as exc:
                    # The platform is down: leave it for the next round (nothing is lost).
                    log.warning("event %s waits for the platform: %s", event.id, exc)
                    break
                except Exception as exc:
                    # A poison event must not hold up every later one.
                    log.exception("event %s could not be processed; set aside", event.id)
                    await self.inbox.mark_processed(
                        event.id, self.clock(), error=f"{type(exc).__name__}: {exc}"[:500]
                    )
                    continue
                await self.inbox.mark_processed(event.id, self.clock())
                looked_up.add(same)
                done += 1
            await self.notices.send_notice_jobs()
            if done:
                self.wake()
            return done

    async def _process(self, event: InboxEvent) -> None:
        ids = [int(i) for i in event.body.get("id", [])]
        if event.kind == "user-updated":
            for uid in ids:
                await self._user_updated(uid)
        elif event.kind == "user-deleted":
            for uid in ids:
                await self._user_deleted(uid)
        elif event.kind == "org-updated":
            for oid in ids:
                await self._org_updated(oid)
        elif event.kind == "org-deleted":
            for oid in ids:
                await self._org_deleted(oid)

    def _user_from_directory(self, uid: int) -> dict[str, Any] | None:
        return user_from_directory(self.directory, uid)

    async def _enqueue_change(
        self, kind: str, title: str, lines: Sequence[str], org_ids: Iterable[int | None]
    ) -> None:
        now = self.clock()
        org_ids = tuple(org_ids)
        text = change(self.t, kind, title, lines, org_ids).text
        async with self.db.transaction():
            for sub in await self.subscribers.targets(kind, org_ids):
                message = TextMessage(text=text).to_payload()
                await self.outbox.enqueue(sub.chat_id, sub.thread_id, kind, message, now)

    async def _before(
        self, kind: str, id_: int, from_directory: Callable[[int], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """What the bridge knew of a user or org before this event; None: it is new.

        The live directory stands in only until the snapshot is seeded: it is reloaded
        after every batch, so it may already hold the very change (or the very user) an
        event still waiting announces.
        """
        known = await self.known.get(kind, id_)
        if known is not None or await self.job_state.get(SNAPSHOT_SEEDED):
            return known
        return from_directory(id_)

    async def _user_updated(self, uid: int) -> None:
        try:
            info = await self.platform.user_info(uid)
        except PlatformNotFoundError:
            info = None
        if info is None:
            await self._user_deleted(uid)
            return
        before = await self._before("user", uid, self._user_from_directory)
        if before is None and not self._directory_fresh:
            # A new user: 2.14 does not say their org, the directory (reloaded, once a
            # batch) does — and chats subscribed to that org's subtree must hear of them.
            self._directory_fresh = await self.directory.refresh()
        dir_user = self.directory.user(uid)
        org_id = before.get("org_id") if before else (dir_user.org_id if dir_user else None)
        org = self.directory.org(org_id) if org_id is not None else None
        after = {
            "name": info.name,
            "account": info.account,
            "org": org.name if org else (before or {}).get("org"),
            "org_id": org_id,
            "role": info.role_name,
            "priority": info.priority,
            "groups": sorted(g.name for g in info.groups),
            "online": info.online,
        }
        # Presence compared too: None where the bridge never saw it.
        seen = None if before is None else {**before, "online": before.get("online")}
        told = user_change(self.t, seen, after)
        lines = told[1] if told else []
        if before is not None and "online" not in before:
            # The directory does not know presence: don't call it a change.
            presence = {self.t("chg-online-now"), self.t("chg-offline-now")}
            lines = [x for x in lines if x not in presence]
        if told is None or (not lines and before is not None):
            await self.known.put("user", uid, after, self.clock())
            return
        title = told[0]
        await self._enqueue_change("user-changes", title, lines, [org_id])
        await self.known.put("user", uid, after, self.clock())

    async def _user_deleted(self, uid: int) -> None:
        before = await self.known.get("user", uid) or self._user_from_directory(uid)
        title = user_deleted_title(self.t, uid, before)
        await self._enqueue_change("user-changes", title, [], [(before or {}).get("org_id")])
        await self.known.delete("user", uid)

    def _org_from_directory(self, oid: int) -> dict[str, Any] | None:
        return org_from_directory(self.directory, oid)

    async def _org_updated(self, oid: int) -> None:
        try:
            org = await self.platform.org_users(oid)
        except PlatformNotFoundError:  # 509: gone before the update was looked up
            org = None
        if org is None:
            await self._org_deleted(oid)
            return
        before = await self._before("org", oid, self._org_from_directory)
        after = known_org(org.name, org.address, len(org.users))
        told = org_change(self.t, before, after)
        if told is None:
            await self.known.put("org", oid, after, self.clock())
            return
        title, lines = told
        await self._enqueue_change("org-changes", title, lines, [oid, org.parent_id])
        await self.known.put("org", oid, after, self.clock())

    async def _org_deleted(self, oid: int) -> None:
        before = await self.known.get("org", oid) or self._org_from_directory(oid)
        parent = self.directory.org(oid)
        await self._enqueue_change(
            "org-changes",
            org_deleted_title(self.t, oid, before),
            [],
            [oid, parent.parent_id if parent else None],
        )
        await self.known.delete("org", oid)

    async def run_processor(self) -> None:
        """Background loop: process events as they come, and retry every 30 s."""
        while True:
            with contextlib.suppress(TimeoutError):
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel.
                async with asyncio.timeout(30):
                    await self.processed_wakeup.wait()
            self.processed_wakeup.clear()
            try:
                processed = await self.process_inbox()
                if processed:
                    # "The directory is updated at once": reload it after changes.
                    await self.directory.refresh()
            except Exception:
                log.exception("processing platform events failed; will retry")
