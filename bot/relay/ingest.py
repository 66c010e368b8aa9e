"""Incident ingest: a 3.1 report stored, deduplicated and fanned out before it is acknowledged.

Reports that arrive while a commit is under way wait together and go in the next one
(group commit): one transaction, one trip to the database thread, however many came.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from bot.directory import Directory
from bot.relay.context import Context, Part
from bot.relay.events import IncidentReport
from bot.relay.subscribers import SubscriberIndex
from bot.render.relay import incident_message
from storage.db import dump_json
from storage.inbox import InboxRepo
from storage.incidents import IncidentRepo
from storage.outbox import OutboxRepo


def sender_org(directory: Directory, report: IncidentReport) -> int | None:
    """The org of the user who filed the report, as the directory knows it."""
    if report.sender.id is None:
        return None
    user = directory.user(report.sender.id)
    return user.org_id if user else None


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


class IncidentIngest(Part):
    """Stores incidents and queues their messages for the chats subscribed to them."""

    def __init__(self, ctx: Context, subscribers: SubscriberIndex) -> None:
        super().__init__(ctx)
        self.subscribers = subscribers
        self._reports: list[_PendingReport] = []
        self._committer: asyncio.Task[None] | None = None

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
            orgs=(report.org_id, sender_org(self.directory, report)),
            received=now,
            answer=asyncio.get_running_loop().create_future(),
        )
        self._reports.append(pending)
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_reports())
        return await pending.answer

    async def _commit_reports(self) -> None:
        try:
            while self._reports:
                batch, self._reports = self._reports, []
                try:
                    subs = await self.subscribers.of_kind("incidents")
                    subtrees: dict[int, frozenset[int]] = {}  # walked once per batch
                    for item in batch:
                        reached = self.subscribers.among(
                            subs, item.orgs, item.report.level, subtrees
                        )
                        item.targets = [(s.chat_id, s.thread_id) for s in reached]
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
                    self.wake()
        finally:
            self._committer = None
