"""Who is using a database file: an advisory lock on ``<db>.lock`` beside it.

A running bridge (every :class:`~storage.db.Database` on a file) and a backup hold it
*shared* for as long as they use the database; a restore takes it *exclusive*, without
waiting, so it is refused while anything else holds it, and nothing opens the database
while a restore replaces it. SQLite's own locks cannot tell this: in WAL mode an idle
bridge holds none that a probe would meet.

``flock`` on a file of its own, not on the database: SQLite locks the database with POSIX
record locks, which a process loses on *every* descriptor of the file as soon as it closes
any one of them, and which NFS emulation of ``flock`` would collide with. The kernel drops
the lock with the process, so a crashed bridge leaves no stale lock; the file itself stays
(deleting a lock file races with whoever is opening it).
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path

from storage.db.errors import StorageError, StorageInUseError

__all__ = ["DatabaseLock", "lock_path"]

log = logging.getLogger(__name__)

if sys.platform != "win32":
    import fcntl


def lock_path(db_path: str | Path) -> Path:
    """The lock file of the database at ``db_path``."""
    return Path(f"{db_path}.lock")


class DatabaseLock:
    """The lock on ``<db>.lock``, held until :meth:`release` (or the process ends)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def shared(cls, db_path: str | Path) -> DatabaseLock:
        """Hold the lock shared (a bridge, a backup: any number at once). Raises
        :class:`StorageInUseError` while a restore holds it. Where the lock file cannot be
        made (a read-only folder, where no restore could write either) it holds nothing."""
        fd = _open(db_path, required=False)
        if fd is not None and not _flock(fd, exclusive=False):
            os.close(fd)
            raise StorageInUseError(
                f"database {db_path} is being restored; start again once the restore is done"
            )
        return cls(fd)

    @classmethod
    def exclusive(cls, db_path: str | Path, doing: str) -> DatabaseLock:
        """Hold the lock alone, for ``doing`` (``"restore"``). Raises
        :class:`StorageInUseError` at once if a bridge, a backup or a restore holds it."""
        fd = _open(db_path, required=True)
        assert fd is not None  # required: a descriptor or an error
        if not _flock(fd, exclusive=True):
            os.close(fd)
            raise StorageInUseError(
                f"cannot {doing} database {db_path}: it is in use (a running bridge, a backup "
                "or a restore); stop the bridge first"
            )
        return cls(fd)

    def release(self) -> None:
        """Let go of the lock. Safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its flock


def _open(db_path: str | Path, *, required: bool) -> int | None:
    """A descriptor of the lock file (created if need be); None where ``flock`` does not
    exist or, unless ``required``, where the file cannot be made."""
    if sys.platform == "win32":
        return None
    path = lock_path(db_path)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StorageError(f"cannot open the lock file {path}: {e.strerror}") from e
        try:  # made by another user (root): reading is enough to lock it
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            if required:
                raise StorageError(f"cannot create the lock file {path}: {e.strerror}") from e
            log.warning("database %s: no lock file (%s): restore cannot see it in use", db_path, e)
            return None


def _flock(fd: int, *, exclusive: bool) -> bool:
    """Take the lock without waiting; False if someone else holds it in a conflicting way."""
    if sys.platform == "win32":
        return True
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
