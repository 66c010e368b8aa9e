"""Make ``pttbridge-0.1.0.db``: a database written by the first released storage code
(pttbridge 0.1.0, commit 3d81bf3, schema 1), through that code's own repositories.

Run it with that release's ``storage`` package first on the path, never today's::

    git archive 3d81bf3 storage | tar -x -C /tmp/pttbridge-0.1.0
    PYTHONPATH=/tmp/pttbridge-0.1.0 .venv/bin/python tests/fixtures_db/make_first_release.py \\
        tests/fixtures_db/pttbridge-0.1.0.db

The file is committed, and tests/test_upgrade.py upgrades a copy of it with today's code.
Its values are the ones test_upgrade.py expects; change both together, or better, never
(this is what an operator's database looks like).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogram.fsm.storage.base import StorageKey

import storage
from storage import AuditRepo, ChatRepo, Database, InviteRepo, Role, RoleRepo, UserRepo
from storage.fsm import SQLiteStorage

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def fill(path: Path) -> None:
    db = await Database.open(path)
    assert await db.schema_version() == 1, "run with the 0.1.0 storage package (see above)"
    chats, users, roles = ChatRepo(db), UserRepo(db), RoleRepo(db)
    invites, audit = InviteRepo(db), AuditRepo(db)

    await chats.upsert(-1001, "supergroup", "调度中心 Dispatch", [7, 3], now=at(0))
    await chats.upsert(-1001, "supergroup", "调度中心 Dispatch", [12], now=at(5))
    await chats.upsert(-2002, "group", "Night shift <b>&amp;</b>", now=at(1))
    await chats.set_paused(-2002, True, "bot was removed", now=at(2))
    await chats.upsert(-3003, "group", "Old group", now=at(3))
    await chats.upsert(-1003003, "supergroup", "Old group, upgraded", now=at(4))
    await chats.migrate(-3003, -1003003, now=at(6))
    await chats.upsert(42, "private", None, now=at(7))

    await users.seen(42, "zhang_wei", "张伟", "zh-hans", now=at(0))
    await users.seen(43, None, "Li Na 🚓", "en", now=at(1))
    await users.seen(44, "Ops_Lead", "Ops Lead", None, now=at(2))
    await users.set_language(43, "zh", now=at(3))
    await users.seen(42, "zhang_wei", "张伟 (调度)", "zh-hans", now=at(8))

    await roles.set(42, Role.ADMIN, None, None, now=at(0))
    await roles.set(43, Role.SUPERVISOR, "266", 42, now=at(4))
    await roles.set(44, Role.VIEWER, "267", 42, now=at(5))
    await roles.set(44, Role.NONE, None, 42, now=at(6))

    used = await invites.create(Role.SUPERVISOR, "266", 42, at(1))
    await invites.redeem(used, 43, at(4))
    await invites.create(Role.VIEWER, None, 42, at(2), ttl=timedelta(days=30))
    revoked = await invites.create(Role.ADMIN, None, 42, at(3))
    await invites.revoke(revoked)

    await audit.add(42, "role", "43", {"role": "supervisor", "org": "266"}, "ok", at(4))
    await audit.add(None, "chat-paused", "-2002", {"reason": "bot was removed"}, "ok", at(2))
    await audit.add(42, "invite", None, {"when": at(1), "names": ["张伟", 'a"b']}, "ok", at(1))
    await audit.add(43, "deluser", "u1001", {}, "platform refused: 403 forbidden", at(9))

    fsm = SQLiteStorage(db, clock=lambda: at(10))
    key = StorageKey(bot_id=123456, chat_id=42, user_id=42)
    await fsm.set_state(key, "Broadcast:confirm")
    await fsm.set_data(key, {"text": "全体注意：明早 8 点集合", "groups": [1, 2], "n": 1.5})
    topic = StorageKey(bot_id=123456, chat_id=-1001, user_id=43, thread_id=7)
    await fsm.set_state(topic, "Register:rows")
    await db.close()


def main() -> None:
    path = Path(sys.argv[1])
    path.unlink(missing_ok=True)
    print("storage from", Path(storage.__file__).parent, file=sys.stderr)
    asyncio.run(fill(path))
    conn = sqlite3.connect(path, isolation_level=None)  # one small self-contained file
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()


if __name__ == "__main__":
    main()
