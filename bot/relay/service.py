"""Ingest and fan-out: platform events become inbox rows and, per subscribed chat, outbox rows.

An incident is stored, deduplicated and fanned out in one transaction, before the
platform gets its acknowledgement. Org/user events carry only ids: they are stored
(acknowledged) at once and processed afterwards — looked up on the platform (2.13,
2.14), compared with what the bridge knew, and told as a diff. Events of the same
kind with the same ids waiting together are one event: one lookup, made after all
of them arrived, tells what each of them announced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from typing import Any, Literal

from bot.directory import Directory
from bot.i18n import Translator
from bot.platform import (
    PlatformClient,
    PlatformConflictError,
    PlatformError,
    PlatformNotFoundError,
    PlatformRequestError,
)
from bot.platform.models import Notice
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
from bot.relay.events import IncidentReport
from bot.relay.messages import AckEdit, IncidentMessage, TextMessage
from bot.relay.render import incident_message, incident_text, notice_text
from bot.relay.subscribers import SubscriberIndex
from storage.db import Database, dump_json
from storage.inbox import InboxEvent, InboxRepo
from storage.incidents import Incident, IncidentRepo
from storage.jobstate import JobStateRepo
from storage.known import KnownRepo
from storage.notices import NoticeJobRepo
from storage.outbox import OutboxRepo
from storage.subscriptions import Subscription, SubscriptionRepo

log = logging.getLogger(__name__)

# Platform errors about the request itself: asking again later gets the same answer.
REFUSED = (PlatformRequestError, PlatformNotFoundError, PlatformConflictError)
# How long a notice the platform could not be reached for is kept trying (30 s rounds).
NOTICE_RETRY_FOR = timedelta(hours=1)
KIND_OF_EVENT = {
    "org-updated": "org-changes",
    "org-deleted": "org-changes",
    "user-updated": "user-changes",
    "user-deleted": "user-changes",
}


@dataclass(slots=True, eq=False)
class _PendingReport:
    """An incident waiting for the next group commit, prepared outside the transaction."""

    report: IncidentReport
    body: str  # JSON text
    orgs: tuple[int | None, int | None]  # addressed to, and the filer's org
    received: datetime
    answer: asyncio.Future[bool]
    targets: list[tuple[int, int]] = field(default_factory=list)  # (chat, topic)
    message: str = "{}"  # the rendered IncidentMessage as JSON text, when it has targets


def _store_reports(batch: Sequence[_PendingReport], conn: sqlite3.Connection) -> list[bool]:
    """In the database thread, in one transaction: each report stored once, and its
    outbox rows. True per report that was new."""
    out = []
    for item in batch:
        key = item.report.dedupe_key
        if InboxRepo.add_in(conn, "report", key, item.body, item.received) is None:
            out.append(False)
            continue
        incident_id = IncidentRepo.add_in(conn, key, item.body, item.received)
        assert incident_id is not None
        for chat_id, thread_id in item.targets:
            OutboxRepo.enqueue_in(
                conn,
                chat_id,
                thread_id,
                "incidents",
                item.message,  # one rendering for every chat it goes to
                item.received,
                incident_id=incident_id,
            )
        out.append(True)
    return out


@dataclass(frozen=True, slots=True)
class Ack:
    """What a press of Acknowledge did: `done` (this press was the first), `already`
    (someone was first: `incident` says who), `refused` (not a copy of that incident in
    that chat, or outside the presser's scope), `unknown` (no such incident any more)."""

    outcome: Literal["done", "already", "refused", "unknown"]
    incident: Incident | None


class Relay:
    """The fan-out service: what arrives from the platform, and to which chats it goes."""

    def __init__(
        self,
        db: Database,
        *,
        directory: Directory,
        platform: PlatformClient,
        translator: Translator,
        language: str,
        tz: tzinfo,
        clock: Callable[[], datetime] | None = None,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.inbox = InboxRepo(db)
        self.outbox = OutboxRepo(db)
        self.incidents = IncidentRepo(db)
        self.subs = SubscriptionRepo(db)
        self.subscribers = SubscriberIndex(self.subs, directory)
        self.known = KnownRepo(db)
        self.notices = NoticeJobRepo(db)
        self.job_state = JobStateRepo(db)
        self.directory = directory
        self.platform = platform
        self.t = translator.get(language)
        self.tz = tz
        self.clock = clock or (lambda: datetime.now(UTC))
        self._on_enqueued = on_enqueued or (lambda: None)
        self._process_lock = asyncio.Lock()
        self._reports: list[_PendingReport] = []
        self._committer: asyncio.Task[None] | None = None
        self._directory_fresh = False
        self.processed_wakeup = asyncio.Event()

    def wake(self) -> None:
        """Tell the delivery worker there may be work (new rows, a mute ended)."""
        self._on_enqueued()

    # -- matching ----------------------------------------------------------------------

    async def _targets(
        self, kind: str, org_ids: Iterable[int | None], level: str | None = None
    ) -> list[Subscription]:
        return await self.subscribers.targets(kind, org_ids, level)

    # -- ingest (called by the listener, before it answers) ---------------------------------

    async def ingest_report(self, report: IncidentReport) -> bool:
        """Store, deduplicate and fan out an incident. False: seen before (same id and code).

        Returns once the incident and its outbox rows are committed. Reports that arrive
        while a commit is under way wait together and are committed in the next one
        (group commit): one transaction, one trip to the database thread, however many
        came — in the order they arrived, which is the order of every chat.
        """
        now = self.clock()
        # Only what the transaction needs: the message is rendered by the committer, once
        # per incident however many chats it goes to, and only if it goes to any.
        pending = _PendingReport(
            report=report,
            body=dump_json(report.model_dump(by_alias=True)),
            orgs=(report.org_id, self._sender_org(report)),
            received=now,
            answer=asyncio.get_running_loop().create_future(),
        )
        self._reports.append(pending)
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_reports())
        return await pending.answer

    def _sender_org(self, report: IncidentReport) -> int | None:
        if report.sender.id is None:
            return None
        user = self.directory.user(report.sender.id)
        return user.org_id if user else None

    async def _commit_reports(self) -> None:
        try:
            while self._reports:
                batch, self._reports = self._reports, []
                try:
                    subs = await self.subs.of_kind("incidents")
                    subtrees: dict[int, frozenset[int]] = {}  # walked once per batch
                    for item in batch:
                        item.targets = self.subscribers.incident_targets(
                            subs, item.orgs, item.report.level, subtrees
                        )
                        if item.targets:  # rendered once, outside the transaction
                            item.message = dump_json(
                                incident_message(
                                    self.t, item.report, self.tz, item.received
                                ).to_payload()
                            )
                    stored = await self.db.run_in_transaction(partial(_store_reports, batch))
                except Exception as exc:  # storage trouble: each caller answers 503
                    for item in batch:
                        if not item.answer.done():
                            item.answer.set_exception(exc)
                    continue
                except BaseException:  # cancelled (shutting down): nobody is answered 200
                    for item in batch + self._reports:
                        item.answer.cancel()
                    self._reports = []
                    raise
                for item, new in zip(batch, stored, strict=True):
                    if not item.answer.done():  # the caller may have gone (cancelled)
                        item.answer.set_result(new)
                if any(item.targets for item, new in zip(batch, stored, strict=True) if new):
                    self._on_enqueued()
        finally:
            self._committer = None

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

    async def ingest_notice(self, notice: Notice) -> tuple[int, int]:
        """Queue a notice for the platform (2.15) and for subscribed chats, atomically."""
        now = self.clock()
        body = notice.to_body()
        async with self.db.transaction():
            inbox_id = await self.inbox.add(
                "notice", f"notice:{uuid.uuid4().hex}", body, now, processed=True
            )
            assert inbox_id is not None
            job_id = await self.notices.add(body, now)
            text = notice_text(self.t, notice)
            targets = await self._targets("notices", list(notice.to.org_ids) or [None])
            for sub in targets:
                await self.outbox.enqueue(
                    sub.chat_id, sub.thread_id, "notices", TextMessage(text=text).to_payload(), now
                )
        self._on_enqueued()
        self.processed_wakeup.set()
        return job_id, len(targets)

    # -- processing (after the acknowledgement) --------------------------------------------

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
            await self.send_notice_jobs()
            if done:
                self._on_enqueued()
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
            for sub in await self._targets(kind, org_ids):
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

    def may_see(self, incident: Incident, scope: frozenset[int] | None) -> bool:
        """Whether someone with this org scope (None: everything) may see the incident: it was
        addressed to an org of their subtree, or filed by someone of it."""
        if scope is None:
            return True
        report = IncidentReport.model_validate(incident.body)
        return any(o is not None and o in scope for o in (report.org_id, self._sender_org(report)))

    async def acknowledge(
        self,
        incident_id: int,
        user_id: int,
        name: str,
        *,
        chat_id: int,
        message_id: int,
        scope: frozenset[int] | None,
    ) -> Ack:
        """A press of the Acknowledge button on message `message_id` of chat `chat_id`.

        Judged by that message, not by the button's data: it must be a copy of the incident
        the bridge sent to that chat, and the presser's scope must let them see the
        incident; otherwise refused, with nothing recorded and nothing edited. The first
        press that passes records who and when, and queues an edit of every copy.
        """
        forged = not 0 < incident_id < 2**63  # no incident has an id SQLite cannot hold
        if forged or not await self.incidents.shown_by(incident_id, chat_id, message_id):
            return Ack("refused", None)
        incident = await self.incidents.get(incident_id)
        if incident is None:
            return Ack("unknown", None)
        if not self.may_see(incident, scope):
            return Ack("refused", None)
        now = self.clock()
        async with self.db.transaction():
            won, incident = await self.incidents.acknowledge(incident_id, user_id, name, now)
            if incident is None:
                return Ack("unknown", None)
            if not won:
                return Ack("already", incident)
            text = self.incident_text(incident)
            for chat, message in await self.incidents.messages(incident_id):
                edit = AckEdit(
                    message_id=message,
                    text=text,
                    ack=incident_id,
                    ack_label=self.t.plain("btn-ack"),
                )
                await self.outbox.enqueue(chat, 0, "ack-edit", edit.to_payload(), now)
            # Copies not sent yet go out showing the acknowledgement.
            await self.outbox.set_incident_payload(
                incident_id, self.render_incident(incident).to_payload()
            )
        self._on_enqueued()
        return Ack("done", incident)

    def render_incident(self, incident: Incident) -> IncidentMessage:
        """What an incident's outbox rows send, with its acknowledgement if it has one."""
        report = IncidentReport.model_validate(incident.body)
        message = incident_message(self.t, report, self.tz, incident.received_at)
        if incident.acked_at is not None:
            message = message.model_copy(update={"text": self.incident_text(incident)})
        return message

    async def render_waiting(self) -> int:
        """At start, before the delivery worker: incident rows queued by a version that
        rendered them when sent (payload `{}`) are rendered now. Returns how many."""
        done = 0
        for row_id, incident_id in await self.outbox.unrendered_incidents():
            incident = await self.incidents.get(incident_id)
            if incident is not None:
                payload = self.render_incident(incident).to_payload()
                await self.outbox.set_payload(row_id, payload)
                done += 1
        return done

    def incident_text(self, incident: Incident) -> str:
        """An incident as shown in chats, with its acknowledgement if it has one."""
        report = IncidentReport.model_validate(incident.body)
        ack = None
        if incident.acked_at is not None:
            ack = (incident.acked_by_name or str(incident.acked_by), incident.acked_at)
        return incident_text(self.t, report, self.tz, incident.received_at, ack)

    async def send_notice_jobs(self) -> None:
        """Push queued notices to the platform (2.15), in order: once each, never retried
        blindly. Only a try that certainly never reached the platform (no connection) is
        made again, on the next round, for up to `NOTICE_RETRY_FOR`."""
        for job in await self.notices.pending():
            try:
                await self.platform.send_notice(Notice.model_validate(job.body))
            except PlatformError as exc:
                summary = str(exc)[:500]
                if exc.never_sent and self.clock() - job.created_at < NOTICE_RETRY_FOR:
                    log.warning("notice %s waits for the platform: %s", job.id, exc)
                    await self.notices.not_reached(job.id, summary)
                    break  # the later ones wait too: notices keep their order
                log.warning("notice %s not accepted by the platform: %s", job.id, exc)
                await self.notices.finish(
                    job.id, self.clock(), summary, code=exc.code, message=exc.message[:500]
                )
                continue
            await self.notices.finish(job.id, self.clock())

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
