"""The one SQLite connection, its schema migrations, and conventions every repository follows.

Conventions (every module in ``storage`` keeps them):

* **One connection per process.** :class:`Database` owns a single aiosqlite connection opened
  in autocommit mode (``isolation_level=None``): nothing starts a transaction implicitly.
  Writes that must be atomic go through ``async with db.transaction():``; single statements
  go through :meth:`Database.execute`, :meth:`Database.fetchone` and
  :meth:`Database.fetchall`, which wait for any other coroutine's transaction to finish so
  they never run inside it.
* **Times** are timezone-aware :class:`~datetime.datetime` objects in Python and ISO-8601
  text in UTC with microseconds in SQLite (``2026-11-28T08:00:00.000000+00:00``, always
  32 characters), written by :func:`to_db_time` and read by :func:`from_db_time`. Fixed
  width means text order is time order, so ``WHERE at >= ?`` and ``ORDER BY at`` work, and
  SQLite's own date functions understand the values. Naive datetimes are refused.
* **Structured values** (FSM data, audit arguments) are JSON text written by
  :func:`dump_json`: standard JSON only (no NaN), non-ASCII escaped so that any Python
  string, even one with a lone surrogate, can be stored.
* **Schema** changes are numbered files ``storage/migrations/NNNN_name.sql``, applied in
  order at start-up, each in its own transaction, with ``PRAGMA user_version`` recording
  the last one applied. A migration file holds plain SQL statements and no transaction
  control; foreign keys are not enforced while migrations run (so a table can be rebuilt)
  and are checked before each one commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from operator import attrgetter, methodcaller
from pathlib import Path
from typing import Any, Final, TypeVar

import aiosqlite

__all__ = [
    "Database",
    "Migration",
    "StorageError",
    "StorageReadOnlyError",
    "dump_json",
    "from_db_time",
    "load_json",
    "load_migrations",
    "to_db_time",
    "utcnow",
]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS: Final = 5000
"""How long a statement waits for another connection's write lock before failing."""

MIN_SQLITE: Final = (3, 24, 0)
"""UPSERT (``INSERT ... ON CONFLICT DO UPDATE``) needs SQLite 3.24."""

T = TypeVar("T")

CHECKPOINT_EVERY_S: Final = 0.5
CHECKPOINT_BYTES: Final = 4 * 1024 * 1024
"""The background checkpoint copies the WAL back once it is this big (SQLite's default
threshold, 1,000 pages of 4 KiB)."""
AUTOCHECKPOINT_PAGES: Final = 16_000
"""SQLite's own checkpoint, in the commit path: only if the background one falls behind."""

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_MEMORY = ":memory:"


class StorageError(Exception):
    """A problem with the database the operator must fix; the message is one printable line."""


class StorageReadOnlyError(StorageError):
    """The database answers reads but refuses writes (a read-only file, folder or mount)."""


# --- times and JSON -------------------------------------------------------------------


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_db_time(dt: datetime) -> str:
    """Render an aware datetime as fixed-width ISO-8601 UTC text for storage.

    Raises ``ValueError`` for a naive datetime: its meaning would depend on the host's zone.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} cannot be stored; attach a timezone")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    """Parse text written by :func:`to_db_time` back into an aware UTC datetime."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:  # written by hand in the sqlite3 shell, say: it is UTC by convention
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def dump_json(value: Any, *, lenient: bool = False) -> str:
    """Serialise ``value`` as compact standard JSON.

    With ``lenient=True`` values JSON has no type for (datetimes, enums, ...) are written as
    their ``str()``; otherwise they raise ``TypeError``.
    """
    return json.dumps(
        value,
        ensure_ascii=True,
        allow_nan=False,
        separators=(",", ":"),
        default=str if lenient else None,
    )


def load_json(text: str) -> Any:
    """Parse JSON text written by :func:`dump_json`."""
    return json.loads(text)


# --- migrations -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change: ``number`` is what ``PRAGMA user_version`` becomes."""

    number: int
    filename: str
    sql: str


def load_migrations() -> list[Migration]:
    """Read ``storage/migrations/NNNN_name.sql`` from the installed package, in order.

    Numbers must run 1, 2, 3, ... without gaps or repeats; anything else is a packaging
    mistake and raises :class:`StorageError`.
    """
    folder = resources.files("storage").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            raise StorageError(f"migration file {entry.name} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.number)
    for expected, migration in enumerate(found, start=1):
        if migration.number != expected:
            raise StorageError(
                f"migrations must be numbered 1, 2, 3, ...: expected {expected:04d}, "
                f"found {migration.filename}"
            )
    return found


def split_statements(script: str) -> list[str]:
    """Split a migration script into single statements (``;`` inside strings, comments and
    trigger bodies does not split). Executing statement by statement, unlike
    ``executescript``, keeps them inside the caller's transaction."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";")[:-1]:
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if _strip_sql_comments(pending).strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    rest = pending + script.split(";")[-1]
    if _strip_sql_comments(rest).strip():
        statements.append(rest.strip())  # a last statement without its semicolon
    return statements


def _strip_sql_comments(sql: str) -> str:
    # Only to tell an empty remainder from a statement: strings are not parsed here, which is
    # fine because a remainder containing a string literal is a statement anyway.
    sql = re.sub(r"/\*.*?\*/", "", sql, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", "", sql)


def _checkpoint(path: str) -> None:
    try:
        if Path(path + "-wal").stat().st_size <= CHECKPOINT_BYTES:
            return
    except FileNotFoundError:
        return
    other = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        other.close()


def _transaction_in_thread(
    conn: aiosqlite.Connection, work: Callable[[sqlite3.Connection], T]
) -> T:
    raw = conn._conn  # the sqlite3 connection, used only in aiosqlite's own thread
    raw.execute("BEGIN IMMEDIATE")
    try:
        result = work(raw)
        raw.execute("COMMIT")
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    return result


async def _exec(conn: aiosqlite.Connection, sql: str) -> None:
    await conn._execute(_statement, conn, sql, (), _ROWCOUNT)


# Run in aiosqlite's thread (`Connection._execute`): one statement, what `take` reads
# from its cursor, the cursor closed — one trip each.


def _statement(
    conn: aiosqlite.Connection, sql: str, params: Any, take: Callable[[sqlite3.Cursor], Any]
) -> Any:
    cursor = conn._conn.execute(sql, params)
    try:
        return take(cursor)
    finally:
        cursor.close()


def _many(conn: aiosqlite.Connection, sql: str, rows: list[Sequence[Any]]) -> int:
    cursor = conn._conn.executemany(sql, rows)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


_ROWCOUNT = attrgetter("rowcount")
_LASTROWID = attrgetter("lastrowid")
_ONE = methodcaller("fetchone")
_ALL = methodcaller("fetchall")


# --- the database ---------------------------------------------------------------------


class Database:
    """The process's one SQLite connection: pragmas, migrations, and serialised transactions.

    Build it with :meth:`open`; hand it to the repositories; :meth:`close` it last.
    """

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._savepoints = 0
        self._versions: dict[str, int] = {}
        self._checkpointer: asyncio.Task[None] | None = None

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
        :func:`load_migrations`. Raises :class:`StorageError` with a one-line message naming
        the path when the file is not SQLite, was written by a newer pttbridge, cannot be
        opened, or a migration fails (that migration is rolled back).
        """
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StorageError(
                f"SQLite {sqlite3.sqlite_version} is too old; pttbridge needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or newer"
            )
        if migrations is None:
            migrations = load_migrations()
        where = str(path)
        if where != _MEMORY:
            try:
                Path(where).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(f"cannot create the folder for database {where}: {e}") from e
        try:
            conn = await aiosqlite.connect(where, isolation_level=None)
        except sqlite3.Error as e:
            raise StorageError(f"cannot open database {where}: {e}") from e
        db = cls(conn, where)
        try:
            await db._prepare(migrations, busy_timeout_ms)
        except BaseException:
            await db.close()
            raise
        return db

    async def _prepare(self, migrations: Sequence[Migration], busy_timeout_ms: int) -> None:
        conn = self.conn
        conn.row_factory = aiosqlite.Row
        latest = migrations[-1].number if migrations else 0
        try:
            await _exec(conn, f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # The first statement that reads the file: it tells a foreign file apart.
            version = await self._user_version()
        except sqlite3.DatabaseError as e:
            raise self._open_error(e) from e
        if version > latest:
            raise StorageError(
                f"{self.path} was written by a newer pttbridge "
                f"(schema {version}, this version knows {latest})"
            )
        try:
            mode = await self._pragma("PRAGMA journal_mode = WAL")
            await _exec(conn, "PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as e:
            raise self._open_error(e) from e
        if self.path != _MEMORY and str(mode).lower() != "wal":
            log.warning("database %s: journal mode is %s, not WAL", self.path, mode)
        await self._migrate(migrations, version)
        await _exec(conn, "PRAGMA foreign_keys = ON")
        if str(mode).lower() == "wal":
            # Checkpoints off the write path (see _checkpoint_loop); SQLite's own, run by
            # whichever commit crosses the threshold, stays only as a safety net.
            await _exec(conn, f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
            # A checkpoint does not shrink the WAL file; this does, when it restarts.
            await _exec(conn, f"PRAGMA journal_size_limit = {CHECKPOINT_BYTES}")
            self._checkpointer = asyncio.create_task(self._checkpoint_loop())

    async def _checkpoint_loop(self) -> None:
        """Copy the WAL back into the database from a connection of its own, in another
        thread, whenever the WAL passes `CHECKPOINT_BYTES`. SQLite's automatic checkpoint
        runs inside the commit that crosses its threshold, on the one connection's thread:
        every thousandth commit or so took ~8 ms instead of ~0.6, and every callback
        waiting for it waited that long. A PASSIVE checkpoint from another connection does
        not hold up writers."""
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_S)
            try:
                await asyncio.to_thread(_checkpoint, self.path)
            except Exception as e:  # the loop goes on; SQLite's own checkpoint is the net
                log.warning("database %s: background checkpoint failed: %s", self.path, e)

    def _open_error(self, e: sqlite3.DatabaseError) -> StorageError:
        name = getattr(e, "sqlite_errorname", "")
        if name == "SQLITE_NOTADB":
            return StorageError(f"{self.path} is not an SQLite database")
        if name == "SQLITE_CORRUPT":
            return StorageError(f"database {self.path} is damaged: {e}")
        return StorageError(f"cannot open database {self.path}: {e}")

    async def _migrate(self, migrations: Sequence[Migration], version: int) -> None:
        conn = self.conn
        # Foreign keys stay off while the schema changes (a table rebuild would otherwise
        # cascade); each migration is checked with foreign_key_check before it commits.
        await _exec(conn, "PRAGMA foreign_keys = OFF")
        for migration in migrations:
            if migration.number <= version:
                continue
            try:
                await _exec(conn, "BEGIN IMMEDIATE")
                # Another process may have migrated while this one waited for the lock.
                current = await self._user_version()
                if current >= migration.number:
                    await _exec(conn, "COMMIT")
                    continue
                for statement in split_statements(migration.sql):
                    await _exec(conn, statement)
                async with conn.execute("PRAGMA foreign_key_check") as cursor:
                    broken = await cursor.fetchall()
                if broken:
                    raise StorageError(f"{len(list(broken))} rows break a foreign key")
                await _exec(conn, f"PRAGMA user_version = {migration.number}")
                await _exec(conn, "COMMIT")
            except (sqlite3.Error, StorageError) as e:
                if conn.in_transaction:
                    await _exec(conn, "ROLLBACK")
                raise StorageError(
                    f"database {self.path}: migration {migration.filename} failed "
                    f"and was rolled back: {e}"
                ) from e
            log.info("database %s: applied migration %s", self.path, migration.filename)

    async def _user_version(self) -> int:
        return int(await self._pragma("PRAGMA user_version"))

    async def _pragma(self, sql: str) -> Any:
        async with self.conn.execute(sql) as cursor:
            row = await cursor.fetchone()
        return None if row is None else row[0]

    # --- using it -----------------------------------------------------------------------

    @property
    def conn(self) -> aiosqlite.Connection:
        """The underlying connection. Prefer the helpers below: they respect transactions."""
        if self._conn is None:
            raise StorageError(f"database {self.path} is closed")
        return self._conn

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._conn is None

    async def schema_version(self) -> int:
        """The number of the last migration applied (``PRAGMA user_version``)."""
        async with self._turn():
            return await self._user_version()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
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
            async with self._savepoint() as conn:
                yield conn
            return
        async with self._lock:
            conn = self.conn
            self._owner = task
            try:
                await _exec(conn, "BEGIN IMMEDIATE")
                try:
                    yield conn
                    await _exec(conn, "COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        # Shielded: a cancelled task must still leave no transaction open.
                        await asyncio.shield(_exec(conn, "ROLLBACK"))
                    raise
            finally:
                self._owner = None

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = self.conn
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        try:
            await _exec(conn, f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                await asyncio.shield(_exec(conn, f"ROLLBACK TO {name}"))
                await asyncio.shield(_exec(conn, f"RELEASE {name}"))
                raise
            await _exec(conn, f"RELEASE {name}")
        finally:
            self._savepoints -= 1

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run a statement outside other coroutines' transactions (inside the caller's own)."""
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield self.conn
            return
        async with self._lock:
            yield self.conn

    # Each statement is one trip to the connection's thread (aiosqlite's cursor API takes
    # three: execute, fetch, close — most of a command's storage time was those trips).

    async def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> int:
        """Run one statement (atomic on its own); return the number of rows it changed."""
        async with self._turn() as conn:
            return int(await conn._execute(_statement, conn, sql, params, _ROWCOUNT))

    async def insert(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> int:
        """Run one INSERT and return the rowid of the row it added."""
        async with self._turn() as conn:
            rowid = await conn._execute(_statement, conn, sql, params, _LASTROWID)
        if rowid is None:
            raise StorageError(f"database {self.path}: statement inserted no row: {sql.strip()}")
        return int(rowid)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each parameter row; wrap it in a transaction to be atomic."""
        async with self._turn() as conn:
            return int(await conn._execute(_many, conn, sql, list(rows)))

    async def fetchone(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> sqlite3.Row | None:
        """Run a query and return its first row, or None."""
        async with self._turn() as conn:
            row: sqlite3.Row | None = await conn._execute(_statement, conn, sql, params, _ONE)
            return row

    async def fetchall(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[sqlite3.Row]:
        """Run a query and return all its rows."""
        async with self._turn() as conn:
            rows: list[sqlite3.Row] = await conn._execute(_statement, conn, sql, params, _ALL)
            return rows

    async def ping(self) -> None:
        """Readiness check: raise :class:`StorageError` unless the database answers a read."""
        try:
            await asyncio.wait_for(self._pragma("PRAGMA user_version"), timeout=5)
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
        conn = self.conn
        async with self._lock:
            # aiosqlite runs queued functions one after another in its thread, and has no
            # public call for "run this function there": `_execute` is what all of its own
            # methods use (aiosqlite 0.17-0.22; pinned in pyproject.toml).
            return await conn._execute(_transaction_in_thread, conn, work)

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
