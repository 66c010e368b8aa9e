"""The one SQLite connection and the one thread that uses it.

A plain :mod:`sqlite3` connection lives in a thread of its own: :meth:`Connection.run` hands
it a function that runs there with the connection, one trip however many statements the
function runs. Opening it holds the database's lock shared (:mod:`storage.db.lock`: a
restore is refused meanwhile), sets the pragmas, refuses what is not a pttbridge database
(or is a newer one's) and applies the migrations.

The thread is a plain :class:`threading.Thread` reading a :class:`queue.SimpleQueue` and
answering through ``call_soon_threadsafe``, not a ``ThreadPoolExecutor(max_workers=1)``:
measured on this machine, the executor's futures and locks doubled the CPU time of a
single-statement trip (~45 µs → ~90 µs for a read plus a write), and storage does tens of
thousands of those a minute under load.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from queue import SimpleQueue
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from storage.db.checkpoint import AUTOCHECKPOINT_PAGES, CHECKPOINT_BYTES
from storage.db.errors import StorageError
from storage.db.lock import DatabaseLock
from storage.db.migrations import Migration, apply_migrations, check_not_newer

__all__ = ["BUSY_TIMEOUT_MS", "MEMORY", "MIN_SQLITE", "Connection"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS: Final = 5000
"""How long a statement waits for another connection's write lock before failing."""

MIN_SQLITE: Final = (3, 24, 0)
"""UPSERT (``INSERT ... ON CONFLICT DO UPDATE``) needs SQLite 3.24."""

MEMORY: Final = ":memory:"

T = TypeVar("T")
P = ParamSpec("P")
E = TypeVar("E", bound=StorageError)

_Call = tuple["asyncio.Future[Any]", Callable[[], Any]]


class Connection:
    """A :mod:`sqlite3` connection in autocommit mode, used only from its own thread.

    Build it with :meth:`open`; :meth:`close` it last. It serialises nothing itself beyond
    running functions one after another in their order of arrival: transactions are the
    caller's business (:class:`storage.db.Database`).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.wal = False
        """Whether the journal is a WAL (then checkpoints are the caller's to run)."""
        self._raw: sqlite3.Connection | None = None
        self._lock: DatabaseLock | None = None
        self._calls: SimpleQueue[_Call | None] = SimpleQueue()
        # A daemon: a database left open must not hold up the interpreter's exit.
        self._thread = threading.Thread(
            target=_serve, args=(self._calls,), name=f"pttbridge-db {path}", daemon=True
        )
        self._thread.start()

    @classmethod
    async def open(
        cls, path: str, migrations: Sequence[Migration], busy_timeout_ms: int
    ) -> Connection:
        """Open (creating if need be) the database at ``path``, set its pragmas and bring its
        schema up to date. Raises :class:`StorageError` with one line naming the path."""
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StorageError(
                f"SQLite {sqlite3.sqlite_version} is too old; pttbridge needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or newer"
            )
        if path != MEMORY:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(f"cannot create the folder for database {path}: {e}") from e
        # Held for as long as the connection is open: a restore is refused meanwhile.
        lock = DatabaseLock.shared(path) if path != MEMORY else None
        conn = cls(path)
        conn._lock = lock
        try:
            try:
                conn._raw = await conn._call(partial(sqlite3.connect, path, isolation_level=None))
            except sqlite3.Error as e:
                raise StorageError(f"cannot open database {path}: {e}") from e
            conn.wal = await conn.run(_prepare, path, migrations, busy_timeout_ms)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def run(
        self,
        work: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``work(connection, *args)`` in the connection's thread: one trip. ``work`` must
        only touch the database and the values it was given: it runs outside the event
        loop. Functions run one after another, in the order they were handed over; one
        whose caller stopped waiting before it started is skipped."""
        if self._raw is None:
            raise StorageError(f"database {self.path} is closed")
        result: T = await self._call(partial(work, self._raw, *args, **kwargs))
        return result

    def _call(self, call: Callable[[], Any]) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self._calls.put((future, call))
        return future

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (a flag SQLite keeps: safe to read from the loop)."""
        return self._raw is not None and self._raw.in_transaction

    async def close(self) -> None:
        """Close the connection (an open transaction is rolled back) and end its thread.
        Safe to call twice."""
        raw, self._raw = self._raw, None
        try:
            if raw is not None:
                await self._call(raw.close)
        finally:
            if self._thread.is_alive():
                self._calls.put(None)
            if self._lock is not None:
                self._lock.release()


def _serve(calls: SimpleQueue[_Call | None]) -> None:
    """The connection's thread: run each call, hand its outcome to the caller's loop."""
    while (item := calls.get()) is not None:
        future, call = item
        if future.cancelled():  # the caller stopped waiting before it started
            continue
        try:
            result = call()
        except BaseException as e:
            _answer(future, _set_exception, e)
        else:
            _answer(future, _set_result, result)


def _answer(future: asyncio.Future[Any], setter: Callable[..., None], value: Any) -> None:
    try:
        future.get_loop().call_soon_threadsafe(setter, future, value)
    except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
        log.debug("database thread: the loop waiting for %r is closed", future)


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _prepare(
    conn: sqlite3.Connection, path: str, migrations: Sequence[Migration], busy_timeout_ms: int
) -> bool:
    """In the connection's thread: pragmas and migrations. True if the journal is a WAL."""
    conn.row_factory = sqlite3.Row
    latest = migrations[-1].number if migrations else 0
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # The first statement that reads the file: it tells a foreign file apart.
        version = check_not_newer(conn, latest, path)
    except sqlite3.DatabaseError as e:
        raise _open_error(path, e) from e
    try:
        mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as e:
        raise _open_error(path, e) from e
    if path != MEMORY and mode != "wal":
        log.warning("database %s: journal mode is %s, not WAL", path, mode)
    apply_migrations(conn, migrations, version, path)
    conn.execute("PRAGMA foreign_keys = ON")
    if mode != "wal":
        return False
    # Checkpoints off the write path (storage.db.checkpoint); SQLite's own, run by whichever
    # commit crosses the threshold, stays only as a safety net.
    conn.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
    # A checkpoint does not shrink the WAL file; this does, when it restarts.
    conn.execute(f"PRAGMA journal_size_limit = {CHECKPOINT_BYTES}")
    return True


def _open_error(path: str, e: sqlite3.DatabaseError) -> StorageError:
    return unreadable(path, e, StorageError, f"cannot open database {path}")


def unreadable(path: str, e: sqlite3.DatabaseError, error: type[E], otherwise: str) -> E:
    """The ``error`` to raise when SQLite failed to read the file at ``path`` with ``e``:
    one line saying it is no database or a damaged one, else ``otherwise: e``."""
    name = getattr(e, "sqlite_errorname", "")
    if name == "SQLITE_NOTADB":
        return error(f"{path} is not an SQLite database")
    if name == "SQLITE_CORRUPT":
        return error(f"database {path} is damaged: {e}")
    return error(f"{otherwise}: {e}")
