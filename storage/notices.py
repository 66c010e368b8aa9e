"""Notices queued for the platform (2.15), stored with their chat copies in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, load_json, to_db_time

__all__ = ["NoticeJobRepo"]


class NoticeJobRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, body: Any, now: datetime) -> int:
        return await self._db.insert(
            "INSERT INTO notice_jobs (body, created_at) VALUES (?, ?)",
            (dump_json(body), to_db_time(now)),
        )

    async def pending(self) -> list[tuple[int, Any]]:
        rows = await self._db.fetchall(
            "SELECT id, body FROM notice_jobs WHERE state = 'pending' ORDER BY id"
        )
        return [(r["id"], load_json(r["body"])) for r in rows]

    async def finish(self, job_id: int, now: datetime, error: str | None = None) -> None:
        await self._db.execute(
            "UPDATE notice_jobs SET state = ?, done_at = ?, error = ? WHERE id = ?",
            ("dead" if error else "sent", to_db_time(now), error, job_id),
        )

    async def error_of(self, job_id: int) -> str | None:
        """Why the platform refused a notice; None when it was accepted (or is pending)."""
        row = await self._db.fetchone("SELECT error FROM notice_jobs WHERE id = ?", (job_id,))
        return row["error"] if row else None

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetchall(
            "SELECT state, count(*) AS n FROM notice_jobs GROUP BY state"
        )
        return {r["state"]: int(r["n"]) for r in rows}
