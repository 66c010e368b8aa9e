"""Daily attendance digests (/report daily HH:MM): where, when, for which org, last sent."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, from_db_time, to_db_time

__all__ = ["Report", "ReportRepo"]


@dataclass(frozen=True, slots=True)
class Report:
    """A chat's (or topic's) daily digest at `at_time` ("HH:MM" in the bridge's zone)."""

    chat_id: int
    thread_id: int
    at_time: str
    org_id: int | None
    created_by: int | None
    created_at: datetime
    last_sent_at: datetime | None
    paused: bool = False  # the chat blocked the bot or is gone (see ChatRepo.set_paused)


def _report(r: sqlite3.Row) -> Report:
    return Report(
        chat_id=r["chat_id"],
        thread_id=r["thread_id"],
        at_time=r["at_time"],
        org_id=r["org_id"],
        created_by=r["created_by"],
        created_at=from_db_time(r["created_at"]),
        last_sent_at=None if r["last_sent_at"] is None else from_db_time(r["last_sent_at"]),
        paused=bool(r["paused"]),
    )


_SELECT = """
    SELECT r.*, coalesce(c.paused, 0) AS paused FROM reports r
    LEFT JOIN chats c ON c.chat_id = r.chat_id
"""


class ReportRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(
        self,
        chat_id: int,
        thread_id: int,
        at_time: str,
        org_id: int | None,
        created_by: int | None,
        now: datetime,
    ) -> Report:
        """Set (or move) this chat's daily digest."""
        await self._db.execute(
            """
            INSERT INTO reports (chat_id, thread_id, at_time, org_id, created_by, created_at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (chat_id, thread_id) DO UPDATE SET
                at_time = excluded.at_time, org_id = excluded.org_id,
                created_by = excluded.created_by, created_at = excluded.created_at,
                last_sent_at = NULL
            """,
            (chat_id, thread_id, at_time, org_id, created_by, to_db_time(now)),
        )
        report = await self.get(chat_id, thread_id)
        assert report is not None
        return report

    async def remove(self, chat_id: int, thread_id: int) -> bool:
        n = await self._db.execute(
            "DELETE FROM reports WHERE chat_id = ? AND thread_id = ?", (chat_id, thread_id)
        )
        return n > 0

    async def get(self, chat_id: int, thread_id: int) -> Report | None:
        row = await self._db.fetchone(
            _SELECT + "WHERE r.chat_id = ? AND r.thread_id = ?", (chat_id, thread_id)
        )
        return None if row is None else _report(row)

    async def for_chat(self, chat_id: int) -> list[Report]:
        rows = await self._db.fetchall(
            _SELECT + "WHERE r.chat_id = ? ORDER BY r.thread_id", (chat_id,)
        )
        return [_report(r) for r in rows]

    async def all(self) -> list[Report]:
        rows = await self._db.fetchall(_SELECT + "ORDER BY r.chat_id, r.thread_id")
        return [_report(r) for r in rows]

    async def mark_sent(self, chat_id: int, thread_id: int, now: datetime) -> None:
        await self._db.execute(
            "UPDATE reports SET last_sent_at = ? WHERE chat_id = ? AND thread_id = ?",
            (to_db_time(now), chat_id, thread_id),
        )
