"""Telegram chats the bot is in: their kind, title, forum topics, and whether relaying is paused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from storage.db import Database, dump_json, from_db_time, load_json, to_db_time, utcnow
from storage.subscriptions import CHANGED as RECEIVERS

__all__ = ["CHAT_KEYED_COLUMNS", "Chat", "ChatRepo"]

CHAT_KEYED_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("fsm", "chat_id"),
    ("subscriptions", "chat_id"),
    ("outbox", "chat_id"),
    ("incident_messages", "chat_id"),
    ("mutes", "chat_id"),
    ("watches", "chat_id"),
    ("reports", "chat_id"),
    ("follows", "chat_id"),
    ("fence_watches", "chat_id"),
    ("transcript_captions", "chat_id"),
)
"""Every ``(table, column)`` that holds a Telegram chat id, apart from ``chats`` itself.

:meth:`ChatRepo.migrate` moves these rows when a group becomes a supergroup. A migration
that adds a table keyed by chat id must add it here (a test checks the schema against it).
"""


@dataclass(frozen=True, slots=True)
class Chat:
    """A Telegram chat as the bridge remembers it."""

    chat_id: int
    type: str
    title: str | None
    thread_ids: tuple[int, ...]
    paused: bool
    paused_reason: str | None
    paused_at: datetime | None
    migrated_from: int | None
    created_at: datetime
    updated_at: datetime


def _chat(row: sqlite3.Row) -> Chat:
    return Chat(
        chat_id=row["chat_id"],
        type=row["type"],
        title=row["title"],
        thread_ids=tuple(load_json(row["thread_ids"])),
        paused=bool(row["paused"]),
        paused_reason=row["paused_reason"],
        paused_at=None if row["paused_at"] is None else from_db_time(row["paused_at"]),
        migrated_from=row["migrated_from"],
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
    )


class ChatRepo:
    """Chats the bot is in, keyed by Telegram chat id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert(
        self,
        chat_id: int,
        type: str,
        title: str | None,
        thread_ids: Iterable[int] | None = None,
        *,
        now: datetime | None = None,
    ) -> Chat:
        """Record a chat, or update its type and title.

        ``thread_ids`` are forum topics seen in use; they are added to those already known
        (None adds nothing). Returns the chat as stored.
        """
        at = to_db_time(now or utcnow())
        async with self._db.transaction():
            row = await self._db.fetchone(
                "SELECT thread_ids FROM chats WHERE chat_id = ?", (chat_id,)
            )
            known = set(load_json(row["thread_ids"])) if row is not None else set()
            threads = sorted(known | {int(t) for t in thread_ids or ()})
            await self._db.execute(
                """
                INSERT INTO chats (chat_id, type, title, thread_ids, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (chat_id) DO UPDATE SET
                    type = excluded.type,
                    title = excluded.title,
                    thread_ids = excluded.thread_ids,
                    updated_at = excluded.updated_at
                """,
                (chat_id, type, title, dump_json(threads), at, at),
            )
            chat = await self.get(chat_id)
        assert chat is not None
        return chat

    async def get(self, chat_id: int) -> Chat | None:
        """The chat with this id, or None if the bot has not recorded it."""
        row = await self._db.fetchone("SELECT * FROM chats WHERE chat_id = ?", (chat_id,))
        return None if row is None else _chat(row)

    async def list(self) -> list[Chat]:
        """Every chat recorded, by id."""
        rows = await self._db.fetchall("SELECT * FROM chats ORDER BY chat_id")
        return [_chat(row) for row in rows]

    async def set_paused(
        self,
        chat_id: int,
        paused: bool,
        reason: str | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """Pause relaying to a chat (it blocked the bot, or is gone), or resume it.

        Resuming clears the reason. Returns False if the chat is not recorded.
        """
        at = to_db_time(now or utcnow())
        changed = await self._db.execute(
            """
            UPDATE chats
            SET paused = ?, paused_reason = ?, paused_at = ?, updated_at = ?
            WHERE chat_id = ?
            """,
            (int(paused), reason if paused else None, at if paused else None, at, chat_id),
        )
        self._db.changed(RECEIVERS)
        return changed > 0

    async def migrate(
        self, old_id: int, new_id: int, *, now: datetime | None = None
    ) -> Chat | None:
        """Move a group that Telegram migrated to a supergroup onto its new id, atomically.

        The chat row and every row in :data:`CHAT_KEYED_COLUMNS` move to ``new_id``; where
        the new id already has an equivalent row (the bot saw the supergroup first), that row
        is kept and the old one dropped. The moved chat is not paused (a send that failed
        because of the migration may have paused the old id) and remembers ``migrated_from``.
        Its type and title are the old ones until the caller upserts the supergroup's.
        Returns the chat under its new id, or None if neither id was recorded.
        """
        at = to_db_time(now or utcnow())
        async with self._db.transaction():
            old = await self.get(old_id)
            new = await self.get(new_id)
            if old is not None and new is None:
                await self._db.execute(
                    """
                    INSERT INTO chats (chat_id, type, title, thread_ids, paused, paused_reason,
                                       paused_at, migrated_from, created_at, updated_at)
                    SELECT ?, type, title, thread_ids, 0, NULL, NULL, chat_id, created_at, ?
                    FROM chats WHERE chat_id = ?
                    """,
                    (new_id, at, old_id),
                )
            elif old is not None and new is not None:
                threads = sorted(set(old.thread_ids) | set(new.thread_ids))
                await self._db.execute(
                    """
                    UPDATE chats SET migrated_from = ?, thread_ids = ?, updated_at = ?
                    WHERE chat_id = ?
                    """,
                    (old_id, dump_json(threads), at, new_id),
                )
            for table, column in CHAT_KEYED_COLUMNS:
                # OR IGNORE: a row the new id already has wins over the old id's copy.
                await self._db.execute(
                    f"UPDATE OR IGNORE {table} SET {column} = ? WHERE {column} = ?",
                    (new_id, old_id),
                )
                await self._db.execute(f"DELETE FROM {table} WHERE {column} = ?", (old_id,))
            await self._db.execute("DELETE FROM chats WHERE chat_id = ?", (old_id,))
            self._db.changed(RECEIVERS)  # before the commit: readers wait for it
            return await self.get(new_id)
