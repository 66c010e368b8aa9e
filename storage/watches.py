"""Presence watches (/watch): which chats follow which talk groups, and what was last told."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Database, from_db_time, to_db_time

__all__ = ["Presence", "PresenceChange", "PresenceRepo", "Watch", "WatchRepo"]

Presence = Literal["online", "offline"]


@dataclass(frozen=True, slots=True)
class Watch:
    """A chat's (or topic's) wish to be told when members of a talk group come and go.

    `scope_org` is the org subtree the person who set it may see (None: everything):
    members outside it are not told in this chat.
    """

    chat_id: int
    thread_id: int
    group_id: int
    scope_org: int | None
    created_by: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """A member's presence that changed and stayed changed for two polls."""

    group_id: int
    user_id: int
    before: Presence
    after: Presence


def _watch(r: sqlite3.Row) -> Watch:
    return Watch(
        chat_id=r["chat_id"],
        thread_id=r["thread_id"],
        group_id=r["group_id"],
        scope_org=r["scope_org"],
        created_by=r["created_by"],
        created_at=from_db_time(r["created_at"]),
    )


class WatchRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        chat_id: int,
        thread_id: int,
        group_id: int,
        scope_org: int | None,
        created_by: int | None,
        now: datetime,
    ) -> bool:
        """Watch a group here; False if this chat/topic already watched it (scope updated)."""
        async with self._db.transaction():
            existed = await self._db.fetchone(
                "SELECT 1 FROM watches WHERE chat_id = ? AND thread_id = ? AND group_id = ?",
                (chat_id, thread_id, group_id),
            )
            await self._db.execute(
                """
                INSERT INTO watches (chat_id, thread_id, group_id, scope_org, created_by,
                                     created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (chat_id, thread_id, group_id) DO UPDATE SET
                    scope_org = excluded.scope_org
                """,
                (chat_id, thread_id, group_id, scope_org, created_by, to_db_time(now)),
            )
        return existed is None

    async def remove(self, chat_id: int, thread_id: int, group_id: int) -> bool:
        """Stop watching; False if it was not watched here. Presence of a group nobody
        watches any more is forgotten, so a later watch starts from what it sees then."""
        async with self._db.transaction():
            n = await self._db.execute(
                "DELETE FROM watches WHERE chat_id = ? AND thread_id = ? AND group_id = ?",
                (chat_id, thread_id, group_id),
            )
            await self._db.execute(
                """
                DELETE FROM presence WHERE group_id = ?
                AND NOT EXISTS (SELECT 1 FROM watches WHERE group_id = ?)
                """,
                (group_id, group_id),
            )
        return n > 0

    async def remove_all(self, chat_id: int, thread_id: int) -> int:
        """Stop every watch of this chat/topic (`/unsubscribe presence`); returns how many.
        Presence of groups nobody watches any more is forgotten, as in `remove`."""
        async with self._db.transaction():
            n = await self._db.execute(
                "DELETE FROM watches WHERE chat_id = ? AND thread_id = ?", (chat_id, thread_id)
            )
            await self._db.execute(
                """
                DELETE FROM presence
                WHERE NOT EXISTS (SELECT 1 FROM watches w WHERE w.group_id = presence.group_id)
                """
            )
        return n

    async def for_chat(self, chat_id: int) -> list[Watch]:
        """Every watch of a chat, all topics."""
        rows = await self._db.fetchall(
            "SELECT * FROM watches WHERE chat_id = ? ORDER BY thread_id, group_id", (chat_id,)
        )
        return [_watch(r) for r in rows]

    async def active(self) -> list[Watch]:
        """Every watch of a chat that is not paused (a chat that blocked the bot is not polled
        for)."""
        rows = await self._db.fetchall(
            """
            SELECT w.* FROM watches w
            LEFT JOIN chats c ON c.chat_id = w.chat_id
            WHERE coalesce(c.paused, 0) = 0
            ORDER BY w.group_id, w.chat_id, w.thread_id
            """
        )
        return [_watch(r) for r in rows]


class PresenceRepo:
    """Presence per (group, member) as last told, with a pending change seen once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def told(self, group_id: int) -> dict[int, Presence]:
        rows = await self._db.fetchall(
            "SELECT user_id, told FROM presence WHERE group_id = ?", (group_id,)
        )
        return {r["user_id"]: r["told"] for r in rows}

    async def apply(
        self, group_id: int, observed: Mapping[int, Presence], now: datetime
    ) -> list[PresenceChange]:
        """Record one poll of a group; return the changes now confirmed by two polls.

        A member seen for the first time is recorded as it is (nothing to tell). A state
        that differs from the one told becomes a candidate; if the next poll sees the same
        state again it is told, if it sees the told state the candidate is dropped (a flap).
        Members no longer in the group are forgotten. Call inside a transaction to make it
        atomic with the messages it causes.
        """
        at = to_db_time(now)
        rows = await self._db.fetchall(
            "SELECT user_id, told, candidate FROM presence WHERE group_id = ?", (group_id,)
        )
        known = {r["user_id"]: (r["told"], r["candidate"]) for r in rows}
        changes: list[PresenceChange] = []
        writes: list[tuple[str, str | None, str, int, int]] = []
        for uid, state in observed.items():
            if uid not in known:
                writes.append((state, None, at, group_id, uid))
                continue
            told, candidate = known[uid]
            if state == told:
                if candidate is not None:
                    writes.append((told, None, at, group_id, uid))
            elif candidate == state:
                changes.append(PresenceChange(group_id, uid, told, state))
                writes.append((state, None, at, group_id, uid))
            else:
                writes.append((told, state, at, group_id, uid))
        await self._db.executemany(
            """
            INSERT INTO presence (told, candidate, updated_at, group_id, user_id)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (group_id, user_id) DO UPDATE SET
                told = excluded.told, candidate = excluded.candidate,
                updated_at = excluded.updated_at
            """,
            writes,
        )
        gone = [(group_id, uid) for uid in known if uid not in observed]
        if gone:
            await self._db.executemany(
                "DELETE FROM presence WHERE group_id = ? AND user_id = ?", gone
            )
        return changes

    async def baseline(
        self, group_id: int, observed: Mapping[int, Presence], now: datetime
    ) -> None:
        """Record members not yet known as they are now (a new watch's starting point)."""
        at = to_db_time(now)
        await self._db.executemany(
            """
            INSERT INTO presence (told, candidate, updated_at, group_id, user_id)
            VALUES (?, NULL, ?, ?, ?)
            ON CONFLICT (group_id, user_id) DO NOTHING
            """,
            [(state, at, group_id, uid) for uid, state in observed.items()],
        )
