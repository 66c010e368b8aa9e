"""Transcripts of recordings: a durable queue of recordings to transcribe, and their texts.

Each recording (its key: ``bot.jobs.recordings.recording_key``) has at most one row, so it
is transcribed once however many chats ask and across restarts. A row is ``pending`` until
the speech-recognition server gave its text (``done``) or the bridge gave up (``failed``).
The texts are indexed for search in ``transcripts_fts`` (FTS5, trigram tokenizer), kept in
step by triggers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Database, from_db_time, to_db_time

__all__ = ["ERROR_MAX", "QueueStats", "Transcript", "TranscriptRepo", "TranscriptState"]

TranscriptState = Literal["pending", "done", "failed"]

ERROR_MAX = 500
"""Characters of an error kept: enough to say why, never a whole answer body."""


@dataclass(frozen=True, slots=True)
class Transcript:
    """One row of ``transcripts``: a recording queued, transcribed or given up."""

    id: int
    recording_key: str
    user_id: int | None
    account: str | None
    group_name: str | None
    begin: datetime
    seconds: float | None
    file_url: str
    state: TranscriptState
    text: str | None
    attempts: int
    next_try_at: datetime | None
    error: str | None
    created_at: datetime
    done_at: datetime | None


def _time(v: str | None) -> datetime | None:
    return None if v is None else from_db_time(v)


def _row(r: sqlite3.Row) -> Transcript:
    return Transcript(
        id=r["id"],
        recording_key=r["recording_key"],
        user_id=r["user_id"],
        account=r["account"],
        group_name=r["group_name"],
        begin=from_db_time(r["begin_at"]),
        seconds=r["seconds"],
        file_url=r["file_url"],
        state=r["state"],
        text=r["text"],
        attempts=r["attempts"],
        next_try_at=_time(r["next_try_at"]),
        error=r["error"],
        created_at=from_db_time(r["created_at"]),
        done_at=_time(r["done_at"]),
    )


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The queue at a glance: rows pending, rows given up since `since`, and when the
    longest waiting pending row was queued (None: none pending)."""

    pending: int
    failed: int
    oldest_pending: datetime | None


class TranscriptRepo:
    """The ``transcripts`` table: `want` queues, `due` hands out work, `done`/`failed`
    record the outcome of an attempt, `get`/`texts` read (`storage.retention` prunes)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def want(
        self,
        rec_key: str,
        *,
        user_id: int | None,
        account: str | None,
        group_name: str | None,
        begin: datetime,
        seconds: float | None,
        file_url: str,
        now: datetime,
    ) -> bool:
        """Queue the recording `rec_key` unless it is known already (in any state);
        True if it was new."""
        n = await self._db.execute(
            """
            INSERT INTO transcripts (recording_key, user_id, account, group_name, begin_at,
                seconds, file_url, state, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)
            ON CONFLICT (recording_key) DO NOTHING
            """,
            (
                rec_key,
                user_id,
                account,
                group_name,
                to_db_time(begin),
                seconds,
                file_url,
                to_db_time(now),
            ),
        )
        return n > 0

    async def get(self, rec_key: str) -> Transcript | None:
        row = await self._db.fetchone(
            "SELECT * FROM transcripts WHERE recording_key = ?", (rec_key,)
        )
        return None if row is None else _row(row)

    async def texts(self, keys: Iterable[str]) -> dict[str, str]:
        """The texts of those of `keys` that are transcribed (done), by key."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):  # SQLite's host-parameter limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._db.fetchall(
                f"SELECT recording_key, text FROM transcripts "
                f"WHERE state = 'done' AND recording_key IN ({marks})",
                chunk,
            )
            found.update((r["recording_key"], r["text"]) for r in rows)
        return found

    async def due(self, now: datetime, limit: int) -> list[Transcript]:
        """Pending rows whose time has come, the longest waiting first."""
        rows = await self._db.fetchall(
            """
            SELECT * FROM transcripts
            WHERE state = 'pending' AND (next_try_at IS NULL OR next_try_at <= ?)
            ORDER BY coalesce(next_try_at, created_at), id LIMIT ?
            """,
            (to_db_time(now), limit),
        )
        return [_row(r) for r in rows]

    async def next_due_at(self, exclude: Collection[str] = ()) -> datetime | None:
        """When the earliest pending row (but those of `exclude`, a few keys in work) is
        due; it may be past. None when none is pending."""
        keys = list(exclude)
        marks = ",".join("?" * len(keys))
        row = await self._db.fetchone(
            "SELECT min(coalesce(next_try_at, created_at)) AS at FROM transcripts "
            f"WHERE state = 'pending' AND recording_key NOT IN ({marks})",
            keys,
        )
        return None if row is None or row["at"] is None else from_db_time(row["at"])

    async def done(self, rec_key: str, text: str, now: datetime) -> bool:
        """Record the text of `rec_key`; counts as an attempt. False when no pending row
        was there to take it (deleted meanwhile by retention)."""
        n = await self._db.execute(
            """
            UPDATE transcripts SET state = 'done', text = ?, attempts = attempts + 1,
                next_try_at = NULL, error = NULL, done_at = ?
            WHERE recording_key = ? AND state = 'pending'
            """,
            (text, to_db_time(now), rec_key),
        )
        return n > 0

    async def failed(
        self, rec_key: str, error: str, next_try_at: datetime | None, now: datetime
    ) -> None:
        """Record a failed attempt: tried again at `next_try_at`, or given up when None."""
        given_up = next_try_at is None
        await self._db.execute(
            """
            UPDATE transcripts SET attempts = attempts + 1, error = ?, next_try_at = ?,
                state = ?, done_at = ?
            WHERE recording_key = ? AND state = 'pending'
            """,
            (
                error[:ERROR_MAX],
                _db_time(next_try_at),
                "failed" if given_up else "pending",
                to_db_time(now) if given_up else None,
                rec_key,
            ),
        )

    async def stats(self, since: datetime) -> QueueStats:
        """How many are pending, how many failed for good at or after `since`, and the
        oldest pending row's queueing time (one pass over the state index)."""
        row = await self._db.fetchone(
            """
            SELECT
                count(*) FILTER (WHERE state = 'pending') AS pending,
                count(*) FILTER (WHERE state = 'failed' AND done_at >= ?) AS failed,
                min(created_at) FILTER (WHERE state = 'pending') AS oldest
            FROM transcripts WHERE state IN ('pending', 'failed')
            """,
            (to_db_time(since),),
        )
        if row is None:
            return QueueStats(0, 0, None)
        return QueueStats(int(row["pending"]), int(row["failed"]), _time(row["oldest"]))

    async def pending_count(self) -> int:
        row = await self._db.fetchone(
            "SELECT count(*) AS n FROM transcripts WHERE state = 'pending'"
        )
        return int(row["n"]) if row is not None else 0

    async def postpone(self, rec_key: str, error: str, next_try_at: datetime) -> None:
        """Try a pending row again at `next_try_at`, not counting this as an attempt (the
        server was not reachable: the file had no chance)."""
        await self._db.execute(
            """
            UPDATE transcripts SET error = ?, next_try_at = ?
            WHERE recording_key = ? AND state = 'pending'
            """,
            (error[:ERROR_MAX], to_db_time(next_try_at), rec_key),
        )


def _db_time(at: datetime | None) -> str | None:
    return None if at is None else to_db_time(at)
