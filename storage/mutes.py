"""Chats that hold their relayed messages until a time (/mute)."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database, from_db_time, to_db_time

__all__ = ["MuteRepo"]


class MuteRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, chat_id: int, until: datetime, set_by: int | None, now: datetime) -> None:
        await self._db.execute(
            """
            INSERT INTO mutes (chat_id, until, set_by, set_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (chat_id) DO UPDATE SET until = excluded.until,
                set_by = excluded.set_by, set_at = excluded.set_at
            """,
            (chat_id, to_db_time(until), set_by, to_db_time(now)),
        )

    async def clear(self, chat_id: int) -> bool:
        return bool(await self._db.execute("DELETE FROM mutes WHERE chat_id = ?", (chat_id,)))

    async def get(self, chat_id: int) -> datetime | None:
        row = await self._db.fetchone("SELECT until FROM mutes WHERE chat_id = ?", (chat_id,))
        return from_db_time(row["until"]) if row else None

    async def active(self, now: datetime) -> dict[int, datetime]:
        rows = await self._db.fetchall(
            "SELECT chat_id, until FROM mutes WHERE until > ?", (to_db_time(now),)
        )
        return {r["chat_id"]: from_db_time(r["until"]) for r in rows}

    async def ended(self, now: datetime) -> list[int]:
        rows = await self._db.fetchall(
            "SELECT chat_id FROM mutes WHERE until <= ?", (to_db_time(now),)
        )
        return [r["chat_id"] for r in rows]
