"""Recordings already relayed to chats, so each is sent once, across restarts too."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from storage.db import Database, from_db_time, to_db_time

__all__ = ["SeenRecordingRepo"]


class SeenRecordingRepo:
    """`recordings_seen` (keys of recordings told or skipped) and `recording_users` (whose
    recordings are followed, since when)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def unseen(self, keys: Iterable[str]) -> set[str]:
        """Those of `keys` not seen before."""
        wanted = list(dict.fromkeys(keys))
        seen: set[str] = set()
        for start in range(0, len(wanted), 500):  # SQLite's host-parameter limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._db.fetchall(
                f"SELECT rec_key FROM recordings_seen WHERE rec_key IN ({marks})", chunk
            )
            seen |= {r["rec_key"] for r in rows}
        return {k for k in wanted if k not in seen}

    async def mark(self, items: Iterable[tuple[str, int | None, datetime]], now: datetime) -> None:
        """Mark (key, user id, begin time) as seen; call in the transaction that queues them."""
        at = to_db_time(now)
        await self._db.executemany(
            """
            INSERT INTO recordings_seen (rec_key, user_id, begin_at, seen_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (rec_key) DO NOTHING
            """,
            [(k, uid, to_db_time(begin), at) for k, uid, begin in items],
        )

    async def prune(self, before: datetime) -> int:
        """Forget recordings that began before `before` (they are never polled again)."""
        return await self._db.execute(
            "DELETE FROM recordings_seen WHERE begin_at < ?", (to_db_time(before),)
        )

    async def followed(self) -> dict[int, datetime]:
        """Users whose recordings are followed, and since when."""
        rows = await self._db.fetchall("SELECT user_id, since FROM recording_users")
        return {r["user_id"]: from_db_time(r["since"]) for r in rows}

    async def follow(self, user_ids: Iterable[int], now: datetime) -> None:
        at = to_db_time(now)
        await self._db.executemany(
            "INSERT INTO recording_users (user_id, since) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO NOTHING",
            [(u, at) for u in user_ids],
        )

    async def unfollow(self, user_ids: Iterable[int]) -> None:
        """Users no longer concerned: a later subscription starts afresh (no backlog)."""
        await self._db.executemany(
            "DELETE FROM recording_users WHERE user_id = ?", [(u,) for u in user_ids]
        )
