"""Notices queued for the platform (2.15), stored with their chat copies in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, from_db_time, load_json, to_db_time

__all__ = ["NoticeJob", "NoticeJobRepo"]


@dataclass(frozen=True, slots=True)
class NoticeJob:
    """A notice for the platform and where it stands."""

    id: int
    body: Any
    state: str  # pending | sent | dead
    created_at: datetime
    attempts: int  # tries that never reached the platform
    error: str | None  # English summary (logs, audit)
    error_code: int | None  # the platform's status; 0: it could not be reached
    error_message: str | None  # the server's own text


class NoticeJobRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, body: Any, now: datetime) -> int:
        return await self._db.insert(
            "INSERT INTO notice_jobs (body, created_at) VALUES (?, ?)",
            (dump_json(body), to_db_time(now)),
        )

    async def pending(self) -> list[NoticeJob]:
        rows = await self._db.fetchall(
            "SELECT * FROM notice_jobs WHERE state = 'pending' ORDER BY id"
        )
        return [_job(r) for r in rows]

    async def get(self, job_id: int) -> NoticeJob | None:
        row = await self._db.fetchone("SELECT * FROM notice_jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    async def finish(
        self,
        job_id: int,
        now: datetime,
        error: str | None = None,
        *,
        code: int | None = None,
        message: str | None = None,
    ) -> None:
        """Sent (no error), or dead: refused for good, with the platform's code and text."""
        await self._db.execute(
            """
            UPDATE notice_jobs
            SET state = ?, done_at = ?, error = ?, error_code = ?, error_message = ?
            WHERE id = ?
            """,
            ("dead" if error else "sent", to_db_time(now), error, code, message, job_id),
        )

    async def not_reached(self, job_id: int, error: str) -> None:
        """A try that certainly never reached the platform: still pending, tried again."""
        await self._db.execute(
            """
            UPDATE notice_jobs SET attempts = attempts + 1, error = ?, error_code = 0,
                                   error_message = NULL
            WHERE id = ?
            """,
            (error, job_id),
        )

    async def error_of(self, job_id: int) -> str | None:
        """Why the platform refused a notice; None when it was accepted (or is pending)."""
        job = await self.get(job_id)
        return job.error if job and job.state == "dead" else None

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetchall(
            "SELECT state, count(*) AS n FROM notice_jobs GROUP BY state"
        )
        return {r["state"]: int(r["n"]) for r in rows}


def _job(r: Any) -> NoticeJob:
    return NoticeJob(
        id=r["id"],
        body=load_json(r["body"]),
        state=r["state"],
        created_at=from_db_time(r["created_at"]),
        attempts=r["attempts"],
        error=r["error"],
        error_code=r["error_code"],
        error_message=r["error_message"],
    )
