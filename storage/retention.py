"""How long the bridge keeps what it stored, and the pruning that holds it to that.

Platform data the bridge only passed on (events received, messages sent, incidents and
who acknowledged them) is kept for a while for `/status`, acknowledgements and
deduplication, then deleted; the audit trail is kept longer. Open work (an event not yet
processed, a message not yet sent) is never pruned, whatever its age.

Live-location follows are removed by their job once their messages are stopped; one that
ended (its end, or a stop) long ago and is still there (its messages could not be stopped)
goes here, with its messages. A fence's crossing state for a user not seen for a month goes
too (the next fix starts it afresh); fences and their watches are the users' and never go.

Transcripts are platform data like the recordings they come from: kept as long as the
recording history (``BRIDGE_RECORDINGS_KEEP_DAYS``, counted from the recording's start),
then deleted with their search index entries, whatever their state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Database, to_db_time
from storage.files import FILES_KEPT, FileRepo

__all__ = ["KEEP", "Keep", "Retention"]

BATCH = 2000
"""Rows deleted per statement: a long prune never holds the write lock for long."""


@dataclass(frozen=True)
class Keep:
    """How long each kind of record is kept."""

    events: timedelta = timedelta(days=90)  # inbox rows already processed
    messages: timedelta = timedelta(days=30)  # outbox rows sent, dead or summarised
    incidents: timedelta = timedelta(days=90)  # incidents, their copies and acknowledgements
    audit: timedelta = timedelta(days=365)
    files: timedelta = FILES_KEPT  # served files, after their notice was sent (or upload)
    follows: timedelta = timedelta(days=2)  # follows, after their end or stop
    fence_state: timedelta = timedelta(days=30)  # crossing state, after its newest fix
    recordings: timedelta = timedelta(days=90)  # transcripts, after the recording began


KEEP = Keep()


class Retention:
    """Deletes records past their time (`prune`), a batch at a time."""

    def __init__(self, db: Database, files: FileRepo, keep: Keep = KEEP) -> None:
        self._db = db
        self._files = files
        self.keep = keep

    async def prune(self, now: datetime) -> dict[str, int]:
        """Delete what is past its time; returns how many rows of each table went."""
        k = self.keep
        return {
            "inbox": await self._batched(
                "inbox", "received_at < ? AND processed_at IS NOT NULL", now - k.events
            ),
            "outbox": await self._batched(
                "outbox",
                "created_at < ? AND state IN ('sent', 'dead', 'summarized')",
                now - k.messages,
            ),
            "incidents": await self._prune_incidents(now - k.incidents),
            "audit": await self._batched("audit", "at < ?", now - k.audit),
            "served_files": await self._files.expire(now - k.files),
            # follow_messages go with their follow (ON DELETE CASCADE, foreign keys on)
            "follows": await self._batched(
                "follows", "min(ends_at, coalesce(stopped_at, ends_at)) < ?", now - k.follows
            ),
            "fence_state": await self._batched(
                "fence_state", "last_fix_at < ?", now - k.fence_state, key=("fence_id", "user_id")
            ),
            # by the recording's start, whatever its state; triggers keep the index in step
            "transcripts": await self._batched("transcripts", "begin_at < ?", now - k.recordings),
        }

    async def _batched(
        self, table: str, where: str, before: datetime, key: tuple[str, ...] = ("id",)
    ) -> int:
        """Delete `table`'s rows matching `where` (one time bound), `BATCH` at a time; `key`
        names the columns that pick a row out."""
        cols = ", ".join(key)
        total = 0
        while True:
            n = await self._db.execute(
                f"DELETE FROM {table} WHERE ({cols}) IN "
                f"(SELECT {cols} FROM {table} WHERE {where} LIMIT {BATCH})",
                (to_db_time(before),),
            )
            total += n
            if n < BATCH:
                return total

    async def _prune_incidents(self, before: datetime) -> int:
        """Incidents received before `before` that no open message still shows."""
        total = 0
        while True:
            rows = await self._db.fetchall(
                f"""
                SELECT id FROM incidents i WHERE received_at < ? AND NOT EXISTS (
                    SELECT 1 FROM outbox o WHERE o.incident_id = i.id
                    AND o.state IN ('pending', 'sending')
                ) LIMIT {BATCH}
                """,
                (to_db_time(before),),
            )
            if not rows:
                return total
            ids = [(r["id"],) for r in rows]
            async with self._db.transaction():
                await self._db.executemany(
                    "DELETE FROM incident_messages WHERE incident_id = ?", ids
                )
                total += await self._db.executemany("DELETE FROM incidents WHERE id = ?", ids)
            if len(rows) < BATCH:
                return total
