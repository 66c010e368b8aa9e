"""Live-location follows (/follow): which chats follow whom until when, and the live
messages each shows."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Database, from_db_time, to_db_time

__all__ = ["Follow", "FollowMessage", "FollowRepo", "TargetKind"]

TargetKind = Literal["user", "group"]


@dataclass(frozen=True, slots=True)
class Follow:
    """A chat's (or topic's) follow of a user or a talk group until `ends_at`.

    `stopped_at` is set once `/unfollow` or the Stop button asked to end it: its live
    messages are still to be stopped, and then the follow removed.
    """

    id: int
    chat_id: int
    thread_id: int
    target_kind: TargetKind
    target_id: int
    scope_org: int | None
    created_by: int | None
    started_at: datetime
    ends_at: datetime
    stopped_at: datetime | None

    def running(self, now: datetime) -> bool:
        return self.stopped_at is None and now < self.ends_at


@dataclass(frozen=True, slots=True)
class FollowMessage:
    """The live location shown for one user of a follow, the line above it, and the fix
    last shown (None until sent / until a fix was shown)."""

    follow_id: int
    user_id: int
    message_id: int | None
    caption_message_id: int | None
    last_lat: float | None
    last_lon: float | None
    last_fix_at: datetime | None


def _time(v: str | None) -> datetime | None:
    return None if v is None else from_db_time(v)


def _follow(r: sqlite3.Row) -> Follow:
    return Follow(
        id=r["id"],
        chat_id=r["chat_id"],
        thread_id=r["thread_id"],
        target_kind=r["target_kind"],
        target_id=r["target_id"],
        scope_org=r["scope_org"],
        created_by=r["created_by"],
        started_at=from_db_time(r["started_at"]),
        ends_at=from_db_time(r["ends_at"]),
        stopped_at=_time(r["stopped_at"]),
    )


def _message(r: sqlite3.Row) -> FollowMessage:
    return FollowMessage(
        follow_id=r["follow_id"],
        user_id=r["user_id"],
        message_id=r["message_id"],
        caption_message_id=r["caption_message_id"],
        last_lat=r["last_lat"],
        last_lon=r["last_lon"],
        last_fix_at=_time(r["last_fix_at"]),
    )


def _marks(n: int) -> str:
    return ",".join("?" * n)


class FollowRepo:
    """Follows and their live messages. A follow runs until `ends_at` or a stop; the job
    then stops its live messages (`finished`) and removes it (`remove`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(
        self,
        chat_id: int,
        thread_id: int,
        target_kind: TargetKind,
        target_id: int,
        *,
        scope_org: int | None,
        created_by: int | None,
        now: datetime,
        ends_at: datetime,
    ) -> Follow | None:
        """Follow a target here until `ends_at`; None if this chat/topic already follows it
        (the running follow is left as it is). A follow of it that is past its end but not
        yet finished by the job is marked stopped, so that the job still stops its messages.
        """
        if ends_at <= now:
            raise ValueError("a follow must end after it starts")
        at = to_db_time(now)
        key = (chat_id, thread_id, target_kind, target_id)
        where = """chat_id = ? AND thread_id = ? AND target_kind = ? AND target_id = ?
                   AND stopped_at IS NULL"""
        async with self._db.transaction():
            await self._db.execute(
                f"UPDATE follows SET stopped_at = ? WHERE {where} AND ends_at <= ?",
                (at, *key, at),
            )
            if await self._db.fetchone(f"SELECT 1 FROM follows WHERE {where}", key):
                return None
            follow_id = await self._db.insert(
                """
                INSERT INTO follows (chat_id, thread_id, target_kind, target_id, scope_org,
                                     created_by, started_at, ends_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (*key, scope_org, created_by, at, to_db_time(ends_at)),
            )
        return Follow(
            follow_id, chat_id, thread_id, target_kind, target_id, scope_org, created_by,
            from_db_time(at), from_db_time(to_db_time(ends_at)), None,
        )  # fmt: skip

    async def get(self, follow_id: int) -> Follow | None:
        r = await self._db.fetchone("SELECT * FROM follows WHERE id = ?", (follow_id,))
        return None if r is None else _follow(r)

    async def running(
        self, chat_id: int, thread_id: int, target_kind: TargetKind, target_id: int
    ) -> Follow | None:
        """This chat/topic's follow of a target that has not been stopped (it may be past
        its end, waiting for the job)."""
        r = await self._db.fetchone(
            """
            SELECT * FROM follows WHERE chat_id = ? AND thread_id = ? AND target_kind = ?
            AND target_id = ? AND stopped_at IS NULL
            """,
            (chat_id, thread_id, target_kind, target_id),
        )
        return None if r is None else _follow(r)

    async def for_chat(self, chat_id: int, now: datetime) -> list[Follow]:
        """A chat's running follows, all topics, soonest end first (`/subscriptions`)."""
        rows = await self._db.fetchall(
            """
            SELECT * FROM follows WHERE chat_id = ? AND stopped_at IS NULL AND ends_at > ?
            ORDER BY ends_at, id
            """,
            (chat_id, to_db_time(now)),
        )
        return [_follow(r) for r in rows]

    async def active(self, now: datetime) -> list[Follow]:
        """Every running follow of a chat that is not paused: what the job moves."""
        rows = await self._db.fetchall(
            """
            SELECT f.* FROM follows f
            LEFT JOIN chats c ON c.chat_id = f.chat_id
            WHERE f.stopped_at IS NULL AND f.ends_at > ? AND coalesce(c.paused, 0) = 0
            ORDER BY f.id
            """,
            (to_db_time(now),),
        )
        return [_follow(r) for r in rows]

    async def finished(self, now: datetime) -> list[Follow]:
        """Follows stopped or past their end, whose messages the job must stop before it
        removes them."""
        rows = await self._db.fetchall(
            "SELECT * FROM follows WHERE stopped_at IS NOT NULL OR ends_at <= ? ORDER BY id",
            (to_db_time(now),),
        )
        return [_follow(r) for r in rows]

    async def stop(self, follow_id: int, now: datetime) -> bool:
        """Ask to end a follow (the Stop button); False if unknown or already stopped."""
        n = await self._db.execute(
            "UPDATE follows SET stopped_at = ? WHERE id = ? AND stopped_at IS NULL",
            (to_db_time(now), follow_id),
        )
        return n > 0

    async def stop_in(
        self,
        chat_id: int,
        thread_id: int,
        now: datetime,
        target_kind: TargetKind | None = None,
        target_id: int | None = None,
    ) -> list[Follow]:
        """Ask to end this chat/topic's follows (`/unfollow all`), or those of one target
        (`/unfollow <user>`); returns the follows stopped."""
        where = "chat_id = ? AND thread_id = ? AND stopped_at IS NULL"
        params: tuple[object, ...] = (chat_id, thread_id)
        if target_kind is not None and target_id is not None:
            where += " AND target_kind = ? AND target_id = ?"
            params += (target_kind, target_id)
        async with self._db.transaction():
            rows = await self._db.fetchall(f"SELECT * FROM follows WHERE {where}", params)
            await self._db.execute(
                f"UPDATE follows SET stopped_at = ? WHERE {where}", (to_db_time(now), *params)
            )
        return [_follow(r) for r in rows]

    async def remove(self, follow_id: int) -> bool:
        """Forget a follow whose live messages were stopped, and its messages."""
        return await self._db.execute("DELETE FROM follows WHERE id = ?", (follow_id,)) > 0

    async def by_message(self, chat_id: int, message_id: int) -> Follow | None:
        """The follow a message of this chat belongs to (its live location or the line
        above it): how a Stop button press is judged."""
        r = await self._db.fetchone(
            """
            SELECT f.* FROM follows f JOIN follow_messages m ON m.follow_id = f.id
            WHERE f.chat_id = ? AND (m.message_id = ? OR m.caption_message_id = ?)
            """,
            (chat_id, message_id, message_id),
        )
        return None if r is None else _follow(r)

    # --- live messages ------------------------------------------------------------------

    async def messages(self, follow_ids: Collection[int]) -> dict[int, list[FollowMessage]]:
        """The live messages of these follows, by follow (each follow's by user id)."""
        found: dict[int, list[FollowMessage]] = {i: [] for i in follow_ids}
        ids = list(found)
        for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            rows = await self._db.fetchall(
                f"""
                SELECT * FROM follow_messages WHERE follow_id IN ({_marks(len(chunk))})
                ORDER BY follow_id, user_id
                """,
                chunk,
            )
            for r in rows:
                found[r["follow_id"]].append(_message(r))
        return found

    async def set_messages(
        self, follow_id: int, user_id: int, message_id: int | None, caption_message_id: int | None
    ) -> bool:
        """Record the live location and the line above it sent for a user of a follow;
        False, recording nothing, once the follow is stopped or gone: whoever stops it may
        already have read its messages, so the sender must stop what it just sent."""
        n = await self._db.execute(
            """
            INSERT INTO follow_messages (follow_id, user_id, message_id, caption_message_id)
            SELECT ?, ?, ?, ?
            WHERE EXISTS (SELECT 1 FROM follows WHERE id = ? AND stopped_at IS NULL)
            ON CONFLICT (follow_id, user_id) DO UPDATE SET
                message_id = excluded.message_id,
                caption_message_id = excluded.caption_message_id
            """,
            (follow_id, user_id, message_id, caption_message_id, follow_id),
        )
        return n > 0

    async def record_fixes(
        self, shown: Iterable[tuple[int, int, float, float, datetime | None]]
    ) -> None:
        """Record the fixes just shown: ``(follow_id, user_id, lat, lon, fix time)`` each,
        atomically. Users without a message row are skipped (nothing was shown)."""
        rows = [
            (lat, lon, None if at is None else to_db_time(at), fid, uid)
            for fid, uid, lat, lon, at in shown
        ]
        async with self._db.transaction():
            await self._db.executemany(
                """
                UPDATE follow_messages SET last_lat = ?, last_lon = ?, last_fix_at = ?
                WHERE follow_id = ? AND user_id = ?
                """,
                rows,
            )

    async def drop_user(self, follow_id: int, user_id: int) -> bool:
        """Forget a user's live message in a follow (a member who left the group, once the
        message was stopped)."""
        n = await self._db.execute(
            "DELETE FROM follow_messages WHERE follow_id = ? AND user_id = ?",
            (follow_id, user_id),
        )
        return n > 0
