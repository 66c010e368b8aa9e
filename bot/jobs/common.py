"""What the jobs share: a job's failure, and queueing long texts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.text import split_html
from storage.outbox import OutboxRepo


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
    extra: dict[str, Any] | None = None,
) -> int:
    """Queue `text` for a chat, split under Telegram's limit; `extra` rides on the last part.

    Returns how many rows were queued. Call inside the caller's transaction.
    """
    parts = split_html(text)
    for i, part in enumerate(parts):
        payload: dict[str, Any] = {"text": part}
        if extra and i == len(parts) - 1:
            payload.update(extra)
        await outbox.enqueue(chat_id, thread_id, kind, payload, now)
    return len(parts)
