"""Small JSON values the scheduled jobs keep between runs and across restarts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, load_json, to_db_time

__all__ = ["JobStateRepo"]


class JobStateRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> Any:
        """The value stored under `key`, or None."""
        row = await self._db.fetchone("SELECT value FROM job_state WHERE key = ?", (key,))
        return None if row is None else load_json(row["value"])

    async def put(self, key: str, value: Any, now: datetime) -> None:
        await self._db.execute(
            """
            INSERT INTO job_state (key, value, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                updated_at = excluded.updated_at
            """,
            (key, dump_json(value), to_db_time(now)),
        )
