"""Roles granted to Telegram users, optionally scoped to an org subtree."""

from __future__ import annotations

import enum
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database, from_db_time, to_db_time, utcnow

__all__ = ["Grant", "Role", "RoleRepo"]


class Role(enum.IntEnum):
    """What a Telegram user may do; each role includes those below it."""

    NONE = 0
    VIEWER = 1
    SUPERVISOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"admin"`` -> ``Role.ADMIN`` (case-insensitive); ValueError for anything else."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(role.label for role in reversed(cls))
            raise ValueError(f"unknown role {text!r}; expected one of {names}") from None

    @property
    def label(self) -> str:
        """The name used in commands and in the database: ``admin``, ``viewer``, ..."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Grant:
    """A role held by a Telegram user. ``org_id`` None: everywhere; else that org's subtree.
    ``granted_by`` None: granted by the bridge itself (an invite's creator is recorded)."""

    user_id: int
    role: Role
    org_id: str | None
    granted_by: int | None
    granted_at: datetime


def _grant(row: sqlite3.Row) -> Grant:
    return Grant(
        user_id=row["user_id"],
        role=Role.parse(row["role"]),
        org_id=row["org_id"],
        granted_by=row["granted_by"],
        granted_at=from_db_time(row["granted_at"]),
    )


class RoleRepo:
    """Role grants, at most one per Telegram user.

    The admins named in settings (``BRIDGE_ADMIN_IDS``) are not stored here; combining
    them with these grants is the caller's business.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(
        self,
        user_id: int,
        role: Role,
        org_id: str | None = None,
        granted_by: int | None = None,
        *,
        now: datetime | None = None,
    ) -> Grant | None:
        """Give a user a role (replacing any earlier grant); ``Role.NONE`` removes the grant.

        Returns the grant now in force, or None after a removal.
        """
        if role is Role.NONE:
            await self._db.execute("DELETE FROM role_grants WHERE user_id = ?", (user_id,))
            return None
        granted_at = now or utcnow()
        await self._db.execute(
            """
            INSERT INTO role_grants (user_id, role, org_id, granted_by, granted_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (user_id) DO UPDATE SET
                role = excluded.role,
                org_id = excluded.org_id,
                granted_by = excluded.granted_by,
                granted_at = excluded.granted_at
            """,
            (user_id, Role(role).label, org_id, granted_by, to_db_time(granted_at)),
        )
        return Grant(user_id, Role(role), org_id, granted_by, from_db_time(to_db_time(granted_at)))

    async def get(self, user_id: int) -> Grant | None:
        """The user's grant, or None (no role)."""
        row = await self._db.fetchone("SELECT * FROM role_grants WHERE user_id = ?", (user_id,))
        return None if row is None else _grant(row)

    async def list(self) -> list[Grant]:
        """Every grant, highest role first, then by user id."""
        rows = await self._db.fetchall(
            """
            SELECT * FROM role_grants
            ORDER BY CASE role WHEN 'admin' THEN 3 WHEN 'supervisor' THEN 2 ELSE 1 END DESC,
                     user_id
            """
        )
        return [_grant(row) for row in rows]
