"""Upgrading: a database the first release wrote, opened by today's code, loses nothing; a
database a newer release wrote stops start-up with one line.

``fixtures_db/pttbridge-0.1.0.db`` was written by pttbridge 0.1.0's own storage code
(schema 1; see ``fixtures_db/make_first_release.py``). Tests upgrade a copy of it.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from test_cli_run import BOT_TOKEN, child_env, run_bot

import storage.db.migrations
from bot.sandbox.platform import SandboxPlatform
from storage import (
    AuditRepo,
    ChatRepo,
    Database,
    InviteRepo,
    InviteStatus,
    Migration,
    Role,
    RoleRepo,
    UserRepo,
)
from storage.db import load_migrations, pttbridge_version, split_statements
from storage.fsm import SQLiteStorage

FIRST_RELEASE = Path(__file__).parent / "fixtures_db" / "pttbridge-0.1.0.db"
LATEST = len(load_migrations())
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)

Rows = dict[str, list[dict[str, Any]]]


def copy_of_first_release(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "pttbridge.db"
    path.parent.mkdir()
    shutil.copyfile(FIRST_RELEASE, path)
    return path


def connect(path: Path | str) -> sqlite3.Connection:
    conn = sqlite3.connect(path if path == ":memory:" else f"file:{path}?mode=rw", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def every_row(path: Path) -> Rows:
    """Each table's rows (every column), in primary-key order."""
    conn = connect(path)
    try:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            t: [dict(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY {_order(conn, t)}")]
            for t in tables
        }
    finally:
        conn.close()


def _order(conn: sqlite3.Connection, table: str) -> str:
    info = conn.execute("SELECT name, pk FROM pragma_table_info(?)", (table,)).fetchall()
    keys = sorted((r["pk"], r["name"]) for r in info if r["pk"])
    return ", ".join(name for _, name in keys) or "rowid"


def schema_sql(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return sorted(
        (str(r[0]), str(r[1]), str(r[2]))
        for r in conn.execute(
            "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name"
        )
    )


def pragma_rows(path: Path, pragma: str) -> list[tuple[Any, ...]]:
    conn = connect(path)
    try:
        return [tuple(r) for r in conn.execute(f"PRAGMA {pragma}")]
    finally:
        conn.close()


def test_the_fixture_is_what_the_first_migration_makes() -> None:
    """Released migrations are never edited: the schema 0001_core.sql makes today is the one
    the first release wrote (else every operator's database would differ from new ones)."""
    fixture, fresh = connect(FIRST_RELEASE), connect(":memory:")
    try:
        for statement in split_statements(load_migrations()[0].sql):
            fresh.execute(statement)
        assert fixture.execute("PRAGMA user_version").fetchone()[0] == 1
        assert schema_sql(fixture) == schema_sql(fresh)
    finally:
        fixture.close()
        fresh.close()


async def test_upgrading_the_first_release_s_database_keeps_every_row(tmp_path: Path) -> None:
    path = await asyncio.to_thread(copy_of_first_release, tmp_path)
    before = await asyncio.to_thread(every_row, path)
    # The fixture has rows in every table of schema 1.
    assert {t: len(rows) for t, rows in before.items()} == {
        "chats": 4,
        "telegram_users": 3,
        "role_grants": 2,
        "invites": 2,
        "audit": 4,
        "fsm": 2,
    }

    db = await Database.open(path)
    try:
        assert await db.schema_version() == LATEST
        history = await db.fetchall("SELECT number, applied_by FROM schema_history")
    finally:
        await db.close()

    after = await asyncio.to_thread(every_row, path)
    for table, rows in before.items():
        # Table by table, row by row: every value as it was (columns added later have their
        # defaults; none of schema 1's tables was given one so far, so rows are equal).
        assert table in after, f"table {table} is gone"
        columns = list(rows[0]) if rows else []
        assert [{c: r[c] for c in columns} for r in after[table]] == rows, table
    # The migrations this upgrade applied are recorded as applied by this version.
    assert [(r["number"], r["applied_by"]) for r in history] == [
        (n, pttbridge_version()) for n in range(2, LATEST + 1)
    ]
    assert await asyncio.to_thread(pragma_rows, path, "integrity_check") == [("ok",)]
    assert await asyncio.to_thread(pragma_rows, path, "foreign_key_check") == []


async def test_today_s_code_reads_what_the_first_release_wrote(tmp_path: Path) -> None:
    """The same data through today's repositories: every value means what it meant."""
    path = await asyncio.to_thread(copy_of_first_release, tmp_path)
    db = await Database.open(path)
    try:
        chats = ChatRepo(db)
        dispatch = await chats.get(-1001)
        assert dispatch is not None
        assert (dispatch.type, dispatch.title, dispatch.thread_ids) == (
            "supergroup",
            "调度中心 Dispatch",
            (3, 7, 12),
        )
        night = await chats.get(-2002)
        assert night is not None and night.title == "Night shift <b>&amp;</b>"
        assert night.paused and night.paused_reason == "bot was removed"
        assert await chats.get(-3003) is None  # migrated to its supergroup
        upgraded = await chats.get(-1003003)
        assert upgraded is not None and upgraded.migrated_from == -3003
        assert upgraded.created_at == T0 + timedelta(minutes=4)

        users = UserRepo(db)
        zhang = await users.get(42)
        assert zhang is not None
        assert (zhang.username, zhang.full_name, zhang.last_seen) == (
            "zhang_wei",
            "张伟 (调度)",
            T0 + timedelta(minutes=8),
        )
        assert await users.get_language(43) == "zh"
        li = await users.get(43)
        assert li is not None and li.full_name == "Li Na 🚓" and li.username is None

        roles = RoleRepo(db)
        admin, supervisor = await roles.get(42), await roles.get(43)
        assert admin is not None and (admin.role, admin.org_id) == (Role.ADMIN, None)
        assert supervisor is not None
        assert (supervisor.role, supervisor.org_id, supervisor.granted_by) == (
            Role.SUPERVISOR,
            "266",
            42,
        )
        assert await roles.get(44) is None  # granted, then taken away

        invites = InviteRepo(db)
        active = await invites.list_active(T0 + timedelta(days=1))
        assert [(i.role, i.org_id, i.created_by) for i in active] == [(Role.VIEWER, None, 42)]
        assert await invites.status(active[0].code, T0 + timedelta(days=29)) is (
            InviteStatus.ACTIVE
        )
        assert await invites.status(active[0].code, T0 + timedelta(days=31)) is not (
            InviteStatus.ACTIVE
        )

        entries = await AuditRepo(db).latest(10)
        by_action = {e.action: e for e in entries}
        assert len(entries) == 4
        assert by_action["role"].args == {"role": "supervisor", "org": "266"}
        assert by_action["invite"].args == {
            "when": "2026-11-28 08:01:00+00:00",
            "names": ["张伟", 'a"b'],
        }
        assert by_action["chat-paused"].actor_id is None
        assert by_action["deluser"].result == "platform refused: 403 forbidden"

        fsm = SQLiteStorage(db)
        key = StorageKey(bot_id=123456, chat_id=42, user_id=42)
        assert await fsm.get_state(key) == "Broadcast:confirm"
        assert await fsm.get_data(key) == {
            "text": "全体注意：明早 8 点集合",
            "groups": [1, 2],
            "n": 1.5,
        }
        topic = StorageKey(bot_id=123456, chat_id=-1001, user_id=43, thread_id=7)
        assert await fsm.get_state(topic) == "Register:rows"

        # And the upgraded database takes today's writes.
        await chats.upsert(-1001, "supergroup", "调度中心", [15])
        again = await chats.get(-1001)
        assert again is not None and again.thread_ids == (3, 7, 12, 15)
    finally:
        await db.close()


# --- a database from a newer release -----------------------------------------------------


def made_by_a_later_release(path: Path, version: str) -> None:
    """What pttbridge ``version``, with one migration more than this one, leaves."""
    later = Migration(LATEST + 1, f"{LATEST + 1:04d}_later.sql", "CREATE TABLE later (x);")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(storage.db.migrations, "pttbridge_version", lambda: version)

        async def make() -> None:
            await (await Database.open(path, migrations=[*load_migrations(), later])).close()

        asyncio.run(make())


async def test_run_stops_with_one_line_on_a_database_of_a_newer_release(
    sandbox: SandboxPlatform, tmp_path: Path
) -> None:
    db_path = tmp_path / "bridge.db"
    await asyncio.to_thread(made_by_a_later_release, db_path, "0.9.0")
    before = await asyncio.to_thread(every_row, db_path)
    env = child_env(
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_BASE="http://127.0.0.1:9",  # never reached: the database comes first
        PLATFORM_BASE_URL=sandbox.url,
        PLATFORM_TOKEN=sandbox.token,
        PLATFORM_CALLBACK_TOKEN="cb",
        BRIDGE_HTTP_PORT="0",
        BRIDGE_DB_PATH=str(db_path),
    )
    code, out, err = await run_bot(env, tmp_path)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    [line] = [x for x in err.splitlines() if x.startswith("pttbridge: ")]
    assert line == (
        f"pttbridge: BRIDGE_DB_PATH: {db_path} was made by pttbridge 0.9.0 "
        f"(schema {LATEST + 1}), this is pttbridge {pttbridge_version()} (schema {LATEST}): "
        "run that version or a newer one, or restore a backup made before the upgrade"
    )
    # Not touched: the newer release finds its database as it left it.
    assert await asyncio.to_thread(every_row, db_path) == before
    assert await asyncio.to_thread(pragma_rows, db_path, "user_version") == [(LATEST + 1,)]
