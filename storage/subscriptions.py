"""Which platform events each chat (and forum topic) receives."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, dump_json, load_json, to_db_time, utcnow

__all__ = ["KINDS", "STORED_KINDS", "Subscription", "SubscriptionRepo"]

KINDS = (
    "incidents",
    "org-changes",
    "user-changes",
    "notices",
    "presence",
    "recordings",
    "attendance",
)
"""Every kind `/subscribe` takes. `presence` and `attendance` are not rows of this table:
they are the presence watches (`storage.watches`) and the daily digest (`storage.reports`)."""

STORED_KINDS = tuple(k for k in KINDS if k not in ("presence", "attendance"))
"""The kinds kept as subscriptions here."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat's (or topic's, `thread_id` != 0) wish to receive one kind of event.

    `orgs` limits it to those orgs' subtrees (empty: all); `levels` to those incident
    levels (empty: all). For `recordings`, `users` and `groups` (talk group ids) widen
    the org filter: a recording is wanted when its user is one of `users`, OR a member
    of one of `groups`, OR in one of `orgs` (all three empty: every recording); and
    `scope_org` is the org subtree whoever subscribed may see (None: everything).
    `words` (recordings only) limits it further to recordings whose transcript contains
    one of those words (empty: no such limit).
    """

    chat_id: int
    thread_id: int
    kind: str
    orgs: tuple[int, ...]
    levels: tuple[str, ...]
    users: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    scope_org: int | None = None
    words: tuple[str, ...] = ()

    @property
    def filtered(self) -> bool:
        """True if it names orgs, users or groups (else: everything of its kind)."""
        return bool(self.orgs or self.users or self.groups)


CHANGED = "subscriptions"
"""The `Database.changed` topic of who receives what: subscriptions and paused chats."""


class SubscriptionRepo:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._of_kind: dict[str, tuple[int, list[Subscription]]] = {}

    async def set(
        self,
        chat_id: int,
        thread_id: int,
        kind: str,
        orgs: tuple[int, ...] = (),
        levels: tuple[str, ...] = (),
        created_by: int | None = None,
        *,
        users: tuple[int, ...] = (),
        groups: tuple[int, ...] = (),
        scope_org: int | None = None,
        words: tuple[str, ...] = (),
        now: datetime | None = None,
    ) -> Subscription:
        """Subscribe (or replace the filters of an existing subscription, `words` too)."""
        if kind not in STORED_KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        sub = Subscription(
            chat_id,
            thread_id,
            kind,
            tuple(sorted(set(orgs))),
            tuple(sorted(set(levels))),
            tuple(sorted(set(users))),
            tuple(sorted(set(groups))),
            scope_org,
            tuple(dict.fromkeys(words)),
        )
        await self._db.execute(
            """
            INSERT INTO subscriptions (chat_id, thread_id, kind, orgs, levels, user_ids,
                                       group_ids, scope_org, words, created_by, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (chat_id, thread_id, kind) DO UPDATE SET
                orgs = excluded.orgs, levels = excluded.levels, user_ids = excluded.user_ids,
                group_ids = excluded.group_ids, scope_org = excluded.scope_org,
                words = excluded.words
            """,
            (
                chat_id,
                thread_id,
                kind,
                dump_json(list(sub.orgs)),
                dump_json(list(sub.levels)),
                dump_json(list(sub.users)),
                dump_json(list(sub.groups)),
                scope_org,
                dump_json(list(sub.words)) if sub.words else None,
                created_by,
                to_db_time(now or utcnow()),
            ),
        )
        self._db.changed(CHANGED)
        return sub

    async def remove(self, chat_id: int, thread_id: int, kind: str | None = None) -> int:
        """Remove one kind, or every kind (None), for a chat/topic; returns how many."""
        if kind is None:
            removed = await self._db.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND thread_id = ?",
                (chat_id, thread_id),
            )
        else:
            removed = await self._db.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND thread_id = ? AND kind = ?",
                (chat_id, thread_id, kind),
            )
        self._db.changed(CHANGED)  # after the write: a reader that cached before refetches
        return removed

    async def for_chat(self, chat_id: int) -> list[Subscription]:
        """Every subscription of a chat, all topics, by topic and kind."""
        rows = await self._db.fetchall(
            "SELECT * FROM subscriptions WHERE chat_id = ? ORDER BY thread_id, kind", (chat_id,)
        )
        return [_sub(r) for r in rows]

    async def of_kind(self, kind: str) -> list[Subscription]:
        """Every subscription to `kind` of chats that are not paused.

        Kept in memory until this process writes subscriptions or pauses, resumes or
        migrates a chat (`Database.changed(CHANGED)`): every incident asks.
        """
        version = self._db.version(CHANGED)
        cached = self._of_kind.get(kind)
        if cached is not None and cached[0] == version:
            return list(cached[1])
        rows = await self._db.fetchall(
            """
            SELECT s.* FROM subscriptions s
            LEFT JOIN chats c ON c.chat_id = s.chat_id
            WHERE s.kind = ? AND coalesce(c.paused, 0) = 0
            ORDER BY s.chat_id, s.thread_id
            """,
            (kind,),
        )
        subs = [_sub(r) for r in rows]
        self._of_kind[kind] = (version, subs)
        return list(subs)


def _sub(row: sqlite3.Row) -> Subscription:
    return Subscription(
        chat_id=row["chat_id"],
        thread_id=row["thread_id"],
        kind=row["kind"],
        orgs=tuple(int(o) for o in load_json(row["orgs"])),
        levels=tuple(str(x) for x in load_json(row["levels"])),
        users=tuple(int(u) for u in load_json(row["user_ids"])),
        groups=tuple(int(g) for g in load_json(row["group_ids"])),
        scope_org=row["scope_org"],
        words=tuple(str(w) for w in load_json(row["words"])) if row["words"] else (),
    )
