"""Notices: queued for the platform (2.15) and for the chats subscribed to `notices`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from bot.platform import PlatformError
from bot.platform.models import Notice
from bot.relay.context import Context, Part
from bot.relay.messages import TextMessage
from bot.relay.subscribers import SubscriberIndex
from bot.render.relay import notice_text
from storage.inbox import InboxRepo
from storage.notices import NoticeJob, NoticeJobRepo
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)

# How long a notice the platform could not be reached for is kept trying (30 s rounds).
NOTICE_RETRY_FOR = timedelta(hours=1)


class NoticeSender(Part):
    """Takes notices in (`ingest_notice`) and pushes them to the platform in order."""

    def __init__(
        self,
        ctx: Context,
        inbox: InboxRepo,
        notices: NoticeJobRepo,
        outbox: OutboxRepo,
        subscribers: SubscriberIndex,
    ) -> None:
        super().__init__(ctx)
        self.inbox = inbox
        self.notices = notices
        self.outbox = outbox
        self.subscribers = subscribers
        # The processor pushes queued notices: the change feed, built after, sets this.
        self.on_queued: Callable[[], None] = lambda: None

    def render(self, notice: Notice) -> str:
        """The notice as the subscribed chats will receive it."""
        return notice_text(self.t, notice)

    async def chat_count(self) -> int:
        """How many chats (topics) are subscribed to notices."""
        return len(await self.subscribers.of_kind("notices"))

    async def job(self, job_id: int) -> NoticeJob | None:
        """A queued notice's state on its way to the platform."""
        return await self.notices.get(job_id)

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
            targets = await self.subscribers.targets("notices", list(notice.to.org_ids) or [None])
            for sub in targets:
                await self.outbox.enqueue(
                    sub.chat_id, sub.thread_id, "notices", TextMessage(text=text).to_payload(), now
                )
        self.wake()
        self.on_queued()
        return job_id, len(targets)

    # -- processing (after the acknowledgement) --------------------------------------------

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
