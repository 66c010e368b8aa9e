"""Which platform events each chat (and forum topic) receives."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, dump_json, load_json, to_db_time, utcnow

__all__ = ["KINDS", "Subscription", "SubscriptionRepo"]

KINDS = (
    "incidents",
    "org-changes",
    "user-changes",
    "notices",
    "presence",
    "recordings",
    "attendance",
)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat's (or topic's, `thread_id` != 0) wish to receive one kind of event.

    `orgs` limits it to those orgs' subtrees (empty: all); `levels` to those incident
    levels (empty: all).
    """

    chat_id: int
    thread_id: int
    kind: str
    orgs: tuple[int, ...]
    levels: tuple[str, ...]


class SubscriptionRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(
        self,
        chat_id: int,
        thread_id: int,
        kind: str,
        orgs: tuple[int, ...] = (),
        levels: tuple[str, ...] = (),
        created_by: int | None = None,
        *,
        now: datetime | None = None,
    ) -> Subscription:
        """Subscribe (or change the filters of an existing subscription)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        await self._db.execute(
            """
            INSERT INTO subscriptions (chat_id, thread_id, kind, orgs, levels, created_by,
                                       created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (chat_id, thread_id, kind) DO UPDATE SET
                orgs = excluded.orgs, levels = excluded.levels
            """,
            (
                chat_id,
                thread_id,
                kind,
                dump_json(sorted(set(orgs))),
                dump_json(sorted(set(levels))),
                created_by,
                to_db_time(now or utcnow()),
            ),
        )
        return Subscription(chat_id, thread_id, kind, tuple(sorted(set(orgs))), tuple(levels))

    async def remove(self, chat_id: int, thread_id: int, kind: str | None = None) -> int:
        """Remove one kind, or every kind (None), for a chat/topic; returns how many."""
        if kind is None:
            return await self._db.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND thread_id = ?",
                (chat_id, thread_id),
            )
        return await self._db.execute(
            "DELETE FROM subscriptions WHERE chat_id = ? AND thread_id = ? AND kind = ?",
            (chat_id, thread_id, kind),
        )

    async def for_chat(self, chat_id: int) -> list[Subscription]:
        """Every subscription of a chat, all topics, by topic and kind."""
        rows = await self._db.fetchall(
            "SELECT * FROM subscriptions WHERE chat_id = ? ORDER BY thread_id, kind", (chat_id,)
        )
        return [_sub(r) for r in rows]

    async def of_kind(self, kind: str) -> list[Subscription]:
        """Every subscription to `kind` of chats that are not paused."""
        rows = await self._db.fetchall(
            """
            SELECT s.* FROM subscriptions s
            LEFT JOIN chats c ON c.chat_id = s.chat_id
            WHERE s.kind = ? AND coalesce(c.paused, 0) = 0
            ORDER BY s.chat_id, s.thread_id
            """,
            (kind,),
        )
        return [_sub(r) for r in rows]


def _sub(row: sqlite3.Row) -> Subscription:
    return Subscription(
        chat_id=row["chat_id"],
        thread_id=row["thread_id"],
        kind=row["kind"],
        orgs=tuple(int(o) for o in load_json(row["orgs"])),
        levels=tuple(str(x) for x in load_json(row["levels"])),
    )
