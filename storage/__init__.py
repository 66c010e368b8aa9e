"""SQLite storage: one connection (:class:`Database`), migrations, one repository per concern.

Knows nothing of Telegram or the platform. The aiogram FSM storage lives in
:mod:`storage.fsm` and is imported from there, so that importing ``storage`` does not
import aiogram.
"""

from storage.audit import AuditEntry, AuditRepo
from storage.chats import CHAT_KEYED_COLUMNS, Chat, ChatRepo
from storage.db import (
    BackupError,
    Database,
    Migration,
    StorageError,
    StorageInUseError,
    StorageNewerError,
    backup_database,
    from_db_time,
    restore_database,
    to_db_time,
    utcnow,
)
from storage.invites import Invite, InviteRepo, InviteStatus
from storage.roles import Grant, Role, RoleRepo
from storage.users import LANGUAGES, Language, TelegramUser, UserRepo

__all__ = [
    "CHAT_KEYED_COLUMNS",
    "LANGUAGES",
    "AuditEntry",
    "AuditRepo",
    "BackupError",
    "Chat",
    "ChatRepo",
    "Database",
    "Grant",
    "Invite",
    "InviteRepo",
    "InviteStatus",
    "Language",
    "Migration",
    "Role",
    "RoleRepo",
    "StorageError",
    "StorageInUseError",
    "StorageNewerError",
    "TelegramUser",
    "UserRepo",
    "backup_database",
    "from_db_time",
    "restore_database",
    "to_db_time",
    "utcnow",
]
