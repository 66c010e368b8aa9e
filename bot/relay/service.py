"""The relay: platform events in, outbox rows per subscribed chat out.

Each concern is its own part, built by the composition root with the repositories it
uses (each built once, there): `IncidentIngest` (3.1, group commit), `ChangeFeed`
(3.2–3.5 and the processor loop), `NoticeSender` (notices to the platform and to chats),
`Acknowledgements` (the Acknowledge button). `Relay` only starts them, and hands the
listener and the handlers the few entry points they call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.relay.acks import Ack, Acknowledgements
from bot.relay.feed import ChangeFeed
from bot.relay.ingest import IncidentIngest
from bot.relay.notices import NoticeSender

__all__ = ["Ack", "Relay"]


class Relay:
    """The relay's parts, started together (see the module's docstring)."""

    def __init__(
        self,
        *,
        ingest: IncidentIngest,
        changes: ChangeFeed,
        notices: NoticeSender,
        acks: Acknowledgements,
    ) -> None:
        self.ingest, self.changes, self.notice_sender, self.acks = ingest, changes, notices, acks
        # What the listener calls before it answers the platform.
        self.ingest_report = ingest.ingest_report
        self.ingest_ids = changes.ingest_ids
        self.ingest_notice = notices.ingest_notice
        # What /broadcast calls (it pushes its notice to the platform at once).
        self.notice_preview, self.notice_chats = notices.render, notices.chat_count
        self.notice_job, self.process_inbox = notices.job, changes.process_inbox
        # What the Acknowledge button, and /mute when it ends a mute, call.
        self.acknowledge, self.wake = acks.acknowledge, ingest.wake

    async def start(self, spawn: Callable[[Awaitable[Any]], object]) -> None:
        """Before the delivery worker: render incident rows an older version queued; then
        the processor loop, looking at once at events stored before a restart."""
        await self.acks.render_waiting()
        spawn(self.changes.run_processor())
        self.changes.processed_wakeup.set()
