"""One-time invitations (``t.me/<bot>?start=<code>``) that grant a role to whoever opens them."""

from __future__ import annotations

import enum
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from storage.db import Database, from_db_time, to_db_time
from storage.roles import Role

__all__ = ["DEFAULT_TTL", "Invite", "InviteRepo", "InviteStatus"]

DEFAULT_TTL: Final = timedelta(days=7)
_CODE_BYTES: Final = 16  # 128 bits of randomness: 22 url-safe characters, well under 64


class InviteStatus(enum.Enum):
    """Why a code can or cannot be redeemed."""

    ACTIVE = "active"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Invite:
    """An invitation; ``used_by``/``used_at`` are set once it has been redeemed."""

    code: str
    role: Role
    org_id: str | None
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    used_by: int | None
    used_at: datetime | None


def _invite(row: sqlite3.Row) -> Invite:
    return Invite(
        code=row["code"],
        role=Role.parse(row["role"]),
        org_id=row["org_id"],
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
        expires_at=from_db_time(row["expires_at"]),
        used_by=row["used_by"],
        used_at=None if row["used_at"] is None else from_db_time(row["used_at"]),
    )


class InviteRepo:
    """Invitations, keyed by their secret code."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        role: Role,
        org_id: str | None,
        created_by: int | None,
        now: datetime,
        ttl: timedelta = DEFAULT_TTL,
    ) -> str:
        """Create an invitation to ``role`` (scoped to ``org_id``) valid for ``ttl``.

        Returns its code: unguessable, at most 32 characters of ``A-Za-z0-9_-``, so it fits
        a Telegram ``/start`` deep link.
        """
        if role is Role.NONE:
            raise ValueError("an invitation must grant a role, not none")
        if ttl <= timedelta(0):
            raise ValueError(f"an invitation must be valid for some time, not {ttl}")
        code = secrets.token_urlsafe(_CODE_BYTES)
        await self._db.execute(
            """
            INSERT INTO invites (code, role, org_id, created_by, created_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            (code, Role(role).label, org_id, created_by, to_db_time(now), to_db_time(now + ttl)),
        )
        return code

    async def redeem(self, code: str, user_id: int, now: datetime) -> Invite | None:
        """Use an invitation for ``user_id``: it works once, and only before it expires.

        Atomic, also across processes: of two concurrent calls with one code exactly one gets
        the invite. Returns None for an unknown, used or expired code; :meth:`status` says
        which. Granting the role is the caller's step: do both in one ``db.transaction()``
        so a crash cannot use up the code without the grant.
        """
        at = to_db_time(now)
        async with self._db.transaction():
            claimed = await self._db.execute(
                """
                UPDATE invites SET used_by = ?, used_at = ?
                WHERE code = ? AND used_at IS NULL AND expires_at > ?
                """,
                (user_id, at, code, at),
            )
            if not claimed:
                return None
            row = await self._db.fetchone("SELECT * FROM invites WHERE code = ?", (code,))
        assert row is not None
        return _invite(row)

    async def status(self, code: str, now: datetime) -> InviteStatus:
        """Whether ``code`` could be redeemed at ``now``, and if not, why."""
        row = await self._db.fetchone(
            "SELECT used_at, expires_at FROM invites WHERE code = ?", (code,)
        )
        if row is None:
            return InviteStatus.UNKNOWN
        if row["used_at"] is not None:
            return InviteStatus.USED
        if row["expires_at"] <= to_db_time(now):
            return InviteStatus.EXPIRED
        return InviteStatus.ACTIVE

    async def get(self, code: str) -> Invite | None:
        """The invitation with this code, used or not, or None."""
        row = await self._db.fetchone("SELECT * FROM invites WHERE code = ?", (code,))
        return None if row is None else _invite(row)

    async def list_active(self, now: datetime) -> list[Invite]:
        """Invitations not yet used nor expired at ``now``, oldest first."""
        rows = await self._db.fetchall(
            """
            SELECT * FROM invites WHERE used_at IS NULL AND expires_at > ?
            ORDER BY created_at, code
            """,
            (to_db_time(now),),
        )
        return [_invite(row) for row in rows]

    async def revoke(self, code: str) -> bool:
        """Withdraw an unused invitation. Returns False if it is unknown or already used."""
        deleted = await self._db.execute(
            "DELETE FROM invites WHERE code = ? AND used_at IS NULL", (code,)
        )
        return deleted > 0
