"""Schema changes: numbered files ``storage/migrations/NNNN_name.sql``, applied in order.

Each migration runs in its own transaction, with ``PRAGMA user_version`` recording the last
one applied. A migration file holds plain SQL statements and no transaction control;
foreign keys are not enforced while migrations run (so a table can be rebuilt) and are
checked before each one commits.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from storage.db.errors import StorageError

__all__ = ["Migration", "apply_migrations", "load_migrations", "split_statements", "user_version"]

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


def apply_migrations(
    conn: sqlite3.Connection, migrations: Sequence[Migration], version: int, path: str
) -> None:
    """Apply, in the connection's thread, each migration numbered above ``version``.

    A failing one is rolled back and raises :class:`StorageError` naming its file.
    """
    # Foreign keys stay off while the schema changes (a table rebuild would otherwise
    # cascade); each migration is checked with foreign_key_check before it commits.
    conn.execute("PRAGMA foreign_keys = OFF")
    for migration in migrations:
        if migration.number <= version:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Another process may have migrated while this one waited for the lock.
            if user_version(conn) >= migration.number:
                conn.execute("COMMIT")
                continue
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise StorageError(f"{len(broken)} rows break a foreign key")
            conn.execute(f"PRAGMA user_version = {migration.number}")
            conn.execute("COMMIT")
        except (sqlite3.Error, StorageError) as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StorageError(
                f"database {path}: migration {migration.filename} failed and was rolled back: {e}"
            ) from e
        log.info("database %s: applied migration %s", path, migration.filename)
