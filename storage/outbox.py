"""Messages the bridge sends on its own: durable, in order per chat, at least once.

States: pending -> sending -> sent, or dead (failed for good), or summarized (folded
into a mute summary). A row found in 'sending' at start-up was in flight at a crash:
it goes back to pending and is sent again (the only way a message is sent twice).

A row may take several Telegram messages (a long incident, its attachments). While it
is open, `message_ids` holds its progress, `{step: [message ids]}`, so that a retry
after a failure part-way sends only the steps not yet sent; once sent, the flat list of
every message id.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, from_db_time, load_json, to_db_time

__all__ = ["OutboxRepo", "OutboxRow"]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    chat_id: int
    thread_id: int
    kind: str
    payload: Any
    state: str
    attempts: int
    next_at: datetime
    created_at: datetime
    sort_key: float
    incident_id: int | None
    error: str | None
    progress: dict[str, list[int]] = field(default_factory=dict)  # steps already sent


def _row(r: sqlite3.Row) -> OutboxRow:
    ids = load_json(r["message_ids"]) if r["message_ids"] else None
    return OutboxRow(
        id=r["id"],
        chat_id=r["chat_id"],
        thread_id=r["thread_id"],
        kind=r["kind"],
        payload=load_json(r["payload"]),
        state=r["state"],
        attempts=r["attempts"],
        next_at=from_db_time(r["next_at"]),
        created_at=from_db_time(r["created_at"]),
        sort_key=r["sort_key"],
        incident_id=r["incident_id"],
        error=r["error"],
        progress=ids if isinstance(ids, dict) and r["state"] in ("pending", "sending") else {},
    )


_ENQUEUE = """
    INSERT INTO outbox (chat_id, thread_id, kind, payload, sort_key, next_at, created_at,
                        incident_id)
    VALUES (?, ?, ?, ?, 0, ?, ?, ?)
"""
_SORT = "UPDATE outbox SET sort_key = ? WHERE id = ?"


class OutboxRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(
        self,
        chat_id: int,
        thread_id: int,
        kind: str,
        payload: Any,
        now: datetime,
        *,
        incident_id: int | None = None,
        sort_key: float | None = None,
    ) -> int:
        """Queue a message; it is sent after every earlier row of the same chat."""
        at = to_db_time(now)
        async with self._db.transaction():
            rowid = await self._db.insert(
                _ENQUEUE, (chat_id, thread_id, kind, dump_json(payload), at, at, incident_id)
            )
            await self._db.execute(_SORT, (rowid if sort_key is None else sort_key, rowid))
        return rowid

    @staticmethod
    def enqueue_in(
        conn: sqlite3.Connection,
        chat_id: int,
        thread_id: int,
        kind: str,
        payload: str,
        now: datetime,
        *,
        incident_id: int | None = None,
    ) -> int:
        """`enqueue` inside `Database.run_in_transaction`; `payload` is JSON text."""
        at = to_db_time(now)
        cursor = conn.execute(_ENQUEUE, (chat_id, thread_id, kind, payload, at, at, incident_id))
        rowid = cursor.lastrowid
        assert rowid is not None
        conn.execute(_SORT, (rowid, rowid))
        return rowid

    async def set_payload(self, row_id: int, payload: Any) -> None:
        """Replace an open row's message (one rendered again)."""
        await self._db.execute(
            "UPDATE outbox SET payload = ? WHERE id = ? AND state IN ('pending', 'sending')",
            (dump_json(payload), row_id),
        )

    async def set_incident_payload(self, incident_id: int, payload: Any) -> int:
        """Replace the message of every open row of an incident (acknowledged meanwhile:
        the copies not sent yet show it). Returns how many rows."""
        return await self._db.execute(
            """
            UPDATE outbox SET payload = ?
            WHERE incident_id = ? AND kind = 'incidents' AND state IN ('pending', 'sending')
            """,
            (dump_json(payload), incident_id),
        )

    async def unrendered_incidents(self) -> list[tuple[int, int]]:
        """(row id, incident id) of open incident rows queued without their message (`{}`:
        written by a version that rendered incidents when they were sent)."""
        rows = await self._db.fetchall(
            """
            SELECT id, incident_id FROM outbox
            WHERE incident_id IS NOT NULL AND kind = 'incidents' AND payload = '{}'
              AND state IN ('pending', 'sending')
            ORDER BY id
            """
        )
        return [(r["id"], r["incident_id"]) for r in rows]

    async def recover(self) -> int:
        """At start: rows left 'sending' by a crash go back to pending. Returns how many."""
        return await self._db.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'")

    async def chats_with_work(
        self, now: datetime, exclude: frozenset[int] = frozenset()
    ) -> list[int]:
        """Chats whose first open row is due now (muted chats are the caller's filter)."""
        rows = await self._db.fetchall(
            """
            SELECT o.chat_id FROM outbox o
            WHERE o.state = 'pending' AND o.next_at <= ?
              AND o.sort_key = (SELECT min(sort_key) FROM outbox
                                WHERE chat_id = o.chat_id AND state IN ('pending', 'sending'))
            GROUP BY o.chat_id ORDER BY min(o.id)
            """,
            (to_db_time(now),),
        )
        return [r["chat_id"] for r in rows if r["chat_id"] not in exclude]

    async def next_due(self, exclude: frozenset[int] = frozenset()) -> datetime | None:
        """When the next pending row falls due, leaving out the chats in `exclude` (muted
        ones, and those a drainer is already working through)."""
        marks = ",".join("?" * len(exclude))
        row = await self._db.fetchone(
            f"""
            SELECT min(next_at) AS at FROM outbox
            WHERE state = 'pending' AND chat_id NOT IN ({marks})
            """,
            tuple(exclude),
        )
        return from_db_time(row["at"]) if row and row["at"] else None

    async def head(self, chat_id: int) -> OutboxRow | None:
        """The chat's first open row (sent next, in order)."""
        row = await self._db.fetchone(
            """
            SELECT * FROM outbox WHERE chat_id = ? AND state IN ('pending', 'sending')
            ORDER BY sort_key, id LIMIT 1
            """,
            (chat_id,),
        )
        return _row(row) if row else None

    async def open_rows(self, chat_id: int) -> list[OutboxRow]:
        rows = await self._db.fetchall(
            """
            SELECT * FROM outbox WHERE chat_id = ? AND state IN ('pending', 'sending')
            ORDER BY sort_key, id
            """,
            (chat_id,),
        )
        return [_row(r) for r in rows]

    async def mark_sending(self, row_id: int) -> None:
        await self._db.execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?",
            (row_id,),
        )

    async def mark_progress(self, row_id: int, progress: dict[str, list[int]]) -> None:
        """Record the steps of a row already sent (`{step: [message ids]}`), before the
        next one: a retry or a restart resumes after them instead of repeating them."""
        await self._db.execute(
            "UPDATE outbox SET message_ids = ? WHERE id = ?", (dump_json(progress), row_id)
        )

    async def mark_sent(self, row_id: int, message_ids: list[int], now: datetime) -> None:
        await self._db.execute(
            """
            UPDATE outbox SET state = 'sent', sent_at = ?, message_ids = ?, error = NULL
            WHERE id = ?
            """,
            (to_db_time(now), dump_json(message_ids), row_id),
        )

    async def retry_later(self, row_id: int, error: str, next_at: datetime) -> None:
        await self._db.execute(
            "UPDATE outbox SET state = 'pending', error = ?, next_at = ? WHERE id = ?",
            (error[:500], to_db_time(next_at), row_id),
        )

    async def mark_dead(self, row_id: int, error: str) -> None:
        await self._db.execute(
            "UPDATE outbox SET state = 'dead', error = ? WHERE id = ?", (error[:500], row_id)
        )

    async def kill_chat(self, chat_id: int, error: str) -> int:
        """Every open row of a chat that can no longer receive goes to dead letters."""
        return await self._db.execute(
            """
            UPDATE outbox SET state = 'dead', error = ?
            WHERE chat_id = ? AND state IN ('pending', 'sending')
            """,
            (error[:500], chat_id),
        )

    async def mark_summarized(self, row_ids: list[int]) -> None:
        await self._db.executemany(
            "UPDATE outbox SET state = 'summarized' WHERE id = ?", [(i,) for i in row_ids]
        )

    async def summarize(
        self, chat_id: int, payload: Any, *, folded: list[int], before: float, now: datetime
    ) -> int:
        """Queue a summary ahead of a chat's held rows and mark `folded` rows as told by it."""
        async with self._db.transaction():
            rowid = await self.enqueue(
                chat_id, 0, "mute-summary", payload, now, sort_key=before - 0.5
            )
            await self.mark_summarized(folded)
        return rowid

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetchall("SELECT state, count(*) AS n FROM outbox GROUP BY state")
        out = {s: 0 for s in ("pending", "sending", "sent", "dead", "summarized")}
        out.update({r["state"]: int(r["n"]) for r in rows})
        return out

    async def dead(self, limit: int = 20) -> list[OutboxRow]:
        rows = await self._db.fetchall(
            "SELECT * FROM outbox WHERE state = 'dead' ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_row(r) for r in rows]

    async def sent_rows(self, chat_id: int | None = None) -> list[OutboxRow]:
        if chat_id is None:
            rows = await self._db.fetchall("SELECT * FROM outbox WHERE state = 'sent' ORDER BY id")
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM outbox WHERE state = 'sent' AND chat_id = ? ORDER BY id",
                (chat_id,),
            )
        return [_row(r) for r in rows]
