"""Voice messages waiting for their recording's transcript, to have their caption completed."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, from_db_time, to_db_time

__all__ = ["TranscriptCaptionRepo", "WaitingCaption"]


@dataclass(frozen=True, slots=True)
class WaitingCaption:
    """A voice message sent before its transcript was known: where it is, and the caption
    (HTML) and language it was sent with."""

    recording_key: str
    chat_id: int
    thread_id: int
    message_id: int
    caption: str
    language: str
    sent_at: datetime


def _row(r: sqlite3.Row) -> WaitingCaption:
    return WaitingCaption(
        recording_key=r["recording_key"],
        chat_id=r["chat_id"],
        thread_id=r["thread_id"],
        message_id=r["message_id"],
        caption=r["caption"],
        language=r["language"],
        sent_at=from_db_time(r["sent_at"]),
    )


class TranscriptCaptionRepo:
    """`transcript_captions`: `add` when a voice message goes out without its transcript,
    `claim` (in the transaction that queues the edits) when the transcript is known."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, w: WaitingCaption) -> None:
        """Remember a voice message (the same message twice is kept once)."""
        await self._db.execute(
            """
            INSERT INTO transcript_captions (recording_key, chat_id, thread_id, message_id,
                caption, language, sent_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (chat_id, message_id) DO NOTHING
            """,
            (
                w.recording_key,
                w.chat_id,
                w.thread_id,
                w.message_id,
                w.caption,
                w.language,
                to_db_time(w.sent_at),
            ),
        )

    async def claim(self, rec_key: str) -> list[WaitingCaption]:
        """The messages waiting for `rec_key`'s transcript, removed: whoever claims them
        completes them (call inside the transaction that queues their edits)."""
        rows = await self._db.fetchall(
            "DELETE FROM transcript_captions WHERE recording_key = ? RETURNING *", (rec_key,)
        )
        return sorted((_row(r) for r in rows), key=lambda w: (w.sent_at, w.chat_id))

    async def keys(self) -> list[str]:
        """The recordings some message waits for."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT recording_key FROM transcript_captions ORDER BY recording_key"
        )
        return [r["recording_key"] for r in rows]

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT count(*) AS n FROM transcript_captions")
        return int(row["n"]) if row else 0

    async def prune(self, before: datetime) -> int:
        """Forget messages sent before `before` (their transcript never came)."""
        return await self._db.execute(
            "DELETE FROM transcript_captions WHERE sent_at < ?", (to_db_time(before),)
        )
