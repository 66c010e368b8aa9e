"""The relay, assembled: platform events in, outbox rows per subscribed chat out.

Each concern is its own part, given only the repositories it needs, each repository
built once here: `IncidentIngest` (3.1, group commit), `ChangeFeed` (3.2–3.5 and the
processor loop), `NoticeSender` (notices to the platform and to chats),
`Acknowledgements` (the Acknowledge button), `SubscriberIndex` (who gets what). The
listener and the composition root talk to the parts through the few methods below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

from bot.directory import Directory
from bot.i18n import Translator
from bot.platform import PlatformClient
from bot.platform.models import Notice
from bot.relay.acks import Ack, Acknowledgements
from bot.relay.events import IncidentReport
from bot.relay.feed import ChangeFeed
from bot.relay.ingest import IncidentIngest
from bot.relay.notices import NoticeSender
from bot.relay.subscribers import SubscriberIndex
from storage.db import Database
from storage.inbox import InboxRepo
from storage.incidents import Incident, IncidentRepo
from storage.jobstate import JobStateRepo
from storage.known import KnownRepo
from storage.notices import NoticeJob, NoticeJobRepo
from storage.outbox import OutboxRepo
from storage.subscriptions import SubscriptionRepo

__all__ = ["Ack", "Relay"]


class Relay:
    """The relay's parts, built once over one database (see the module's docstring)."""

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
        self.clock = clock or (lambda: datetime.now(UTC))
        self._on_enqueued = on_enqueued or (lambda: None)
        t = translator.get(language)
        self.t = t
        # Repositories, each built once; the parts share them.
        self.inbox = InboxRepo(db)
        self.outbox = OutboxRepo(db)
        self.incidents = IncidentRepo(db)
        self.subs = SubscriptionRepo(db)
        self.known = KnownRepo(db)
        self.notices = NoticeJobRepo(db)
        job_state = JobStateRepo(db)
        self.subscribers = SubscriberIndex(self.subs, directory)
        self.ingest = IncidentIngest(
            db,
            subscribers=self.subscribers,
            directory=directory,
            t=t,
            tz=tz,
            clock=self.clock,
            on_enqueued=self.wake,
        )
        self.notice_sender = NoticeSender(
            db,
            inbox=self.inbox,
            notices=self.notices,
            outbox=self.outbox,
            subscribers=self.subscribers,
            platform=platform,
            t=t,
            clock=self.clock,
            on_enqueued=self.wake,
            on_queued=lambda: self.changes.processed_wakeup.set(),
        )
        self.changes = ChangeFeed(
            db,
            inbox=self.inbox,
            outbox=self.outbox,
            known=self.known,
            job_state=job_state,
            subscribers=self.subscribers,
            notices=self.notice_sender,
            directory=directory,
            platform=platform,
            t=t,
            clock=self.clock,
            on_enqueued=self.wake,
        )
        self.acks = Acknowledgements(
            db,
            incidents=self.incidents,
            outbox=self.outbox,
            directory=directory,
            t=t,
            tz=tz,
            clock=self.clock,
            on_enqueued=self.wake,
        )

    def wake(self) -> None:
        """Tell the delivery worker there may be work (new rows, a mute ended)."""
        self._on_enqueued()

    @property
    def processed_wakeup(self) -> asyncio.Event:
        """Set to have the processor look at stored events now."""
        return self.changes.processed_wakeup

    # -- what the listener calls, before it answers ------------------------------------

    async def ingest_report(self, report: IncidentReport) -> bool:
        return await self.ingest.ingest_report(report)

    async def ingest_ids(self, kind: str, ids: list[int]) -> bool:
        return await self.changes.ingest_ids(kind, ids)

    async def ingest_notice(self, notice: Notice) -> tuple[int, int]:
        return await self.notice_sender.ingest_notice(notice)

    # -- what /broadcast asks -----------------------------------------------------------

    def notice_preview(self, notice: Notice) -> str:
        return self.notice_sender.render(notice)

    async def notice_chats(self) -> int:
        return await self.notice_sender.chat_count()

    async def notice_job(self, job_id: int) -> NoticeJob | None:
        return await self.notice_sender.job(job_id)

    # -- after the acknowledgement ------------------------------------------------------

    async def process_inbox(self) -> int:
        return await self.changes.process_inbox()

    async def run_processor(self) -> None:
        await self.changes.run_processor()

    async def render_waiting(self) -> int:
        return await self.acks.render_waiting()

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
        return await self.acks.acknowledge(
            incident_id, user_id, name, chat_id=chat_id, message_id=message_id, scope=scope
        )

    def may_see(self, incident: Incident, scope: frozenset[int] | None) -> bool:
        return self.acks.may_see(incident, scope)
