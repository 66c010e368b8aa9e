"""What the jobs share: what they are built with, a job's failure, and queueing long texts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.directory import Directory
from bot.i18n import Translate
from bot.platform import PlatformClient
from bot.relay.messages import Document, DocumentMessage, OutboxMessage, TextMessage
from bot.render.text import split_html
from storage.db import Database
from storage.outbox import OutboxRepo


@dataclass(frozen=True)
class JobDeps:
    """What the polling jobs are built with (`bot.jobs.service.Jobs` makes one)."""

    db: Database
    platform: PlatformClient
    directory: Directory
    outbox: OutboxRepo
    t: Translate  # in BRIDGE_LANGUAGE: what the jobs post goes to chats
    tz: tzinfo
    wake: Callable[[], None]  # the delivery worker: new outbox rows


class Job:
    """A polling job: its dependencies as attributes (`self.platform`, `self.outbox`, ...)."""

    def __init__(self, deps: JobDeps) -> None:
        self.db = deps.db
        self.platform = deps.platform
        self.directory = deps.directory
        self.outbox = deps.outbox
        self.t = deps.t
        self.tz = deps.tz
        self.wake = deps.wake


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
