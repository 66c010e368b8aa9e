"""What the jobs share: what they are built with, a job's failure, and queueing long texts."""

from __future__ import annotations

from datetime import datetime

from bot.relay.context import Context, Part
from bot.relay.messages import Document, DocumentMessage, OutboxMessage, TextMessage
from bot.render.text import split_html
from storage.outbox import OutboxRepo


class Job(Part):
    """A job that posts to chats: its context as attributes (`self.platform`, ...), and the
    outbox it queues to."""

    def __init__(self, ctx: Context, outbox: OutboxRepo) -> None:
        super().__init__(ctx)
        self.outbox = outbox


class JobFailed(Exception):
    """A job could not do its work this time (it runs again at its next time)."""


async def enqueue_text(
    outbox: OutboxRepo,
    chat_id: int,
    thread_id: int,
    kind: str,
    text: str,
    now: datetime,
    *,
    document: Document | None = None,
) -> int:
    """Queue `text` for a chat, split under Telegram's limit; `document` follows the last part.

    Returns how many rows were queued. Call inside the caller's transaction.
    """
    parts = split_html(text)
    for i, part in enumerate(parts):
        message: OutboxMessage = TextMessage(text=part)
        if document is not None and i == len(parts) - 1:
            message = DocumentMessage(text=part, document=document)
        await outbox.enqueue(chat_id, thread_id, kind, message.to_payload(), now)
    return len(parts)
