"""The one SQLite connection, its schema migrations, and conventions every repository follows.

One module per concern: :mod:`~storage.db.codecs` (times and JSON as stored),
:mod:`~storage.db.migrations` (numbered schema changes), :mod:`~storage.db.connection`
(the sqlite3 connection and its thread), :mod:`~storage.db.checkpoint` (WAL checkpoints off
the commit path), :mod:`~storage.db.database` (statements and transactions),
:mod:`~storage.db.errors`, :mod:`~storage.db.lock` (who is using the file) and
:mod:`~storage.db.backup` (online backup, checked restore). Everything is imported from here.

Conventions (every module in ``storage`` keeps them):

* **One connection per process.** :class:`Database` owns a single SQLite connection opened
  in autocommit mode (``isolation_level=None``): nothing starts a transaction implicitly.
  Writes that must be atomic go through ``async with db.transaction():``; single statements
  go through :meth:`Database.execute`, :meth:`Database.fetchone` and
  :meth:`Database.fetchall`, which wait for any other coroutine's transaction to finish so
  they never run inside it.
* **Times** are aware datetimes in Python and fixed-width ISO-8601 UTC text in SQLite
  (:func:`to_db_time`, :func:`from_db_time`); **structured values** are standard JSON
  (:func:`dump_json`, :func:`load_json`). See :mod:`storage.db.codecs`.
* **Schema** changes are numbered files ``storage/migrations/NNNN_name.sql``, applied in
  order at start-up, all pending ones in one transaction, with ``PRAGMA user_version``
  recording the last one applied and ``schema_history`` which pttbridge applied each. A
  database made by a newer pttbridge is refused. See :mod:`storage.db.migrations`.
"""

from storage.db.backup import KEPT_SUFFIX, backup_database, restore_database
from storage.db.checkpoint import (
    AUTOCHECKPOINT_PAGES,
    CHECKPOINT_BYTES,
    CHECKPOINT_EVERY_S,
    checkpoint,
)
from storage.db.codecs import dump_json, from_db_time, load_json, to_db_time, utcnow
from storage.db.connection import BUSY_TIMEOUT_MS, MIN_SQLITE
from storage.db.database import Database
from storage.db.errors import (
    BackupError,
    StorageError,
    StorageInUseError,
    StorageNewerError,
    StorageReadOnlyError,
)
from storage.db.lock import DatabaseLock, lock_path
from storage.db.migrations import Migration, load_migrations, pttbridge_version, split_statements

__all__ = [
    "AUTOCHECKPOINT_PAGES",
    "BUSY_TIMEOUT_MS",
    "CHECKPOINT_BYTES",
    "CHECKPOINT_EVERY_S",
    "KEPT_SUFFIX",
    "MIN_SQLITE",
    "BackupError",
    "Database",
    "DatabaseLock",
    "Migration",
    "StorageError",
    "StorageInUseError",
    "StorageNewerError",
    "StorageReadOnlyError",
    "backup_database",
    "checkpoint",
    "dump_json",
    "from_db_time",
    "load_json",
    "load_migrations",
    "lock_path",
    "pttbridge_version",
    "restore_database",
    "split_statements",
    "to_db_time",
    "utcnow",
]
