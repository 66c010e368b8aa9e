"""Platform events as received: stored before they are acknowledged, deduplicated."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, from_db_time, load_json, to_db_time

__all__ = ["InboxEvent", "InboxRepo"]


@dataclass(frozen=True, slots=True)
class InboxEvent:
    id: int
    kind: str
    dedupe_key: str
    body: Any
    received_at: datetime
    processed_at: datetime | None


def _event(r: sqlite3.Row) -> InboxEvent:
    return InboxEvent(
        id=r["id"],
        kind=r["kind"],
        dedupe_key=r["dedupe_key"],
        body=load_json(r["body"]),
        received_at=from_db_time(r["received_at"]),
        processed_at=from_db_time(r["processed_at"]) if r["processed_at"] else None,
    )


_ADD = """
    INSERT OR IGNORE INTO inbox (kind, dedupe_key, body, received_at, processed_at)
    VALUES (?, ?, ?, ?, ?)
"""


class InboxRepo:
    """Call inside `db.transaction()` together with the fan-out, so both commit or neither."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self, kind: str, dedupe_key: str, body: Any, now: datetime, *, processed: bool = False
    ) -> int | None:
        """Store an event; None when one with the same `dedupe_key` is already stored."""
        at = to_db_time(now)
        changed = await self._db.execute(
            _ADD, (kind, dedupe_key, dump_json(body), at, at if processed else None)
        )
        if not changed:
            return None
        row = await self._db.fetchone("SELECT id FROM inbox WHERE dedupe_key = ?", (dedupe_key,))
        assert row is not None
        return int(row["id"])

    @staticmethod
    def add_in(
        conn: sqlite3.Connection, kind: str, dedupe_key: str, body: str, now: datetime
    ) -> int | None:
        """`add(..., processed=True)` inside `Database.run_in_transaction`; `body` is JSON
        text (from `dump_json`)."""
        at = to_db_time(now)
        cursor = conn.execute(_ADD, (kind, dedupe_key, body, at, at))
        return cursor.lastrowid if cursor.rowcount else None

    async def unprocessed(self, limit: int = 100) -> list[InboxEvent]:
        rows = await self._db.fetchall(
            "SELECT * FROM inbox WHERE processed_at IS NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [_event(r) for r in rows]

    async def mark_processed(self, event_id: int, now: datetime, error: str | None = None) -> None:
        await self._db.execute(
            "UPDATE inbox SET processed_at = ?, error = ? WHERE id = ?",
            (to_db_time(now), error, event_id),
        )

    async def last_received_at(self) -> datetime | None:
        row = await self._db.fetchone("SELECT max(received_at) AS at FROM inbox")
        return from_db_time(row["at"]) if row and row["at"] else None

    async def count(self) -> int:
        row = await self._db.fetchone("SELECT count(*) AS n FROM inbox")
        return int(row["n"]) if row else 0
