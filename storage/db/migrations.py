"""Schema changes: numbered files ``storage/migrations/NNNN_name.sql``, applied in order.

All the migrations pending at start run in one transaction: either the database reaches
the newest schema or it is left exactly as it was (never a half-migrated database, which
neither the old version nor the new one would know). ``PRAGMA user_version`` records the
last one applied, and the table :data:`HISTORY` one row per migration: which pttbridge
applied it and when, so that an older pttbridge meeting the database can say which version
made it. A migration file holds plain SQL statements and no transaction control; foreign
keys are not enforced while migrations run (so a table can be rebuilt) and are checked
after each one.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Final

from storage.db.codecs import to_db_time, utcnow
from storage.db.errors import StorageError, StorageNewerError

__all__ = [
    "HISTORY",
    "Migration",
    "apply_migrations",
    "check_not_newer",
    "load_migrations",
    "newer_than_this",
    "pttbridge_version",
    "split_statements",
    "user_version",
]

HISTORY: Final = "schema_history"
"""The migrations' own table, kept by :func:`apply_migrations` rather than by a migration
file (as Flyway and Django keep theirs): it must be written in the very transaction of
every migration, whichever the first one applied."""

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


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


def user_version(conn: sqlite3.Connection) -> int:
    """The number of the last migration applied to ``conn``'s database."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def pttbridge_version() -> str:
    """This pttbridge's version, as installed (storage does not import the bot for it)."""
    try:
        return metadata.version("pttbridge")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(version unknown)"


def made_by(conn: sqlite3.Connection, version: int) -> str | None:
    """The pttbridge version that applied migration ``version`` to ``conn``'s database, if
    the database says (it does from the release that brought :data:`HISTORY` on)."""
    try:
        row = conn.execute(
            f"SELECT applied_by FROM {HISTORY} WHERE number = ?", (version,)
        ).fetchone()
    except sqlite3.OperationalError:  # no such table: made before it existed
        return None
    return None if row is None else str(row[0])


def newer_than_this(conn: sqlite3.Connection, latest: int) -> str | None:
    """None if this pttbridge knows ``conn``'s schema (``latest`` is the newest migration
    it has); else what to tell: ``"made by pttbridge X (schema N), this is pttbridge Y
    (schema M)"``."""
    version = user_version(conn)
    if version <= latest:
        return None
    by = made_by(conn, version)
    maker = f"pttbridge {by}" if by else "a newer pttbridge"
    return (
        f"made by {maker} (schema {version}), "
        f"this is pttbridge {pttbridge_version()} (schema {latest})"
    )


def check_not_newer(conn: sqlite3.Connection, latest: int, path: str) -> int:
    """``conn``'s schema version; raise :class:`StorageNewerError` if a newer pttbridge
    made it (its schema is past ``latest``, the newest migration this one knows)."""
    newer = newer_than_this(conn, latest)
    if newer is not None:
        raise StorageNewerError(
            f"{path} was {newer}: run that version or a newer one, "
            "or restore a backup made before the upgrade"
        )
    return user_version(conn)


def apply_migrations(
    conn: sqlite3.Connection, migrations: Sequence[Migration], version: int, path: str
) -> None:
    """Apply, in the connection's thread, each migration numbered above ``version``: all in
    one transaction, with a row in :data:`HISTORY` for each.

    When one fails, all are rolled back, the database is as it was, and
    :class:`StorageError` names the file that failed.
    """
    pending = [m for m in migrations if m.number > version]
    if not pending:
        return
    latest = migrations[-1].number
    # Foreign keys stay off while the schema changes (a table rebuild would otherwise
    # cascade); each migration is checked with foreign_key_check instead.
    conn.execute("PRAGMA foreign_keys = OFF")
    current: Migration | None = None
    try:
        conn.execute("BEGIN IMMEDIATE")
        # Another process may have migrated while this one waited for the lock.
        version = check_not_newer(conn, latest, path)
        pending = [m for m in pending if m.number > version]
        if pending:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {HISTORY} ("
                " number INTEGER PRIMARY KEY, filename TEXT NOT NULL,"
                " applied_by TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        applied_by, applied_at = pttbridge_version(), to_db_time(utcnow())
        for current in pending:
            for statement in split_statements(current.sql):
                conn.execute(statement)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StorageError(f"{len(broken)} rows break a foreign key")
            conn.execute(
                f"INSERT OR REPLACE INTO {HISTORY} (number, filename, applied_by, applied_at)"
                " VALUES (?, ?, ?, ?)",
                (current.number, current.filename, applied_by, applied_at),
            )
            conn.execute(f"PRAGMA user_version = {current.number}")
        conn.execute("COMMIT")
    except StorageNewerError:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    except (sqlite3.Error, StorageError) as e:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        where = f"migration {current.filename}" if current else "starting the migrations"
        raise StorageError(
            f"database {path}: {where} failed and every pending migration was rolled back "
            f"(the database is as it was, schema {version}): {e}"
        ) from e
    for migration in pending:
        log.info("database %s: applied migration %s", path, migration.filename)
