"""The errors storage raises for the operator: one printable line each."""

from __future__ import annotations

__all__ = [
    "BackupError",
    "StorageError",
    "StorageInUseError",
    "StorageNewerError",
    "StorageReadOnlyError",
]


class StorageError(Exception):
    """A problem with the database the operator must fix; the message is one printable line."""


class StorageReadOnlyError(StorageError):
    """The database answers reads but refuses writes (a read-only file, folder or mount)."""


class StorageNewerError(StorageError):
    """The database was made by a newer pttbridge: this one must not touch it."""


class StorageInUseError(StorageError):
    """The database is in use (a running bridge, a backup) or being restored, so what was
    asked must wait until that ends."""


class BackupError(StorageError):
    """A backup or a restore refused to go ahead, or failed and left nothing behind."""
