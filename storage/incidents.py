"""Incidents relayed to chats, the messages that show them, and who acknowledged each."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, from_db_time, load_json, to_db_time

__all__ = ["Incident", "IncidentRepo"]


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    dedupe_key: str
    body: Any
    received_at: datetime
    acked_by: int | None
    acked_by_name: str | None
    acked_at: datetime | None


def _incident(r: sqlite3.Row) -> Incident:
    return Incident(
        id=r["id"],
        dedupe_key=r["dedupe_key"],
        body=load_json(r["body"]),
        received_at=from_db_time(r["received_at"]),
        acked_by=r["acked_by"],
        acked_by_name=r["acked_by_name"],
        acked_at=from_db_time(r["acked_at"]) if r["acked_at"] else None,
    )


_ADD = "INSERT OR IGNORE INTO incidents (dedupe_key, body, received_at) VALUES (?, ?, ?)"


class IncidentRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, dedupe_key: str, body: Any, now: datetime) -> int | None:
        """Store an incident; None if that id and code were stored before."""
        changed = await self._db.execute(_ADD, (dedupe_key, dump_json(body), to_db_time(now)))
        if not changed:
            return None
        row = await self._db.fetchone(
            "SELECT id FROM incidents WHERE dedupe_key = ?", (dedupe_key,)
        )
        assert row is not None
        return int(row["id"])

    @staticmethod
    def add_in(conn: sqlite3.Connection, dedupe_key: str, body: str, now: datetime) -> int | None:
        """`add` inside `Database.run_in_transaction`; `body` is JSON text."""
        cursor = conn.execute(_ADD, (dedupe_key, body, to_db_time(now)))
        return cursor.lastrowid if cursor.rowcount else None

    async def get(self, incident_id: int) -> Incident | None:
        row = await self._db.fetchone("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        return _incident(row) if row else None

    async def acknowledge(
        self, incident_id: int, user_id: int, name: str, now: datetime
    ) -> tuple[bool, Incident | None]:
        """Record the first acknowledgement. (True, incident) if this press was the first."""
        changed = await self._db.execute(
            """
            UPDATE incidents SET acked_by = ?, acked_by_name = ?, acked_at = ?
            WHERE id = ? AND acked_at IS NULL
            """,
            (user_id, name, to_db_time(now), incident_id),
        )
        return bool(changed), await self.get(incident_id)

    async def add_message(self, incident_id: int, chat_id: int, message_id: int) -> None:
        await self._db.execute(
            """
            INSERT OR IGNORE INTO incident_messages (incident_id, chat_id, message_id)
            VALUES (?, ?, ?)
            """,
            (incident_id, chat_id, message_id),
        )

    async def shown_by(self, incident_id: int, chat_id: int, message_id: int) -> bool:
        """Whether that Telegram message is a copy of the incident the bridge sent (what an
        Acknowledge press is judged by: the button's data alone proves nothing)."""
        row = await self._db.fetchone(
            """
            SELECT 1 FROM incident_messages
            WHERE incident_id = ? AND chat_id = ? AND message_id = ?
            """,
            (incident_id, chat_id, message_id),
        )
        return row is not None

    async def messages(self, incident_id: int) -> list[tuple[int, int]]:
        """(chat_id, message_id) of every message showing the incident."""
        rows = await self._db.fetchall(
            "SELECT chat_id, message_id FROM incident_messages WHERE incident_id = ?",
            (incident_id,),
        )
        return [(r["chat_id"], r["message_id"]) for r in rows]
