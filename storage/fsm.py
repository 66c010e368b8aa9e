"""aiogram FSM storage in SQLite, so a dialog in progress (a /broadcast, say) survives a restart.

The only module of ``storage`` that knows aiogram: it implements aiogram's ``BaseStorage``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from storage.db import Database, dump_json, load_json, to_db_time, utcnow

__all__ = ["SQLiteStorage"]

_WHERE_KEY = """
    bot_id = ? AND chat_id = ? AND user_id = ? AND thread_id = ?
    AND business_connection_id = ? AND destiny = ?
"""


def _key(key: StorageKey) -> tuple[int, int, int, int, str, str]:
    # NULLs would make the primary key non-unique in SQLite: absent thread and business
    # connection are stored as 0 and '' (Telegram never uses those values).
    return (
        key.bot_id,
        key.chat_id,
        key.user_id,
        key.thread_id or 0,
        key.business_connection_id or "",
        key.destiny,
    )


class SQLiteStorage(BaseStorage):
    """FSM state and data per :class:`StorageKey`, in the ``fsm`` table; data as JSON.

    Data must be JSON-serialisable (str keys; str, int, float, bool, None, lists and dicts):
    anything else raises ``TypeError`` when set, rather than coming back changed after a
    restart. :meth:`close` does not close the shared :class:`Database` (the dispatcher calls
    it on shutdown; the database's owner closes it afterwards).
    """

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        """Set the key's state (a ``State`` is stored by its name; None clears it)."""
        name = state.state if isinstance(state, State) else state
        async with self._db.transaction():
            await self._db.execute(
                """
                INSERT INTO fsm (bot_id, chat_id, user_id, thread_id, business_connection_id,
                                 destiny, state, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (bot_id, chat_id, user_id, thread_id, business_connection_id,
                             destiny)
                DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                """,
                (*_key(key), name, to_db_time(self._clock())),
            )
            await self._forget_if_empty(key)

    async def get_state(self, key: StorageKey) -> str | None:
        """The key's state name, or None."""
        row = await self._db.fetchone(f"SELECT state FROM fsm WHERE {_WHERE_KEY}", _key(key))
        return None if row is None else row["state"]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Replace the key's data."""
        if not isinstance(data, dict):
            raise DataNotDictLikeError(
                f"Data must be a dict or dict-like object, got {type(data).__name__}"
            )
        try:
            text = dump_json(data)
        except (TypeError, ValueError) as e:
            raise TypeError(f"FSM data must be JSON-serialisable: {e}") from e
        async with self._db.transaction():
            await self._db.execute(
                """
                INSERT INTO fsm (bot_id, chat_id, user_id, thread_id, business_connection_id,
                                 destiny, data, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (bot_id, chat_id, user_id, thread_id, business_connection_id,
                             destiny)
                DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at
                """,
                (*_key(key), text, to_db_time(self._clock())),
            )
            await self._forget_if_empty(key)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """The key's data (a fresh dict; empty if none)."""
        row = await self._db.fetchone(f"SELECT data FROM fsm WHERE {_WHERE_KEY}", _key(key))
        if row is None:
            return {}
        data: dict[str, Any] = load_json(row["data"])
        return data

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``data`` into the key's data, atomically; return the result."""
        async with self._db.transaction():
            current = await self.get_data(key)
            current.update(data)
            await self.set_data(key, current)
        return current

    async def close(self) -> None:
        """Nothing to release: the shared database is closed by its owner."""

    async def _forget_if_empty(self, key: StorageKey) -> None:
        # A finished dialog (no state, no data) leaves no row behind.
        await self._db.execute(
            f"DELETE FROM fsm WHERE {_WHERE_KEY} AND state IS NULL AND data = '{{}}'",
            _key(key),
        )
