"""The directory as last seen (users and orgs), to say what changed, field by field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, load_json, to_db_time

__all__ = ["KnownRepo"]


class KnownRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, kind: str, id_: int) -> dict[str, Any] | None:
        row = await self._db.fetchone(
            "SELECT data FROM known_entities WHERE kind = ? AND id = ?", (kind, id_)
        )
        return load_json(row["data"]) if row else None

    async def put(self, kind: str, id_: int, data: dict[str, Any], now: datetime) -> None:
        await self._db.execute(
            """
            INSERT INTO known_entities (kind, id, data, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data,
                updated_at = excluded.updated_at
            """,
            (kind, id_, dump_json(data), to_db_time(now)),
        )

    async def put_many(self, kind: str, items: dict[int, dict[str, Any]], now: datetime) -> None:
        """Store many at once (the directory diff's first snapshot)."""
        at = to_db_time(now)
        await self._db.executemany(
            """
            INSERT INTO known_entities (kind, id, data, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data,
                updated_at = excluded.updated_at
            """,
            [(kind, id_, dump_json(data), at) for id_, data in items.items()],
        )

    async def delete(self, kind: str, id_: int) -> None:
        await self._db.execute("DELETE FROM known_entities WHERE kind = ? AND id = ?", (kind, id_))

    async def all(self, kind: str) -> dict[int, dict[str, Any]]:
        """Every entity of `kind` as last seen, by id (the directory diff reads them at once)."""
        rows = await self._db.fetchall(
            "SELECT id, data FROM known_entities WHERE kind = ?", (kind,)
        )
        return {int(r["id"]): load_json(r["data"]) for r in rows}

    async def count(self, kind: str) -> int:
        row = await self._db.fetchone(
            "SELECT count(*) AS n FROM known_entities WHERE kind = ?", (kind,)
        )
        return int(row["n"]) if row else 0
