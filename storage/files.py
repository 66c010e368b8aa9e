"""Files the bridge serves from its own listener at an unguessable URL (broadcast attachments)."""

from __future__ import annotations

import secrets
from datetime import datetime

from storage.db import Database, to_db_time

__all__ = ["FileRepo"]


class FileRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, name: str, mime: str, data: bytes, now: datetime) -> str:
        """Store a file; returns its token (the secret part of its URL)."""
        token = secrets.token_urlsafe(24)
        await self._db.execute(
            "INSERT INTO served_files (token, name, mime, data, created_at) VALUES (?, ?, ?, ?, ?)",
            (token, name, mime, data, to_db_time(now)),
        )
        return token

    async def get(self, token: str) -> tuple[str, str, bytes] | None:
        """(name, mime, data) of a stored file, or None."""
        row = await self._db.fetchone(
            "SELECT name, mime, data FROM served_files WHERE token = ?", (token,)
        )
        return (row["name"], row["mime"], bytes(row["data"])) if row else None
