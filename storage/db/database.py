"""The :class:`Database` every repository is built on: statements and transactions on the
one connection, serialised between coroutines."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from operator import attrgetter, methodcaller
from pathlib import Path
from typing import Any, TypeVar

from storage.db import migrations as _migrations
from storage.db.checkpoint import checkpoint_loop
from storage.db.codecs import to_db_time, utcnow
from storage.db.connection import BUSY_TIMEOUT_MS, Connection
from storage.db.errors import StorageError, StorageReadOnlyError
from storage.db.migrations import Migration, user_version

__all__ = ["Database"]

T = TypeVar("T")

Params = Sequence[Any] | Mapping[str, Any]


class Database:
    """The process's one SQLite connection: pragmas, migrations, and serialised transactions.

    Build it with :meth:`open`; hand it to the repositories; :meth:`close` it last.
    """

    def __init__(self, conn: Connection, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self._conn: Connection | None = conn
        self.path = conn.path
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._savepoints = 0
        self._versions: dict[str, int] = {}
        self._checkpointer: asyncio.Task[None] | None = None
        if conn.wal:
            self._checkpointer = asyncio.create_task(
                checkpoint_loop(self.path, busy_timeout_ms / 1000)
            )

    def changed(self, topic: str) -> None:
        """Note that what ``topic`` names (``"subscriptions"``: who receives what) was
        written by this process; readers that cache it compare :meth:`version`."""
        self._versions[topic] = self._versions.get(topic, 0) + 1

    def version(self, topic: str) -> int:
        """How often ``topic`` was written; read it *before* the data a cache keeps."""
        return self._versions.get(topic, 0)

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        migrations: Sequence[Migration] | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> Database:
        """Open (creating if need be) the database at ``path`` and bring its schema up to date.

        ``path`` may be ``":memory:"`` for tests. ``migrations`` defaults to
        :func:`~storage.db.load_migrations`. Raises :class:`StorageError` with a one-line
        message naming the path when the file is not SQLite, was written by a newer
        pttbridge, cannot be opened, or a migration fails (that migration is rolled back).
        """
        if migrations is None:
            migrations = _migrations.load_migrations()
        conn = await Connection.open(str(path), migrations, busy_timeout_ms)
        return cls(conn, busy_timeout_ms)

    def _connection(self) -> Connection:
        if self._conn is None:
            raise StorageError(f"database {self.path} is closed")
        return self._conn

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._conn is None

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on the connection."""
        return self._connection().in_transaction

    async def schema_version(self) -> int:
        """The number of the last migration applied (``PRAGMA user_version``)."""
        async with self._turn() as conn:
            return await conn.run(user_version)

    # --- transactions -------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """``async with db.transaction():`` — one atomic unit of work.

        Commits when the block ends, rolls back when it raises. Transactions of different
        coroutines are serialised (``BEGIN IMMEDIATE`` behind an asyncio lock), so they never
        interleave on the one connection. Inside a transaction the same task may open
        another: it becomes a savepoint, rolled back alone if its block raises. Do not
        await other tasks that use the database from inside a transaction: they wait for it
        to end, and it waits for them.
        """
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            async with self._savepoint():
                yield
            return
        async with self._lock:
            conn = self._connection()
            self._owner = task
            try:
                try:
                    await conn.run(_script, "BEGIN IMMEDIATE")
                    yield
                    await conn.run(_script, "COMMIT")
                except BaseException:
                    # Shielded: a cancelled task must still leave no transaction open. Queued
                    # behind whatever this task left running in the thread (a BEGIN or a
                    # statement it stopped waiting for), so it sees the state that leaves.
                    await asyncio.shield(conn.run(_rollback_open))
                    raise
            finally:
                self._owner = None

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[None]:
        conn = self._connection()
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        try:
            await conn.run(_script, f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                await asyncio.shield(conn.run(_script, f"ROLLBACK TO {name}"))
                await asyncio.shield(conn.run(_script, f"RELEASE {name}"))
                raise
            await conn.run(_script, f"RELEASE {name}")
        finally:
            self._savepoints -= 1

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[Connection]:
        """Run a statement outside other coroutines' transactions (inside the caller's own)."""
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield self._connection()
            return
        async with self._lock:
            yield self._connection()

    async def run_in_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(conn)`` — plain :mod:`sqlite3` calls — in the connection's own thread,
        inside one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if it raises).

        One hop to the database thread however many statements ``work`` runs, where
        ``async with transaction()`` costs a hop per statement: for hot paths that write
        many rows at once (the relay's group commit). ``work`` must only touch the database
        and the values it was given: it runs outside the event loop. Not from inside a
        transaction of the same task.
        """
        if self._owner is not None and self._owner is asyncio.current_task():
            raise RuntimeError("run_in_transaction() inside a transaction of the same task")
        conn = self._connection()
        async with self._lock:
            return await conn.run(_in_transaction, work)

    # --- statements ---------------------------------------------------------------------
    # Each is one trip to the connection's thread (a cursor API takes three: execute,
    # fetch, close — most of a command's storage time was those trips).

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement (atomic on its own); return the number of rows it changed."""
        async with self._turn() as conn:
            return int(await conn.run(_statement, sql, params, _ROWCOUNT))

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT and return the rowid of the row it added."""
        async with self._turn() as conn:
            rowid = await conn.run(_statement, sql, params, _LASTROWID)
        if rowid is None:
            raise StorageError(f"database {self.path}: statement inserted no row: {sql.strip()}")
        return int(rowid)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each parameter row; wrap it in a transaction to be atomic."""
        async with self._turn() as conn:
            return int(await conn.run(_many, sql, list(rows)))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run a query and return its first row, or None."""
        async with self._turn() as conn:
            row: sqlite3.Row | None = await conn.run(_statement, sql, params, _ONE)
            return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run a query and return all its rows."""
        async with self._turn() as conn:
            rows: list[sqlite3.Row] = await conn.run(_statement, sql, params, _ALL)
            return rows

    # --- readiness ----------------------------------------------------------------------

    async def ping(self) -> None:
        """Readiness check: raise :class:`StorageError` unless the database answers a read."""
        conn = self._connection()
        try:
            # Not behind the lock: a read answers even while a transaction is open.
            await asyncio.wait_for(conn.run(user_version), timeout=5)
        except (sqlite3.Error, ValueError, TimeoutError) as e:
            reason = str(e) or type(e).__name__
            raise StorageError(f"database {self.path} does not answer: {reason}") from e

    async def check_writable(self) -> None:
        """Readiness: one tiny write, committed (a rolled-back write never reaches the file,
        so it would pass on a read-only mount). Raises :class:`StorageReadOnlyError` when
        the database refuses writes, :class:`StorageError` when it does not answer."""
        try:
            await asyncio.wait_for(
                self.execute(
                    "INSERT INTO readiness (id, checked_at) VALUES (1, ?) "
                    "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                    (to_db_time(utcnow()),),
                ),
                timeout=5,
            )
        except sqlite3.Error as e:
            if str(getattr(e, "sqlite_errorname", "")).startswith("SQLITE_READONLY"):
                raise StorageReadOnlyError(f"database {self.path} is read-only: {e}") from e
            raise StorageError(f"database {self.path} does not take a write: {e}") from e
        except (ValueError, TimeoutError) as e:
            reason = str(e) or type(e).__name__
            raise StorageError(f"database {self.path} does not answer: {reason}") from e

    async def close(self) -> None:
        """Close the connection (an open transaction is rolled back). Safe to call twice."""
        conn, self._conn = self._conn, None
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if conn is not None:
            await conn.close()


# Run in the connection's thread (`Connection.run`): one statement, what `take` reads from
# its cursor, the cursor closed — one trip each.


def _statement(
    conn: sqlite3.Connection, sql: str, params: Params, take: Callable[[sqlite3.Cursor], Any]
) -> Any:
    cursor = conn.execute(sql, params)
    try:
        return take(cursor)
    finally:
        cursor.close()


def _script(conn: sqlite3.Connection, sql: str) -> None:
    conn.execute(sql).close()


def _rollback_open(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _many(conn: sqlite3.Connection, sql: str, rows: list[Sequence[Any]]) -> int:
    cursor = conn.executemany(sql, rows)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


_ROWCOUNT = attrgetter("rowcount")
_LASTROWID = attrgetter("lastrowid")
_ONE = methodcaller("fetchone")
_ALL = methodcaller("fetchall")
