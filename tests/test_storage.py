"""Storage: the database, its migrations, and each repository, against real SQLite files."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from hypothesis import given, settings
from hypothesis import strategies as st

import storage.db
from storage import (
    CHAT_KEYED_COLUMNS,
    AuditRepo,
    ChatRepo,
    Database,
    InviteRepo,
    InviteStatus,
    Migration,
    Role,
    RoleRepo,
    StorageError,
    UserRepo,
    from_db_time,
    to_db_time,
)
from storage.db import StorageNewerError, load_migrations, pttbridge_version, split_statements
from storage.fsm import SQLiteStorage

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
LATEST = len(load_migrations())


def size_of(path: Path) -> int:
    return path.stat().st_size


def exists(path: Path) -> bool:
    return path.is_file()


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def raw_sqlite(path: Path, sql: str) -> Any:
    """Run one statement with the standard library, outside pttbridge; return the first value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(path)
    try:
        with raw:
            row = raw.execute(sql).fetchone()
        return None if row is None else row[0]
    finally:
        raw.close()


def dump_database(path: Path) -> list[str]:
    """Every schema entry and row of the database at ``path``, as SQL text."""
    raw = sqlite3.connect(path)
    try:
        return list(raw.iterdump())
    finally:
        raw.close()


@contextlib.contextmanager
def monkeypatched_version(version: str) -> Iterator[None]:
    """Storage believes it is pttbridge ``version`` (as a later or earlier release would)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(storage.db.migrations, "pttbridge_version", lambda: version)
        yield


async def assert_up_to_date_with_the_chat(
    path: Path, migrations: list[Migration] | None = None
) -> None:
    """Opened (with ``migrations``), the database is at the newest schema and still has the
    chat -100 "Dispatch" its test wrote."""
    db = await Database.open(path, migrations=migrations)
    try:
        assert await db.schema_version() == LATEST
        chat = await ChatRepo(db).get(-100)
        assert chat is not None and chat.title == "Dispatch"
    finally:
        await db.close()


async def pragma(db: Database, name: str) -> Any:
    row = await db.fetchone(f"PRAGMA {name}")
    assert row is not None
    return row[0]


async def tables(db: Database) -> set[str]:
    rows = await db.fetchall("SELECT name FROM sqlite_schema WHERE type = 'table'")
    return {row["name"] for row in rows}


# --- the database and its migrations ---------------------------------------------------


def test_migration_files_are_numbered_from_one() -> None:
    migrations = load_migrations()
    assert [m.number for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].filename == "0001_core.sql"
    assert "CREATE TABLE chats" in migrations[0].sql


def test_split_statements_respects_strings_comments_and_triggers() -> None:
    script = """
        -- a comment; with a semicolon
        CREATE TABLE a (x TEXT);
        /* block; comment */ INSERT INTO a VALUES ('semi;colon');
        CREATE TRIGGER t AFTER INSERT ON a BEGIN DELETE FROM a WHERE x = ''; END;
        SELECT 1  -- no final semicolon
    """
    statements = split_statements(script)
    assert len(statements) == 4
    assert statements[1].endswith("VALUES ('semi;colon');")
    assert statements[2].startswith("CREATE TRIGGER") and statements[2].endswith("END;")
    assert all(sqlite3.complete_statement(s) for s in statements[:3])
    assert statements[3] == "SELECT 1  -- no final semicolon"


async def test_open_creates_folder_applies_migrations_and_sets_pragmas(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        assert exists(db_path)
        assert await db.schema_version() == LATEST
        assert await pragma(db, "user_version") == LATEST
        assert await pragma(db, "journal_mode") == "wal"
        assert await pragma(db, "foreign_keys") == 1
        assert await pragma(db, "synchronous") == 1  # NORMAL
        assert await pragma(db, "busy_timeout") == storage.db.BUSY_TIMEOUT_MS
        assert {"chats", "telegram_users", "role_grants", "invites", "audit", "fsm"} <= (
            await tables(db)
        )
        await db.ping()
    finally:
        await db.close()


async def test_reopen_keeps_data_and_applies_nothing_twice(db_path: Path) -> None:
    db = await Database.open(db_path)
    await ChatRepo(db).upsert(-100, "group", "Dispatch")
    await db.close()

    # The same migrations, made to fail if run: reopening must not run them again.
    tripwire = [
        Migration(m.number, m.filename, m.sql + "\nSELECT no_such_function();")
        for m in load_migrations()
    ]
    await assert_up_to_date_with_the_chat(db_path, migrations=tripwire)


async def test_a_new_migration_upgrades_an_existing_database(db_path: Path) -> None:
    await (await Database.open(db_path)).close()
    extra = Migration(LATEST + 1, f"{LATEST + 1:04d}_notes.sql", "CREATE TABLE notes (x TEXT);")
    db = await Database.open(db_path, migrations=[*load_migrations(), extra])
    try:
        assert await db.schema_version() == LATEST + 1
        assert "notes" in await tables(db)
    finally:
        await db.close()


async def test_a_newer_schema_is_refused_with_one_clear_line(db_path: Path) -> None:
    raw_sqlite(db_path, f"PRAGMA user_version = {LATEST + 6}")
    with pytest.raises(StorageError) as caught:
        await Database.open(db_path)
    assert str(caught.value) == (
        f"{db_path} was made by a newer pttbridge (schema {LATEST + 6}), this is pttbridge "
        f"{pttbridge_version()} (schema {LATEST}): run that version or a newer one, "
        "or restore a backup made before the upgrade"
    )
    # Nothing was changed: still the newer version, and not switched to WAL.
    assert raw_sqlite(db_path, "PRAGMA user_version") == LATEST + 6
    assert raw_sqlite(db_path, "PRAGMA journal_mode") != "wal"


async def test_a_database_made_by_a_newer_release_names_both_versions(db_path: Path) -> None:
    # What a later release leaves: its migration applied, and recorded by the migrations.
    newer = Migration(LATEST + 1, f"{LATEST + 1:04d}_later.sql", "CREATE TABLE later (x);")
    with monkeypatched_version("9.8.7"):
        await (await Database.open(db_path, migrations=[*load_migrations(), newer])).close()
    with pytest.raises(StorageNewerError) as caught:
        await Database.open(db_path)
    assert str(caught.value).startswith(
        f"{db_path} was made by pttbridge 9.8.7 (schema {LATEST + 1}), "
        f"this is pttbridge {pttbridge_version()} (schema {LATEST}): "
    )
    assert "\n" not in str(caught.value)
    assert raw_sqlite(db_path, "PRAGMA user_version") == LATEST + 1


def test_the_version_is_the_installed_package_s() -> None:
    from importlib.metadata import version

    assert pttbridge_version() == version("pttbridge")


async def test_each_migration_applied_is_recorded_with_the_version_that_applied_it(
    db_path: Path,
) -> None:
    with monkeypatched_version("1.2.3"):
        await (await Database.open(db_path)).close()
    extra = Migration(LATEST + 1, f"{LATEST + 1:04d}_notes.sql", "CREATE TABLE notes (x TEXT);")
    db = await Database.open(db_path, migrations=[*load_migrations(), extra])
    try:
        rows = await db.fetchall(
            "SELECT number, filename, applied_by, applied_at FROM schema_history ORDER BY number"
        )
        assert [(r["number"], r["filename"]) for r in rows] == [
            (m.number, m.filename) for m in [*load_migrations(), extra]
        ]
        assert {r["applied_by"] for r in rows[:LATEST]} == {"1.2.3"}
        assert rows[LATEST]["applied_by"] == pttbridge_version()
        assert all(from_db_time(r["applied_at"]).tzinfo is UTC for r in rows)
    finally:
        await db.close()


async def test_a_migration_failing_after_others_leaves_the_database_as_it_was(
    db_path: Path,
) -> None:
    """Three pending migrations, the last one broken: the two before it are rolled back
    too, so the database is exactly what the previous release left (schema, rows, history)."""
    first_two = [m for m in load_migrations() if m.number <= 2]
    db = await Database.open(db_path, migrations=first_two)
    await ChatRepo(db).upsert(-100, "group", "Dispatch")
    await db.close()
    before = dump_database(db_path)

    broken = [m for m in load_migrations() if m.number <= 4]
    broken[3] = Migration(4, "0004_broken.sql", broken[3].sql + "\nINSERT INTO nowhere VALUES (1);")
    with pytest.raises(StorageError) as caught:
        await Database.open(db_path, migrations=broken)
    message = str(caught.value)
    assert "0004_broken.sql" in message and "nowhere" in message and "schema 2" in message
    assert "\n" not in message
    assert dump_database(db_path) == before
    assert raw_sqlite(db_path, "PRAGMA user_version") == 2

    await assert_up_to_date_with_the_chat(db_path)  # the real migrations then apply cleanly


async def test_a_file_that_is_not_sqlite_is_refused(db_path: Path) -> None:
    write_text(db_path, "TELEGRAM_BOT_TOKEN=oops, this is a settings file\n" * 50)
    with pytest.raises(StorageError) as caught:
        await Database.open(db_path)
    assert str(caught.value) == f"{db_path} is not an SQLite database"
    assert "\n" not in str(caught.value)


async def test_a_failing_migration_rolls_back_and_names_the_file(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await Database.open(db_path)).close()
    broken = Migration(
        LATEST + 1,
        f"{LATEST + 1:04d}_broken.sql",
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    )
    real = load_migrations()
    monkeypatch.setattr(storage.db.migrations, "load_migrations", lambda: [*real, broken])
    with pytest.raises(StorageError, match=rf"{LATEST + 1:04d}_broken\.sql") as caught:
        await Database.open(db_path)
    assert "no_such_table" in str(caught.value)
    assert "\n" not in str(caught.value)

    monkeypatch.undo()
    db = await Database.open(db_path)
    try:
        assert await db.schema_version() == LATEST
        assert "half_done" not in await tables(db)
    finally:
        await db.close()


async def test_a_failing_first_migration_leaves_an_empty_database(db_path: Path) -> None:
    broken = [Migration(1, "0001_broken.sql", "CREATE TABLE a (x); CREATE TABLE a (x);")]
    with pytest.raises(StorageError, match=re.escape("0001_broken.sql")):
        await Database.open(db_path, migrations=broken)
    db = await Database.open(db_path)  # the real migrations still apply cleanly
    try:
        assert await db.schema_version() == LATEST
        assert "a" not in await tables(db)
    finally:
        await db.close()


async def test_memory_database_works_for_tests() -> None:
    db = await Database.open(":memory:")
    try:
        assert await db.schema_version() == LATEST
    finally:
        await db.close()


async def test_close_is_idempotent_and_ping_then_fails(db: Database) -> None:
    await db.ping()
    await db.close()
    await db.close()
    assert db.closed
    with pytest.raises(StorageError, match="closed"):
        await db.ping()


# --- transactions ------------------------------------------------------------------------


async def test_concurrent_transactions_do_not_interleave(db: Database) -> None:
    await db.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
    await db.execute("INSERT INTO counter VALUES (0)")

    async def increment() -> None:
        async with db.transaction():
            row = await db.fetchone("SELECT n FROM counter")
            assert row is not None
            await asyncio.sleep(0)  # let the other coroutines try to get in
            await db.execute("UPDATE counter SET n = ?", (row["n"] + 1,))

    await asyncio.gather(*(increment() for _ in range(25)))
    assert await pragma(db, "user_version") == LATEST
    row = await db.fetchone("SELECT n FROM counter")
    assert row is not None and row["n"] == 25


async def test_a_transaction_rolls_back_when_its_block_raises(db: Database) -> None:
    chats = ChatRepo(db)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await chats.upsert(-1, "group", "gone")
            raise RuntimeError("boom")
    assert await chats.get(-1) is None
    assert not db.in_transaction


async def test_a_nested_transaction_is_a_savepoint(db: Database) -> None:
    chats = ChatRepo(db)
    async with db.transaction():
        await chats.upsert(-1, "group", "kept")
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await chats.upsert(-2, "group", "rolled back")
                raise RuntimeError("inner")
    assert await chats.get(-1) is not None
    assert await chats.get(-2) is None


async def test_a_cancelled_transaction_leaves_nothing_open(db: Database) -> None:
    entered = asyncio.Event()

    async def stuck() -> None:
        async with db.transaction():
            await ChatRepo(db).upsert(-1, "group", "never")
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.transaction():  # not blocked, not nested in a leftover transaction
        assert await ChatRepo(db).get(-1) is None


async def test_a_transaction_cancelled_at_its_begin_leaves_nothing_open(db: Database) -> None:
    # The BEGIN waits in the database thread behind other work when the task is cancelled:
    # the thread must not be left inside a transaction that nobody will end.
    loop = asyncio.get_running_loop()
    busy, gate = asyncio.Event(), threading.Event()

    def hold(_: sqlite3.Connection) -> None:
        loop.call_soon_threadsafe(busy.set)
        gate.wait()

    assert db._conn is not None
    holding = asyncio.create_task(db._conn.run(hold))
    await busy.wait()

    async def stuck() -> None:
        async with db.transaction():
            await ChatRepo(db).upsert(-1, "group", "never")

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0)  # one turn of the loop: the task queues its BEGIN, then waits
    task.cancel()
    gate.set()
    await holding
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not db.in_transaction
    async with db.transaction():  # a transaction of its own, not nested in a leftover one
        await ChatRepo(db).upsert(-2, "group", "kept")
    assert await ChatRepo(db).get(-1) is None
    assert await ChatRepo(db).get(-2) is not None


def test_storage_runs_on_the_standard_library_sqlite3_alone() -> None:
    """Issue 13 point 9: no private API of a dependency; storage imports no aiosqlite."""
    code = "import sys, storage, storage.db; print('aiosqlite' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- times ----------------------------------------------------------------------------


def test_times_are_stored_as_fixed_width_utc_text() -> None:
    shanghai = timezone(timedelta(hours=8))
    local = datetime(2026, 11, 28, 16, 0, tzinfo=shanghai)
    assert to_db_time(local) == "2026-11-28T08:00:00.000000+00:00"
    assert from_db_time(to_db_time(local)) == local
    assert from_db_time(to_db_time(local)).tzinfo == UTC
    earlier = NOW.replace(microsecond=1)
    assert to_db_time(NOW) < to_db_time(earlier)  # text order is time order
    with pytest.raises(ValueError, match="naive"):
        to_db_time(datetime(2026, 11, 28, 8, 0))


# --- chats ----------------------------------------------------------------------------


async def test_chats_upsert_get_list_and_pause(db: Database) -> None:
    chats = ChatRepo(db)
    chat = await chats.upsert(-100, "supergroup", "Dispatch", [7], now=NOW)
    assert (chat.chat_id, chat.type, chat.title, chat.thread_ids) == (
        -100,
        "supergroup",
        "Dispatch",
        (7,),
    )
    assert chat.created_at == NOW and not chat.paused

    later = NOW + timedelta(hours=1)
    chat = await chats.upsert(-100, "supergroup", "Dispatch HQ", [3, 7], now=later)
    assert chat.title == "Dispatch HQ"
    assert chat.thread_ids == (3, 7)
    assert (chat.created_at, chat.updated_at) == (NOW, later)
    chat = await chats.upsert(-100, "supergroup", "Dispatch HQ")
    assert chat.thread_ids == (3, 7)  # None adds nothing, removes nothing

    await chats.upsert(42, "private", None)
    assert [c.chat_id for c in await chats.list()] == [-100, 42]

    assert await chats.set_paused(-100, True, "bot was blocked", now=later)
    paused = await chats.get(-100)
    assert paused is not None
    assert (paused.paused, paused.paused_reason, paused.paused_at) == (
        True,
        "bot was blocked",
        later,
    )
    assert await chats.set_paused(-100, False, "ignored when resuming")
    resumed = await chats.get(-100)
    assert resumed is not None
    assert (resumed.paused, resumed.paused_reason, resumed.paused_at) == (False, None, None)
    assert not await chats.set_paused(-999, True, "unknown chat")
    assert await chats.get(-999) is None


async def test_chat_migrate_moves_the_chat_and_its_rows(db: Database) -> None:
    chats, fsm = ChatRepo(db), SQLiteStorage(db)
    old_id, new_id = -4001, -1004001
    await chats.upsert(old_id, "group", "Patrol", now=NOW)
    await chats.set_paused(old_id, True, "group chat was upgraded")
    old_key = StorageKey(bot_id=1, chat_id=old_id, user_id=5)
    await fsm.set_state(old_key, "Broadcast:text")
    await fsm.set_data(old_key, {"title": "storm"})

    moved = await chats.migrate(old_id, new_id)
    assert moved is not None
    assert (moved.chat_id, moved.title, moved.migrated_from) == (new_id, "Patrol", old_id)
    assert not moved.paused
    assert moved.created_at == NOW
    assert await chats.get(old_id) is None
    new_key = StorageKey(bot_id=1, chat_id=new_id, user_id=5)
    assert await fsm.get_state(new_key) == "Broadcast:text"
    assert await fsm.get_data(new_key) == {"title": "storm"}
    assert await fsm.get_state(old_key) is None


async def test_chat_migrate_when_the_supergroup_is_already_known(db: Database) -> None:
    chats, fsm = ChatRepo(db), SQLiteStorage(db)
    old_id, new_id = -4001, -1004001
    await chats.upsert(old_id, "group", "Patrol")
    await chats.upsert(new_id, "supergroup", "Patrol (new)", [9])
    await fsm.set_data(StorageKey(bot_id=1, chat_id=old_id, user_id=5), {"from": "old"})
    await fsm.set_data(StorageKey(bot_id=1, chat_id=new_id, user_id=5), {"from": "new"})
    await fsm.set_data(StorageKey(bot_id=1, chat_id=old_id, user_id=6), {"only": "old"})

    moved = await chats.migrate(old_id, new_id)
    assert moved is not None
    assert (moved.type, moved.title, moved.thread_ids) == ("supergroup", "Patrol (new)", (9,))
    assert moved.migrated_from == old_id
    assert [c.chat_id for c in await chats.list()] == [new_id]
    assert await fsm.get_data(StorageKey(bot_id=1, chat_id=new_id, user_id=5)) == {"from": "new"}
    assert await fsm.get_data(StorageKey(bot_id=1, chat_id=new_id, user_id=6)) == {"only": "old"}
    rows = await db.fetchall("SELECT 1 FROM fsm WHERE chat_id = ?", (old_id,))
    assert rows == []


async def test_chat_migrate_of_unknown_ids_returns_none(db: Database) -> None:
    assert await ChatRepo(db).migrate(-1, -1001) is None


async def test_every_table_keyed_by_chat_id_is_moved_by_migrate(db: Database) -> None:
    """A migration that adds a chat-keyed table must list it in CHAT_KEYED_COLUMNS."""
    keyed: set[tuple[str, str]] = set()
    for table in await tables(db) - {"chats"}:
        for column in await db.fetchall(f"PRAGMA table_info({table})"):
            if column["name"].endswith("chat_id"):
                keyed.add((table, column["name"]))
    assert keyed == set(CHAT_KEYED_COLUMNS)


# --- users ----------------------------------------------------------------------------


async def test_users_are_remembered_with_their_language(db: Database) -> None:
    users = UserRepo(db)
    await users.seen(5, "zhangsan", "张三", "zh-hans", now=NOW)
    user = await users.get(5)
    assert user is not None
    assert (user.username, user.full_name, user.language_code, user.language) == (
        "zhangsan",
        "张三",
        "zh-hans",
        None,
    )
    assert user.first_seen == user.last_seen == NOW
    assert await users.get_language(5) is None

    await users.set_language(5, "en")
    later = NOW + timedelta(days=1)
    await users.seen(5, "zs_new", "张三", "zh-hans", now=later)
    user = await users.get(5)
    assert user is not None
    assert (user.username, user.language, user.first_seen, user.last_seen) == (
        "zs_new",
        "en",
        NOW,
        later,
    )
    assert await users.get_language(5) == "en"
    found = await users.find_by_username("@ZS_NEW")
    assert found is not None and found.user_id == 5
    assert await users.find_by_username("zhangsan") is None

    await users.set_language(5, None)
    assert await users.get_language(5) is None
    with pytest.raises(ValueError, match="unsupported language"):
        await users.set_language(5, "fr")  # type: ignore[arg-type]


async def test_language_of_an_unseen_user(db: Database) -> None:
    users = UserRepo(db)
    assert await users.get_language(77) is None
    assert await users.get(77) is None
    await users.set_language(77, "zh")
    assert await users.get_language(77) == "zh"


# --- roles ----------------------------------------------------------------------------


def test_roles_are_ordered_and_parsed() -> None:
    assert Role.ADMIN > Role.SUPERVISOR > Role.VIEWER > Role.NONE
    assert Role.parse("admin") is Role.ADMIN
    assert Role.parse(" Supervisor ") is Role.SUPERVISOR
    assert Role.parse("none") is Role.NONE
    assert Role.VIEWER.label == "viewer"
    with pytest.raises(ValueError, match="unknown role 'owner'"):
        Role.parse("owner")


async def test_role_grants_set_get_list_and_remove(db: Database) -> None:
    roles = RoleRepo(db)
    assert await roles.get(5) is None
    grant = await roles.set(5, Role.SUPERVISOR, "266", granted_by=1, now=NOW)
    assert grant is not None
    assert await roles.get(5) == grant
    assert (grant.role, grant.org_id, grant.granted_by, grant.granted_at) == (
        Role.SUPERVISOR,
        "266",
        1,
        NOW,
    )
    await roles.set(6, Role.ADMIN, None, granted_by=1)
    await roles.set(7, Role.VIEWER)
    assert [(g.user_id, g.role) for g in await roles.list()] == [
        (6, Role.ADMIN),
        (5, Role.SUPERVISOR),
        (7, Role.VIEWER),
    ]

    regrant = await roles.set(5, Role.VIEWER, None, granted_by=6)
    assert await roles.get(5) == regrant
    assert regrant is not None and regrant.org_id is None

    assert await roles.set(5, Role.NONE, "266", granted_by=6) is None
    assert await roles.get(5) is None
    assert [g.user_id for g in await roles.list()] == [6, 7]


# --- invites --------------------------------------------------------------------------


async def test_invite_codes_fit_a_deep_link_and_are_unique(db: Database) -> None:
    invites = InviteRepo(db)
    codes = {await invites.create(Role.VIEWER, None, 1, NOW) for _ in range(50)}
    assert len(codes) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16,32}", code) for code in codes)
    with pytest.raises(ValueError):
        await invites.create(Role.NONE, None, 1, NOW)
    with pytest.raises(ValueError):
        await invites.create(Role.VIEWER, None, 1, NOW, ttl=timedelta(0))


async def test_an_invite_is_redeemed_once(db: Database) -> None:
    invites = InviteRepo(db)
    code = await invites.create(Role.SUPERVISOR, "266", 1, NOW)
    assert await invites.status(code, NOW) is InviteStatus.ACTIVE
    later = NOW + timedelta(hours=1)
    invite = await invites.redeem(code, 42, later)
    assert invite is not None
    assert (invite.role, invite.org_id, invite.created_by) == (Role.SUPERVISOR, "266", 1)
    assert (invite.used_by, invite.used_at, invite.expires_at) == (42, later, NOW + timedelta(7))
    assert await invites.redeem(code, 43, later) is None
    assert await invites.redeem(code, 42, later) is None
    assert await invites.status(code, later) is InviteStatus.USED
    assert not await invites.revoke(code)
    stored = await invites.get(code)
    assert stored is not None and stored.used_by == 42


async def test_an_expired_or_unknown_invite_is_refused(db: Database) -> None:
    invites = InviteRepo(db)
    code = await invites.create(Role.VIEWER, None, 1, NOW, ttl=timedelta(hours=1))
    expiry = NOW + timedelta(hours=1)
    assert await invites.redeem(code, 42, expiry) is None
    assert await invites.status(code, expiry) is InviteStatus.EXPIRED
    assert await invites.redeem("no-such-code", 42, NOW) is None
    assert await invites.status("no-such-code", NOW) is InviteStatus.UNKNOWN
    # Still usable a moment before it expires.
    assert await invites.redeem(code, 42, expiry - timedelta(microseconds=1)) is not None


async def test_concurrent_redeems_on_one_connection_have_one_winner(db: Database) -> None:
    invites = InviteRepo(db)
    code = await invites.create(Role.ADMIN, None, 1, NOW)
    results = await asyncio.gather(*(invites.redeem(code, uid, NOW) for uid in range(10, 20)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1


async def test_concurrent_redeems_from_two_processes_have_one_winner(db_path: Path) -> None:
    first, second = await Database.open(db_path), await Database.open(db_path)
    try:
        code = await InviteRepo(first).create(Role.ADMIN, None, 1, NOW)
        results = await asyncio.gather(
            *(InviteRepo(conn).redeem(code, uid, NOW) for uid, conn in [(10, first), (20, second)])
        )
        assert sum(r is not None for r in results) == 1
    finally:
        await first.close()
        await second.close()


async def test_invite_redeem_and_grant_are_one_transaction(db: Database) -> None:
    invites, roles = InviteRepo(db), RoleRepo(db)
    code = await invites.create(Role.SUPERVISOR, "266", 1, NOW)
    with pytest.raises(RuntimeError):
        async with db.transaction():
            invite = await invites.redeem(code, 42, NOW)
            assert invite is not None
            raise RuntimeError("crashed before the grant")
    assert await invites.status(code, NOW) is InviteStatus.ACTIVE
    async with db.transaction():
        invite = await invites.redeem(code, 42, NOW)
        assert invite is not None
        await roles.set(42, invite.role, invite.org_id, granted_by=invite.created_by)
    grant = await roles.get(42)
    assert grant is not None and grant.role is Role.SUPERVISOR


async def test_active_invites_and_revoke(db: Database) -> None:
    invites = InviteRepo(db)
    used = await invites.create(Role.VIEWER, None, 1, NOW)
    await invites.redeem(used, 42, NOW)
    await invites.create(Role.VIEWER, None, 1, NOW - timedelta(days=8))  # expired
    active = await invites.create(Role.ADMIN, "7", 1, NOW)
    revoked = await invites.create(Role.ADMIN, None, 1, NOW)
    assert await invites.revoke(revoked)
    assert not await invites.revoke(revoked)
    assert [i.code for i in await invites.list_active(NOW)] == [active]


# --- audit ----------------------------------------------------------------------------


async def test_audit_latest_and_since(db: Database) -> None:
    audit = AuditRepo(db)
    for minute in range(5):
        await audit.add(
            1,
            "role",
            f"user:{minute}",
            {"role": "viewer", "n": minute},
            "ok",
            NOW + timedelta(minutes=minute),
        )
    await audit.add(None, "report", None, {}, "sent", NOW + timedelta(minutes=5))

    latest = await audit.latest(3)
    assert [e.at for e in latest] == [NOW + timedelta(minutes=m) for m in (5, 4, 3)]
    assert (latest[0].actor_id, latest[0].target, latest[0].args) == (None, None, {})
    assert latest[1].args == {"role": "viewer", "n": 4}
    assert await audit.latest(0) == []

    since = await audit.all_since(NOW + timedelta(minutes=3))
    assert [e.target for e in since] == ["user:3", "user:4", None]
    assert await audit.prune(NOW + timedelta(minutes=2)) == 2
    assert len(await audit.latest(100)) == 4


async def test_audit_stores_what_json_has_no_type_for_as_text(db: Database) -> None:
    audit = AuditRepo(db)
    args = {"from": NOW, "status": InviteStatus.USED, "role": Role.ADMIN}
    await audit.add(1, "track", "user:5", args, "ok", NOW)
    (entry,) = await audit.latest(1)
    assert entry.args == {"from": str(NOW), "status": str(InviteStatus.USED), "role": 3}


# --- FSM ------------------------------------------------------------------------------


class Broadcast(StatesGroup):
    targets = State()
    text = State()


KEY = StorageKey(bot_id=1, chat_id=-100, user_id=5)


async def test_fsm_state_and_data(db: Database) -> None:
    fsm = SQLiteStorage(db)
    assert await fsm.get_state(KEY) is None
    assert await fsm.get_data(KEY) == {}
    await fsm.set_state(KEY, Broadcast.targets)
    assert await fsm.get_state(KEY) == "Broadcast:targets"
    await fsm.set_state(KEY, "custom")
    assert await fsm.get_state(KEY) == "custom"

    await fsm.set_data(KEY, {"orgs": [266], "title": "台风"})
    data = await fsm.get_data(KEY)
    data["mutated"] = True  # a copy: the stored data is unchanged
    assert await fsm.get_data(KEY) == {"orgs": [266], "title": "台风"}
    assert await fsm.update_data(KEY, {"text": "hi"}) == {
        "orgs": [266],
        "title": "台风",
        "text": "hi",
    }
    assert await fsm.get_value(KEY, "text") == "hi"
    assert await fsm.get_value(KEY, "missing", 3) == 3
    assert await fsm.get_state(KEY) == "custom"

    await fsm.set_state(KEY, None)
    await fsm.set_data(KEY, {})
    assert await db.fetchall("SELECT * FROM fsm") == []  # a finished dialog leaves nothing
    await fsm.close()
    assert not db.closed


async def test_fsm_keys_are_distinct_by_every_field(db: Database) -> None:
    fsm = SQLiteStorage(db)
    keys = [
        KEY,
        StorageKey(bot_id=2, chat_id=-100, user_id=5),
        StorageKey(bot_id=1, chat_id=-101, user_id=5),
        StorageKey(bot_id=1, chat_id=-100, user_id=6),
        StorageKey(bot_id=1, chat_id=-100, user_id=5, thread_id=9),
        StorageKey(bot_id=1, chat_id=-100, user_id=5, business_connection_id="bc"),
        StorageKey(bot_id=1, chat_id=-100, user_id=5, destiny="other"),
    ]
    for i, key in enumerate(keys):
        await fsm.set_state(key, f"s{i}")
        await fsm.set_data(key, {"i": i})
    for i, key in enumerate(keys):
        assert await fsm.get_state(key) == f"s{i}"
        assert await fsm.get_data(key) == {"i": i}


async def test_fsm_refuses_data_that_would_not_survive(db: Database) -> None:
    fsm = SQLiteStorage(db)
    with pytest.raises(DataNotDictLikeError):
        await fsm.set_data(KEY, [("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JSON"):
        await fsm.set_data(KEY, {"when": NOW})
    with pytest.raises(TypeError, match="JSON"):
        await fsm.set_data(KEY, {"x": float("nan")})
    assert await fsm.get_data(KEY) == {}


async def test_fsm_dialog_survives_a_restart(db_path: Path) -> None:
    db = await Database.open(db_path)
    fsm = SQLiteStorage(db)
    await fsm.set_state(KEY, Broadcast.text)
    await fsm.set_data(KEY, {"targets": {"orgs": [266, 267]}, "title": "注意"})
    await fsm.close()
    await db.close()

    db = await Database.open(db_path)
    try:
        fsm = SQLiteStorage(db)
        assert await fsm.get_state(KEY) == Broadcast.text.state
        assert await fsm.get_data(KEY) == {"targets": {"orgs": [266, 267]}, "title": "注意"}
    finally:
        await db.close()


# --- property: JSON-able values round-trip ----------------------------------------------

# Any text, lone surrogates included: they come from platform JSON like "\ud800".
text = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
json_dicts = st.dictionaries(text, json_values, max_size=6)


@settings(max_examples=60, deadline=None)
@given(data=json_dicts, args=json_dicts)
async def test_json_values_round_trip_through_fsm_and_audit(
    data: dict[str, Any], args: dict[str, Any]
) -> None:
    db = await Database.open(":memory:")
    try:
        fsm = SQLiteStorage(db)
        await fsm.set_data(KEY, data)
        assert await fsm.get_data(KEY) == data
        audit = AuditRepo(db)
        await audit.add(1, "test", None, args, "ok", NOW)
        (entry,) = await audit.latest(1)
        assert entry.args == args
    finally:
        await db.close()


async def test_subscribers_are_cached_until_this_process_changes_who_receives(
    db: Database,
) -> None:
    from storage.subscriptions import SubscriptionRepo

    relay_view, admin_view, chats = SubscriptionRepo(db), SubscriptionRepo(db), ChatRepo(db)
    await admin_view.set(-100, 0, "incidents")
    assert [s.chat_id for s in await relay_view.of_kind("incidents")] == [-100]
    await admin_view.set(-200, 0, "incidents")  # another repo instance writes
    assert [s.chat_id for s in await relay_view.of_kind("incidents")] == [-200, -100]
    await chats.upsert(-100, "group", "Dispatch")
    await chats.set_paused(-100, True, "blocked")
    assert [s.chat_id for s in await relay_view.of_kind("incidents")] == [-200]
    await chats.set_paused(-100, False)
    await chats.migrate(-100, -1000100)
    assert [s.chat_id for s in await relay_view.of_kind("incidents")] == [-1000100, -200]
    await admin_view.remove(-200, 0)
    assert [s.chat_id for s in await relay_view.of_kind("incidents")] == [-1000100]
    # A copy handed out is the caller's: changing it does not change the cache.
    (await relay_view.of_kind("incidents")).clear()
    assert len(await relay_view.of_kind("incidents")) == 1


async def test_run_in_transaction_commits_in_one_go_or_not_at_all(db: Database) -> None:
    def both(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO mutes (chat_id, until, set_at) VALUES (-1, 'x', 'x')")
        return conn.execute("SELECT count(*) FROM mutes").fetchone()[0]

    assert await db.run_in_transaction(both) == 1

    def half(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO mutes (chat_id, until, set_at) VALUES (-2, 'x', 'x')")
        raise RuntimeError("half way")

    with pytest.raises(RuntimeError):
        await db.run_in_transaction(half)
    row = await db.fetchone("SELECT count(*) AS n FROM mutes")
    assert row is not None and row["n"] == 1
    assert not db.in_transaction
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await db.run_in_transaction(both)  # would wait for itself


async def test_the_wal_is_checkpointed_off_the_commit_path(db_path: Path) -> None:
    from storage.db import AUTOCHECKPOINT_PAGES, BUSY_TIMEOUT_MS, CHECKPOINT_BYTES, checkpoint

    db = await Database.open(db_path)
    try:
        row = await db.fetchone("PRAGMA wal_autocheckpoint")
        assert row is not None and row[0] == AUTOCHECKPOINT_PAGES
        blob = "x" * 100_000
        rows = [(-i, blob, "x") for i in range(1, 60)]  # ~6 MB, all in the WAL
        await db.executemany("INSERT INTO mutes (chat_id, until, set_at) VALUES (?, ?, ?)", rows)
        before = size_of(db_path)
        assert size_of(Path(f"{db_path}-wal")) > CHECKPOINT_BYTES
        checkpoint(
            str(db_path), BUSY_TIMEOUT_MS / 1000
        )  # what the background task runs, from its own connection
        assert size_of(db_path) > before + CHECKPOINT_BYTES  # copied back
        row = await db.fetchone("SELECT count(*) AS n FROM mutes")
        assert row is not None and row["n"] == 59
        # The next write starts the WAL over, and the file is cut back to the limit.
        await db.execute("DELETE FROM mutes WHERE chat_id = -1")
        assert size_of(Path(f"{db_path}-wal")) <= CHECKPOINT_BYTES
    finally:
        await db.close()
    assert db._checkpointer is None
