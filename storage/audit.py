"""The audit trail: what was done through the bot, by whom, with what result."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, from_db_time, load_json, to_db_time

__all__ = ["AuditEntry", "AuditRepo"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action. ``actor_id`` is a Telegram user id, None for the bridge itself."""

    id: int
    at: datetime
    actor_id: int | None
    action: str
    target: str | None
    args: dict[str, Any]
    result: str


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=from_db_time(row["at"]),
        actor_id=row["actor_id"],
        action=row["action"],
        target=row["target"],
        args=load_json(row["args"]),
        result=row["result"],
    )


class AuditRepo:
    """Append-only record of actions, newest last."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        actor_id: int | None,
        action: str,
        target: str | None,
        args: Mapping[str, Any],
        result: str,
        at: datetime,
    ) -> int:
        """Record an action and return its id.

        ``args`` is stored as JSON; values JSON has no type for (a datetime, an enum) are
        stored as their ``str()``, so auditing never fails an action over a type.
        """
        return await self._db.insert(
            """
            INSERT INTO audit (at, actor_id, action, target, args, result)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (to_db_time(at), actor_id, action, target, dump_json(dict(args), lenient=True), result),
        )

    async def latest(self, n: int = 20, actors: Collection[int] | None = None) -> list[AuditEntry]:
        """The ``n`` most recent entries, newest first; with ``actors``, only theirs."""
        if n <= 0:
            return []
        where, params = _by_actors(actors)
        rows = await self._db.fetchall(
            f"SELECT * FROM audit {where} ORDER BY at DESC, id DESC LIMIT ?", (*params, n)
        )
        return [_entry(row) for row in rows]

    async def all_since(
        self, since: datetime, actors: Collection[int] | None = None
    ) -> list[AuditEntry]:
        """Every entry at or after ``since``, oldest first (for export); with ``actors``,
        only theirs."""
        where, params = _by_actors(actors)
        rows = await self._db.fetchall(
            f"SELECT * FROM audit {where} {'AND' if where else 'WHERE'} at >= ? ORDER BY at, id",
            (*params, to_db_time(since)),
        )
        return [_entry(row) for row in rows]

    async def last_ok(self, action: str, target: str, **args: str) -> AuditEntry | None:
        """The newest successful (``result`` "ok") entry of ``action`` about ``target`` whose
        ``args`` hold the given values, or None."""
        conditions = "".join(" AND json_extract(args, ?) = ?" for _ in args)
        params: list[str] = []
        for key, value in args.items():
            params += [f'$."{key}"', value]
        row = await self._db.fetchone(
            "SELECT * FROM audit WHERE action = ? AND target = ? AND result = 'ok'"
            f"{conditions} ORDER BY at DESC, id DESC LIMIT 1",
            (action, target, *params),
        )
        return None if row is None else _entry(row)

    async def prune(self, before: datetime) -> int:
        """Delete entries older than ``before``; return how many went."""
        return await self._db.execute("DELETE FROM audit WHERE at < ?", (to_db_time(before),))


def _by_actors(actors: Collection[int] | None) -> tuple[str, tuple[str, ...]]:
    """A WHERE clause keeping only these actors' entries (one JSON parameter, any count)."""
    if actors is None:
        return "", ()
    return "WHERE actor_id IN (SELECT value FROM json_each(?))", (json.dumps(sorted(actors)),)
