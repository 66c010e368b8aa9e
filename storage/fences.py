"""Geofences (/fence): circles and polygons in an org scope, the chats watching who crosses
them, and where each user stands towards each fence (hysteresis state that survives
restarts)."""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.db import Database, dump_json, from_db_time, load_json, to_db_time
from storage.follows import TargetKind

__all__ = [
    "Fence",
    "FenceEvents",
    "FenceRepo",
    "FenceState",
    "FenceWatch",
    "Vertices",
    "name_key",
]

FenceEvents = Literal["enter", "leave", "both"]
Vertices = tuple[tuple[float, float], ...]
"""A polygon's WGS-84 (lat, lon) vertices in order, the ring not closed."""


def name_key(name: str) -> str:
    """What makes two fence names the same: NFKC, casefolded, outer spaces trimmed."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


@dataclass(frozen=True, slots=True)
class Fence:
    """A circle: WGS-84 centre, radius in metres; or a polygon (`polygon`, its vertices),
    and then `lat`, `lon`, `radius_m` are a circle about its centre holding every vertex.
    `org_id` is the creator's org scope (None: an unscoped creator), within which `name` is
    unique."""

    id: int
    name: str
    lat: float
    lon: float
    radius_m: float
    org_id: int | None
    created_by: int | None
    created_at: datetime
    polygon: Vertices | None = None


@dataclass(frozen=True, slots=True)
class FenceWatch:
    """A chat (or topic) told when a user, or any member of a talk group, crosses a fence.

    `scope_org` is the org subtree the person who set it may see (None: everything).
    """

    fence_id: int
    fence_name: str
    chat_id: int
    thread_id: int
    target_kind: TargetKind
    target_id: int
    events: FenceEvents
    scope_org: int | None
    created_by: int | None
    created_at: datetime

    def tells(self, event: str) -> bool:
        """Whether a crossing (``"enter"`` or ``"leave"``) is told to this chat."""
        return self.events in ("both", event)


@dataclass(frozen=True, slots=True)
class FenceState:
    """Where a user stands towards a fence as last decided: `inside`, the consecutive fresh
    fixes seen on the other side since (`pending`), and the newest fix considered."""

    fence_id: int
    user_id: int
    inside: bool
    pending: int
    last_fix_at: datetime | None


def _vertices(text: str | None) -> Vertices | None:
    if text is None:
        return None
    return tuple((float(lat), float(lon)) for lat, lon in load_json(text))


def _fence(r: sqlite3.Row) -> Fence:
    return Fence(
        id=r["id"],
        name=r["name"],
        lat=r["lat"],
        lon=r["lon"],
        radius_m=r["radius_m"],
        org_id=r["org_id"],
        created_by=r["created_by"],
        created_at=from_db_time(r["created_at"]),
        polygon=_vertices(r["polygon"]),
    )


def _watch(r: sqlite3.Row) -> FenceWatch:
    return FenceWatch(
        fence_id=r["fence_id"],
        fence_name=r["name"],
        chat_id=r["chat_id"],
        thread_id=r["thread_id"],
        target_kind=r["target_kind"],
        target_id=r["target_id"],
        events=r["events"],
        scope_org=r["scope_org"],
        created_by=r["created_by"],
        created_at=from_db_time(r["created_at"]),
    )


def _state(r: sqlite3.Row) -> FenceState:
    at = r["last_fix_at"]
    return FenceState(
        r["fence_id"], r["user_id"], bool(r["inside"]), r["pending"],
        None if at is None else from_db_time(at),
    )  # fmt: skip


_WATCHES = """
    SELECT w.*, f.name FROM fence_watches w JOIN fences f ON f.id = w.fence_id
"""
_FORGET_UNWATCHED = """
    DELETE FROM fence_state
    WHERE NOT EXISTS (SELECT 1 FROM fence_watches w WHERE w.fence_id = fence_state.fence_id)
"""


class FenceRepo:
    """Fences, their watches and the crossing state per (fence, user)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- fences -------------------------------------------------------------------------

    async def add(
        self,
        name: str,
        lat: float,
        lon: float,
        radius_m: float,
        *,
        org_id: int | None,
        created_by: int | None,
        now: datetime,
        polygon: Sequence[Sequence[float]] | None = None,
    ) -> Fence | None:
        """A new fence; None if its name is already taken in that org scope.

        A polygon's vertices are checked by the caller (`bot.geo.fences.polygon_problem`),
        and `lat`, `lon`, `radius_m` are then its bounding circle (`polygon_bounds`)."""
        at = to_db_time(now)
        vertices = None if polygon is None else tuple((float(a), float(b)) for a, b in polygon)
        async with self._db.transaction():
            taken = await self._db.fetchone(
                "SELECT 1 FROM fences WHERE coalesce(org_id, -1) = ? AND name_key = ?",
                (-1 if org_id is None else org_id, name_key(name)),
            )
            if taken:
                return None
            fence_id = await self._db.insert(
                """
                INSERT INTO fences (name, name_key, lat, lon, radius_m, org_id, created_by,
                                    created_at, polygon)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (name.strip(), name_key(name), lat, lon, radius_m, org_id, created_by, at,
                 None if vertices is None else dump_json([list(v) for v in vertices])),
            )  # fmt: skip
        return Fence(
            fence_id,
            name.strip(),
            lat,
            lon,
            radius_m,
            org_id,
            created_by,
            from_db_time(at),
            vertices,
        )

    async def get(self, fence_id: int) -> Fence | None:
        r = await self._db.fetchone("SELECT * FROM fences WHERE id = ?", (fence_id,))
        return None if r is None else _fence(r)

    async def find(self, name: str, org_ids: Collection[int] | None) -> list[Fence]:
        """Fences of that name (compared as `name_key`) among those `visible` to `org_ids`:
        one per scope, so more than one only for someone who sees several scopes."""
        return [f for f in await self.visible(org_ids) if name_key(f.name) == name_key(name)]

    async def visible(self, org_ids: Collection[int] | None) -> list[Fence]:
        """Fences in these orgs' scopes, by name; every fence for None (an unscoped
        supervisor). A scoped supervisor does not see unscoped fences."""
        if org_ids is None:
            rows = await self._db.fetchall("SELECT * FROM fences ORDER BY name_key, id")
        else:
            ids = sorted(set(org_ids))
            rows = []
            for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
                chunk = ids[start : start + 500]
                rows += await self._db.fetchall(
                    f"SELECT * FROM fences WHERE org_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
            rows.sort(key=lambda r: (r["name_key"], r["id"]))
        return [_fence(r) for r in rows]

    async def delete(self, fence_id: int) -> bool:
        """Delete a fence, its watches and its state."""
        return await self._db.execute("DELETE FROM fences WHERE id = ?", (fence_id,)) > 0

    # --- watches ------------------------------------------------------------------------

    async def watch(
        self,
        fence_id: int,
        chat_id: int,
        thread_id: int,
        target_kind: TargetKind,
        target_id: int,
        events: FenceEvents,
        *,
        scope_org: int | None,
        created_by: int | None,
        now: datetime,
    ) -> bool:
        """Tell this chat/topic when the target crosses the fence; False if it was already
        watched here (its events and scope are replaced)."""
        async with self._db.transaction():
            existed = await self._db.fetchone(
                """
                SELECT 1 FROM fence_watches WHERE fence_id = ? AND chat_id = ?
                AND thread_id = ? AND target_kind = ? AND target_id = ?
                """,
                (fence_id, chat_id, thread_id, target_kind, target_id),
            )
            await self._db.execute(
                """
                INSERT INTO fence_watches (fence_id, chat_id, thread_id, target_kind,
                                           target_id, events, scope_org, created_by, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (fence_id, chat_id, thread_id, target_kind, target_id)
                DO UPDATE SET events = excluded.events, scope_org = excluded.scope_org
                """,
                (fence_id, chat_id, thread_id, target_kind, target_id, events, scope_org,
                 created_by, to_db_time(now)),
            )  # fmt: skip
        return existed is None

    async def unwatch(
        self,
        chat_id: int,
        thread_id: int,
        fence_id: int | None = None,
        target_kind: TargetKind | None = None,
        target_id: int | None = None,
    ) -> int:
        """Stop this chat/topic's watches: all of them, those of one fence, or of one
        target on one fence; returns how many. The state of fences nobody watches any more
        is forgotten (a later watch starts from what it sees then)."""
        where = "chat_id = ? AND thread_id = ?"
        params: tuple[object, ...] = (chat_id, thread_id)
        if fence_id is not None:
            where += " AND fence_id = ?"
            params += (fence_id,)
        if target_kind is not None and target_id is not None:
            where += " AND target_kind = ? AND target_id = ?"
            params += (target_kind, target_id)
        async with self._db.transaction():
            n = await self._db.execute(f"DELETE FROM fence_watches WHERE {where}", params)
            await self._db.execute(_FORGET_UNWATCHED)
        return n

    async def watches_for_chat(self, chat_id: int) -> list[FenceWatch]:
        """Every fence watch of a chat, all topics (`/fence list`, `/subscriptions`)."""
        rows = await self._db.fetchall(
            _WATCHES + " WHERE w.chat_id = ? ORDER BY w.thread_id, f.name_key, w.target_id",
            (chat_id,),
        )
        return [_watch(r) for r in rows]

    async def active_watches(self) -> list[FenceWatch]:
        """Every watch of a chat that is not paused: what the job checks."""
        rows = await self._db.fetchall(
            _WATCHES
            + """
            LEFT JOIN chats c ON c.chat_id = w.chat_id WHERE coalesce(c.paused, 0) = 0
            ORDER BY w.fence_id, w.chat_id, w.thread_id, w.target_kind, w.target_id
            """
        )
        return [_watch(r) for r in rows]

    # --- crossing state -----------------------------------------------------------------

    async def states(self) -> dict[tuple[int, int], FenceState]:
        """Every stored state, by (fence id, user id)."""
        rows = await self._db.fetchall("SELECT * FROM fence_state")
        return {(r["fence_id"], r["user_id"]): _state(r) for r in rows}

    async def save_states(self, states: Iterable[FenceState]) -> None:
        """Store states after a poll, atomically. Call inside the transaction that queues the
        crossings' messages, so that a crossing is told exactly once."""
        rows = [
            (s.fence_id, s.user_id, int(s.inside), s.pending,
             None if s.last_fix_at is None else to_db_time(s.last_fix_at))
            for s in states
        ]  # fmt: skip
        async with self._db.transaction():
            await self._db.executemany(
                """
                INSERT INTO fence_state (fence_id, user_id, inside, pending, last_fix_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (fence_id, user_id) DO UPDATE SET
                    inside = excluded.inside, pending = excluded.pending,
                    last_fix_at = excluded.last_fix_at
                """,
                rows,
            )

    async def forget_states(self, fence_id: int, keep: Collection[int]) -> int:
        """Forget the state of a fence's users not in `keep` (no longer watched on it)."""
        rows = await self._db.fetchall(
            "SELECT user_id FROM fence_state WHERE fence_id = ?", (fence_id,)
        )
        gone = [(fence_id, r["user_id"]) for r in rows if r["user_id"] not in keep]
        if gone:
            async with self._db.transaction():
                await self._db.executemany(
                    "DELETE FROM fence_state WHERE fence_id = ? AND user_id = ?", gone
                )
        return len(gone)
