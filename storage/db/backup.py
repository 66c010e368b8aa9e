"""Back up the live database and restore a backup: ``pttbridge backup`` / ``restore``.

* :func:`backup_database` copies the database while a bridge runs, with SQLite's online
  backup from a connection of its own: one step, so the copy is the database as of one
  commit. In WAL mode that step holds only a read snapshot and the bridge keeps writing
  meanwhile (a copy made in several steps would start over each time the bridge
  committed between two of them, and might never finish under load).
* :func:`restore_database` puts a backup in the database's place once it has checked that
  the backup is a sound pttbridge database this version can run, and only while nothing
  uses the database (:mod:`storage.db.lock`). The database it replaces is kept beside it.

Both write into a temporary file in the target's folder and rename it into place at the
end, so a crash or a full disk never leaves half a file under the target's name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from urllib.parse import quote

from storage.db.connection import unreadable
from storage.db.errors import BackupError
from storage.db.lock import DatabaseLock
from storage.db.migrations import (
    HISTORY,
    Migration,
    load_migrations,
    newer_than_this,
    split_statements,
    user_version,
)

__all__ = ["KEPT_SUFFIX", "backup_database", "restore_database"]

log = logging.getLogger(__name__)

KEPT_SUFFIX: Final = ".before-restore"
"""The database a restore replaced is kept as ``<db>.before-restore`` (``.1``, ``.2``, ...
after it when that name is taken: an earlier restore's is never overwritten)."""

# Files SQLite keeps beside a database: moved with it (the WAL and a rollback journal hold
# committed or to-be-undone pages); the WAL index is rebuilt from the WAL, so it goes.
_MOVED_WITH_IT = ("-wal", "-journal")
_DROPPED = ("-shm",)


def backup_database(db_path: str, dest: str, *, overwrite: bool = False) -> None:
    """Copy the database at ``db_path`` to the new file ``dest``, consistently, while a
    bridge may be running and writing.

    The copy is a single file (no WAL beside it) that passed ``integrity_check`` and holds
    every transaction committed before the backup began. ``dest`` must not exist unless
    ``overwrite``. Raises :class:`~storage.db.BackupError` (one line) when it cannot.
    """
    source, target = Path(db_path), Path(dest)
    if not source.is_file():
        raise BackupError(f"no database at {db_path}")
    if target.is_dir():
        raise BackupError(
            f"{dest} is a folder: name the backup file (e.g. {target / 'pttbridge.db'})"
        )
    if _same_file(source, target):
        raise BackupError(f"{dest} is the database itself: name another file")
    if target.exists() and not overwrite:
        raise BackupError(f"{dest} already exists: name another file, or overwrite it (--force)")
    lock = DatabaseLock.shared(source)  # no restore meanwhile
    try:
        with _temporary_beside(target, "backup") as tmp:
            _copy(source, tmp, read_only=False, label=db_path)
            _check_ours(tmp, db_path, refuse_newer=False)
            _install(tmp, target, overwrite=overwrite)
    finally:
        lock.release()
    log.info("database %s backed up to %s", db_path, dest)


def restore_database(src: str, db_path: str) -> Path | None:
    """Put the backup ``src`` in the place of the database at ``db_path``.

    ``src`` must be a sound SQLite database (``integrity_check``) with pttbridge's schema at
    a version this pttbridge knows. Refused while anything uses the database (a running
    bridge, a backup): stop the bridge first. The replaced database is kept as
    ``<db>.before-restore`` (see :data:`KEPT_SUFFIX`), with its WAL if it had one; returns
    that path, or None when there was no database. ``src`` is only read. Raises
    :class:`~storage.db.StorageError` subclasses, one line each; then nothing was changed.
    """
    backup, live = Path(src), Path(db_path)
    if not backup.is_file():
        raise BackupError(f"no backup at {src}")
    if _same_file(backup, live):
        raise BackupError(f"{src} is the database itself: name a backup")
    try:
        live.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BackupError(f"cannot create the folder for database {db_path}: {e.strerror}") from e
    lock = DatabaseLock.exclusive(live, "restore")
    try:
        with _temporary_beside(live, "restore") as tmp:
            _copy(backup, tmp, read_only=True, label=src)
            _check_ours(tmp, src, refuse_newer=True)
            _take_owner_and_mode(tmp, live)
            kept = _replace(live, tmp, db_path)
    finally:
        lock.release()
    log.info("database %s restored from %s (the one replaced: %s)", db_path, src, kept)
    return kept


# --- copying --------------------------------------------------------------------------


def _copy(source: Path, tmp: Path, *, read_only: bool, label: str) -> None:
    """SQLite's online backup of ``source`` into the empty file ``tmp``, in one step; the
    copy is switched out of WAL mode so that it is one self-contained file."""
    mode = "ro" if read_only else "rw"  # never "rwc": a missing file is not made
    try:
        src = sqlite3.connect(f"file:{quote(str(source))}?mode={mode}", uri=True)
    except sqlite3.Error as e:
        raise BackupError(f"cannot open {label}: {e}") from e
    try:
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            src.backup(dst)  # pages=-1: all in one step, one snapshot
            dst.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            dst.close()
    except sqlite3.DatabaseError as e:
        if getattr(e, "sqlite_errorname", "") in ("SQLITE_FULL", "SQLITE_READONLY"):
            raise BackupError(f"cannot write the copy in {tmp.parent}: {e}") from e
        raise unreadable(label, e, BackupError, f"{label} cannot be read") from e
    finally:
        src.close()
    _sync_file(tmp)


def _check_ours(copy: Path, label: str, *, refuse_newer: bool) -> None:
    """Raise :class:`BackupError` unless ``copy`` is sound and has pttbridge's schema (the
    one migrations 1 to its ``user_version`` make). ``label`` names the original."""
    migrations = load_migrations()
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise BackupError(f"{label} is damaged: {problems[0]}")
        newer = newer_than_this(conn, migrations[-1].number)
        if newer is not None:
            if refuse_newer:
                raise BackupError(f"{label} was {newer}: restore it with that version")
            return  # a copy this version cannot check further, but the newer one can use
        version = user_version(conn)
        if version == 0:
            raise BackupError(f"{label} is not a pttbridge database (no schema version)")
        difference = _schema_difference(_schema(conn), _schema_of(migrations, version))
        if difference:
            raise BackupError(
                f"{label} is not a pttbridge database of schema {version}: {difference}"
            )
    except sqlite3.DatabaseError as e:
        raise unreadable(label, e, BackupError, f"{label} cannot be read") from e
    finally:
        conn.close()


Schema = dict[str, tuple[str, ...]]
"""``"table chats"`` -> its columns (name, type, not null, primary key); indexes, triggers
and views by name alone."""


def _schema(conn: sqlite3.Connection) -> Schema:
    found: Schema = {}
    rows = conn.execute(
        "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND name != ?",
        (HISTORY,),
    ).fetchall()
    for kind, name in rows:
        columns: tuple[str, ...] = ()
        if kind == "table":
            info = conn.execute("SELECT * FROM pragma_table_info(?)", (name,)).fetchall()
            columns = tuple(f"{c[1]} {c[2]} notnull={c[3]} pk={c[5]}" for c in info)
        found[f"{kind} {name}"] = columns
    return found


def _schema_of(migrations: list[Migration], version: int) -> Schema:
    """The schema migrations 1 to ``version`` make, in a database in memory."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for migration in migrations[:version]:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
        return _schema(conn)
    finally:
        conn.close()


def _schema_difference(found: Schema, expected: Schema) -> str:
    """The first difference, in words, or '' when there is none."""
    for what in sorted(expected.keys() - found.keys()):
        return f"no {what}"
    for what in sorted(found.keys() - expected.keys()):
        return f"an unknown {what}"
    for what in sorted(expected):
        if found[what] != expected[what]:
            return f"{what} has other columns than pttbridge's"
    return ""


# --- files ----------------------------------------------------------------------------


@contextlib.contextmanager
def _temporary_beside(target: Path, doing: str) -> Iterator[Path]:
    """An empty file in ``target``'s folder (so renaming it there is atomic), readable by
    its owner alone, removed unless it was renamed into place."""
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=f".{doing}", dir=target.parent
        )
    except OSError as e:
        raise BackupError(f"cannot write in {target.parent}: {e.strerror}") from e
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        for leftover in (tmp, *(Path(f"{tmp}{s}") for s in (*_MOVED_WITH_IT, *_DROPPED))):
            leftover.unlink(missing_ok=True)


def _take_owner_and_mode(tmp: Path, live: Path) -> None:
    """Give the restored file the owner and permissions of the database it replaces (or of
    its folder, when there was none): a restore run as root must leave a database the
    bridge's own user can still open."""
    like = live if live.exists() else live.parent
    st = like.stat()
    os.chmod(tmp, (st.st_mode & 0o666) if like is live else 0o600)
    if hasattr(os, "chown"):
        mine = tmp.stat()
        if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError as e:  # not root: then it is the user who runs it
                log.warning("restore: %s stays owned by the user restoring it: %s", live, e)


def _install(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Rename ``tmp`` to ``target``; unless ``overwrite``, never over a file that appeared
    there meanwhile (a hard link fails if the name is taken; a rename would not)."""
    try:
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError as e:
                raise BackupError(f"{target} already exists: name another file") from e
            except OSError as e:  # a file system without hard links
                log.debug("no hard link for %s (%s): checking, then renaming", target, e)
                if target.exists():
                    raise BackupError(f"{target} already exists: name another file") from e
                os.replace(tmp, target)
    except OSError as e:
        raise BackupError(f"cannot write {target}: {e.strerror}") from e
    _sync_folder(target.parent)


def _replace(live: Path, tmp: Path, db_path: str) -> Path | None:
    """Set the database at ``live`` aside and rename ``tmp`` in its place; if that fails,
    put it back. Returns where the old one went."""
    try:
        kept = _set_aside(live)
    except OSError as e:
        raise BackupError(f"cannot set database {db_path} aside: {e.strerror}") from e
    try:
        os.replace(tmp, live)
    except OSError as e:
        if kept is not None:
            for suffix in ("", *_MOVED_WITH_IT):
                if Path(f"{kept}{suffix}").exists():
                    os.rename(f"{kept}{suffix}", f"{live}{suffix}")
        raise BackupError(f"cannot put the backup in place of {db_path}: {e.strerror}") from e
    _sync_folder(live.parent)
    return kept


def _set_aside(live: Path) -> Path | None:
    """Move the database at ``live`` (with its WAL or journal) to a free ``.before-restore``
    name, drop its WAL index; return where it went (None: there was no database)."""
    for suffix in _DROPPED:
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    if not live.exists():
        for suffix in _MOVED_WITH_IT:  # stale: they must not be applied to the backup
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        return None
    kept = Path(f"{live}{KEPT_SUFFIX}")
    n = 0
    while any(Path(f"{kept}{s}").exists() for s in ("", *_MOVED_WITH_IT)):
        n += 1
        kept = Path(f"{live}{KEPT_SUFFIX}.{n}")
    for suffix in _MOVED_WITH_IT:
        if Path(f"{live}{suffix}").exists():
            os.rename(f"{live}{suffix}", f"{kept}{suffix}")
    os.rename(live, kept)
    return kept


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
