"""The errors storage raises for the operator: one printable line each."""

from __future__ import annotations

__all__ = ["StorageError", "StorageReadOnlyError"]


class StorageError(Exception):
    """A problem with the database the operator must fix; the message is one printable line."""


class StorageReadOnlyError(StorageError):
    """The database answers reads but refuses writes (a read-only file, folder or mount)."""
