"""Telegram users the bot has seen, and the language each chose."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, cast

from storage.db import Database, from_db_time, to_db_time, utcnow

__all__ = ["LANGUAGES", "Language", "TelegramUser", "UserRepo"]

Language = Literal["zh", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("zh", "en")


@dataclass(frozen=True, slots=True)
class TelegramUser:
    """A Telegram user as last seen. ``language`` is the one chosen with /lang, if any;
    ``language_code`` is what Telegram reports for the user's app."""

    user_id: int
    username: str | None
    full_name: str
    language_code: str | None
    language: Language | None
    first_seen: datetime
    last_seen: datetime


def _user(row: sqlite3.Row) -> TelegramUser:
    return TelegramUser(
        user_id=row["user_id"],
        username=row["username"],
        full_name=row["full_name"],
        language_code=row["language_code"],
        language=_language(row["language"]),
        first_seen=from_db_time(row["first_seen"]),
        last_seen=from_db_time(row["last_seen"]),
    )


def _language(value: str | None) -> Language | None:
    return cast(Language, value) if value in LANGUAGES else None


class UserRepo:
    """Telegram users, keyed by Telegram user id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def seen(
        self,
        user_id: int,
        username: str | None,
        full_name: str,
        language_code: str | None,
        *,
        now: datetime | None = None,
    ) -> None:
        """Remember a user who just sent something: their current names and app language."""
        at = to_db_time(now or utcnow())
        await self._db.execute(
            """
            INSERT INTO telegram_users
                (user_id, username, full_name, language_code, first_seen, last_seen)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (user_id) DO UPDATE SET
                username = excluded.username,
                full_name = excluded.full_name,
                language_code = excluded.language_code,
                last_seen = max(last_seen, excluded.last_seen)
            """,
            (user_id, username, full_name, language_code, at, at),
        )

    async def get(self, user_id: int) -> TelegramUser | None:
        """The user with this id, or None if never seen."""
        row = await self._db.fetchone("SELECT * FROM telegram_users WHERE user_id = ?", (user_id,))
        return None if row is None else _user(row)

    async def find_by_username(self, username: str) -> TelegramUser | None:
        """The user last seen with this @username (case-insensitive, ``@`` optional)."""
        row = await self._db.fetchone(
            """
            SELECT * FROM telegram_users WHERE lower(username) = lower(?)
            ORDER BY last_seen DESC LIMIT 1
            """,
            (username.removeprefix("@"),),
        )
        return None if row is None else _user(row)

    async def set_language(
        self, user_id: int, language: Language | None, *, now: datetime | None = None
    ) -> None:
        """Set the language a user chose (None: follow their Telegram app again)."""
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}; expected one of {LANGUAGES}")
        at = to_db_time(now or utcnow())
        await self._db.execute(
            """
            INSERT INTO telegram_users (user_id, language, first_seen, last_seen)
            VALUES (?, ?, ?, ?)
            ON CONFLICT (user_id) DO UPDATE SET language = excluded.language
            """,
            (user_id, language, at, at),
        )

    async def get_language(self, user_id: int) -> Language | None:
        """The language the user chose with /lang, or None if they have not chosen."""
        row = await self._db.fetchone(
            "SELECT language FROM telegram_users WHERE user_id = ?", (user_id,)
        )
        return None if row is None else _language(row["language"])
