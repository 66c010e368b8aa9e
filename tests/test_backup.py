"""Backing up the live database and restoring a backup (``pttbridge backup`` / ``restore``),
against real SQLite files, with a bridge's Database open and writing."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import (
    AuditRepo,
    BackupError,
    ChatRepo,
    Database,
    Migration,
    StorageError,
    StorageInUseError,
    backup_database,
    restore_database,
)
from storage.db import DatabaseLock, load_migrations, pttbridge_version

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
LATEST = len(load_migrations())


def read(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` on the file at ``path``, read with the standard library alone (which
    cleans up the WAL files it makes beside a WAL database, as read-only would not)."""
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def audit_ids(path: Path) -> list[int]:
    return [int(str(row[0])) for row in read(path, "SELECT id FROM audit ORDER BY id")]


def read_bytes(path: Path) -> bytes:
    return path.read_bytes()


def write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def size(path: Path) -> int:
    return path.stat().st_size


def folder_listing(path: Path) -> list[str]:
    """The names in the folder ``path`` is in."""
    return sorted(p.name for p in path.parent.iterdir())


async def write_audit(db: Database, n: int, action: str = "before") -> list[int]:
    audit = AuditRepo(db)
    return [await audit.add(1, action, str(i), {"i": i}, "ok", NOW) for i in range(n)]


async def make_database(path: Path, title: str) -> None:
    """A database at ``path`` holding the chat -100 named ``title``, closed."""
    db = await Database.open(path)
    try:
        await ChatRepo(db).upsert(-100, "group", title)
    finally:
        await db.close()


async def live_and_backup(db_path: Path, tmp_path: Path) -> Path:
    """A database at ``db_path`` with the chat -100 "Live", and a backup (returned) where
    that chat is "From the backup"."""
    await make_database(db_path, "Live")
    backup = tmp_path / "backup.db"
    await make_database(backup, "From the backup")
    return backup


def chat_title(path: Path) -> str:
    [(title,)] = read(path, "SELECT title FROM chats WHERE chat_id = -100")
    return str(title)


# --- backup ------------------------------------------------------------------------------


async def test_a_backup_while_the_bridge_writes_has_what_was_committed_before_it(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    committed = await write_audit(db, 50)
    stop = asyncio.Event()
    written: list[int] = []

    async def keep_writing() -> None:  # the bridge at work, through its own Database
        audit = AuditRepo(db)
        while not stop.is_set():
            written.append(await audit.add(2, "during", None, {}, "ok", NOW))

    writer = asyncio.create_task(keep_writing())
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    try:
        await asyncio.to_thread(backup_database, str(db_path), str(dest))
        await write_audit(db, 1, "after")  # the bridge still writes after the backup
    finally:
        stop.set()
        await writer

    assert read(dest, "PRAGMA integrity_check") == [("ok",)]
    assert read(dest, "PRAGMA journal_mode") == [("delete",)]  # one file, no WAL beside it
    assert read(dest, "PRAGMA user_version") == [(LATEST,)]
    ids = audit_ids(dest)
    assert ids[: len(committed)] == committed
    # One snapshot: the rows written meanwhile are a prefix of what the bridge wrote, in
    # order with no gap, and nothing from after the backup.
    assert ids[len(committed) :] == written[: len(ids) - len(committed)]
    assert not read(dest, "SELECT 1 FROM audit WHERE action = 'after'")
    assert folder_listing(dest) == ["copy.db"]  # no temporary file left behind
    # The copy is a database a bridge opens.
    copy = await Database.open(dest)
    try:
        assert len(await AuditRepo(copy).latest(1000)) == len(ids)
    finally:
        await copy.close()


async def test_a_backup_does_not_wait_for_an_open_transaction_nor_copy_it(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    committed = await write_audit(db, 3)
    dest = tmp_path / "copy.db"
    async with db.transaction():  # the bridge holds the write lock, mid-transaction
        await write_audit(db, 2, "uncommitted")
        await asyncio.to_thread(backup_database, str(db_path), str(dest))
    assert audit_ids(dest) == committed
    assert len(audit_ids(db_path)) == 5  # and the bridge's transaction committed after


async def test_a_backup_refuses_to_overwrite_unless_told(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    await write_audit(db, 2)
    dest = tmp_path / "copy.db"
    write_bytes(dest, b"an older backup, or anything else")
    with pytest.raises(BackupError) as caught:
        backup_database(str(db_path), str(dest))
    assert (
        str(caught.value) == f"{dest} already exists: name another file, or overwrite it (--force)"
    )
    assert read_bytes(dest) == b"an older backup, or anything else"
    assert folder_listing(dest) == ["copy.db", "data"]

    backup_database(str(db_path), str(dest), overwrite=True)
    assert len(audit_ids(dest)) == 2


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no database", "no database at {db}"),
        ("a folder", "{dest} is a folder: name the backup file (e.g. {dest}/pttbridge.db)"),
        ("the database itself", "{dest} is the database itself: name another file"),
        ("no such folder", "cannot write in {dest_folder}: No such file or directory"),
        ("not SQLite", "{db} is not an SQLite database"),
    ],
)
async def test_a_backup_that_cannot_be_made_says_why_in_one_line(
    tmp_path: Path, case: str, expected: str
) -> None:
    db, dest = tmp_path / "pttbridge.db", tmp_path / "copy.db"
    if case != "no database":
        await make_database(db, "Dispatch")
    if case == "a folder":
        dest.mkdir()
    elif case == "the database itself":
        dest = db
    elif case == "no such folder":
        dest = tmp_path / "missing" / "copy.db"
    elif case == "not SQLite":
        db.write_text("TELEGRAM_BOT_TOKEN=not a database\n" * 100)
    before = folder_listing(db)
    with pytest.raises(BackupError) as caught:
        backup_database(str(db), str(dest))
    assert str(caught.value) == expected.format(db=db, dest=dest, dest_folder=dest.parent)
    assert folder_listing(db) == before


# --- restore -----------------------------------------------------------------------------


async def test_restore_is_refused_while_the_bridge_has_the_database_open(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    await ChatRepo(db).upsert(-100, "group", "Live")
    backup = tmp_path / "backup.db"
    await make_database(backup, "From the backup")
    before = folder_listing(db_path)
    with pytest.raises(StorageInUseError) as caught:
        restore_database(str(backup), str(db_path))
    assert str(caught.value) == (
        f"cannot restore database {db_path}: it is in use (a running bridge, a backup or a "
        "restore); stop the bridge first"
    )
    assert folder_listing(db_path) == before
    chat = await ChatRepo(db).get(-100)
    assert chat is not None and chat.title == "Live"


OTHER_PROCESS = """
import asyncio, sys
from storage import Database

async def main():
    db = await Database.open(sys.argv[1])
    print("open", flush=True)
    sys.stdin.readline()  # until the test is done
    await db.close()

asyncio.run(main())
"""


async def test_restore_is_refused_while_another_process_runs_a_bridge_on_it(
    db_path: Path, tmp_path: Path
) -> None:
    backup = await live_and_backup(db_path, tmp_path)
    bridge = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        OTHER_PROCESS,
        str(db_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert bridge.stdout is not None and bridge.stdin is not None
    try:
        assert await bridge.stdout.readline() == b"open\n"
        with pytest.raises(StorageInUseError, match="in use"):
            restore_database(str(backup), str(db_path))
        assert chat_title(db_path) == "Live"
    finally:
        bridge.stdin.close()
        assert await bridge.wait() == 0
    # Once that bridge stopped, the same restore goes ahead.
    restore_database(str(backup), str(db_path))
    assert chat_title(db_path) == "From the backup"


async def test_a_bridge_does_not_start_while_a_restore_holds_the_database(
    db_path: Path,
) -> None:
    await make_database(db_path, "Live")
    restoring = DatabaseLock.exclusive(db_path, "restore")
    try:
        with pytest.raises(StorageInUseError) as caught:
            await Database.open(db_path)
        assert str(caught.value) == (
            f"database {db_path} is being restored; start again once the restore is done"
        )
    finally:
        restoring.release()
    await (await Database.open(db_path)).close()


async def test_restore_replaces_the_database_and_keeps_the_one_it_replaced(
    db_path: Path, tmp_path: Path
) -> None:
    backup = await live_and_backup(db_path, tmp_path)
    backup_bytes = read_bytes(backup)
    # Leftovers of a crash beside the live database: an index of a WAL that is gone.
    write_bytes(Path(f"{db_path}-shm"), b"\0" * 32768)

    kept = restore_database(str(backup), str(db_path))

    assert kept == Path(f"{db_path}.before-restore")
    assert chat_title(kept) == "Live"
    assert chat_title(db_path) == "From the backup"
    assert read_bytes(backup) == backup_bytes  # the backup is only read
    assert folder_listing(db_path) == [
        "pttbridge.db",
        "pttbridge.db.before-restore",
        "pttbridge.db.lock",
    ]
    db = await Database.open(db_path)  # a bridge starts on it
    try:
        assert await db.schema_version() == LATEST
        await ChatRepo(db).upsert(-200, "group", "Written after the restore")
    finally:
        await db.close()

    # A second restore keeps the first one's kept database too.
    again = restore_database(str(backup), str(db_path))
    assert again == Path(f"{db_path}.before-restore.1")
    assert chat_title(kept) == "Live"
    assert read(again, "SELECT title FROM chats WHERE chat_id = -200") == [
        ("Written after the restore",)
    ]


CRASHED_WRITER = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint = 0")
conn.execute("UPDATE chats SET title = 'Only in the WAL' WHERE chat_id = -100")
os._exit(0)  # a crash: the WAL is never copied back
"""


async def test_restore_keeps_what_the_replaced_database_had_only_in_its_wal(
    db_path: Path, tmp_path: Path
) -> None:
    await make_database(db_path, "Live")
    writer = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHED_WRITER, str(db_path)
    )
    assert await writer.wait() == 0
    assert size(Path(f"{db_path}-wal")) > 0
    backup = tmp_path / "backup.db"
    await make_database(backup, "From the backup")

    kept = restore_database(str(backup), str(db_path))

    assert kept is not None
    assert chat_title(db_path) == "From the backup"
    assert "pttbridge.db-wal" not in folder_listing(db_path)
    assert "pttbridge.db-shm" not in folder_listing(db_path)
    assert chat_title(kept) == "Only in the WAL"


async def test_restore_onto_a_new_server_with_no_database_yet(tmp_path: Path) -> None:
    backup = tmp_path / "backup.db"
    await make_database(backup, "From the backup")
    db_path = tmp_path / "state" / "pttbridge.db"
    assert restore_database(str(backup), str(db_path)) is None
    assert chat_title(db_path) == "From the backup"


async def test_a_backup_of_the_live_database_restores_to_what_it_was(
    db: Database, db_path: Path, tmp_path: Path
) -> None:
    committed = await write_audit(db, 20)
    dest = tmp_path / "nightly.db"
    backup_database(str(db_path), str(dest))
    await write_audit(db, 5, "later")
    await db.close()
    restore_database(str(dest), str(db_path))
    assert audit_ids(db_path) == committed


def newer_database(path: Path) -> None:
    """What a later pttbridge (9.8.7, one migration more) leaves."""
    with pytest.MonkeyPatch.context() as mp:
        import storage.db.migrations

        mp.setattr(storage.db.migrations, "pttbridge_version", lambda: "9.8.7")
        later = Migration(LATEST + 1, f"{LATEST + 1:04d}_later.sql", "CREATE TABLE later (x);")

        async def make() -> None:
            await (await Database.open(path, migrations=[*load_migrations(), later])).close()

        asyncio.run(make())


def other_app_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE notes (x TEXT); PRAGMA user_version = 3;")
    conn.close()


def pttbridge_with_a_table_less(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in load_migrations():
        conn.executescript(migration.sql)
    conn.executescript(f"DROP TABLE readiness; PRAGMA user_version = {LATEST};")
    conn.close()


def damaged_database(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA page_size = 1024")
    conn.executescript("CREATE TABLE t (x TEXT); CREATE INDEX t_x ON t (x);")
    conn.executemany("INSERT INTO t VALUES (?)", [(f"row {i:04d}" * 20,) for i in range(200)])
    conn.close()
    data = bytearray(path.read_bytes())
    data[-1024 * 3 : -1024 * 3 + 200] = b"\xff" * 200  # scribble over an index page
    path.write_bytes(bytes(data))


def empty_sqlite(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE x (y); DROP TABLE x;")  # a header, no schema
    conn.close()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            newer_database,
            "{src} was made by pttbridge 9.8.7 (schema {newer}), this is pttbridge {this} "
            "(schema {latest}): restore it with that version",
        ),
        (other_app_database, "{src} is not a pttbridge database of schema 3: no index audit_at"),
        (
            pttbridge_with_a_table_less,
            "{src} is not a pttbridge database of schema {latest}: no table readiness",
        ),
        (empty_sqlite, "{src} is not a pttbridge database (no schema version)"),
        (lambda p: p.write_text("just text\n" * 500), "{src} is not an SQLite database"),
    ],
    ids=["newer", "another app's", "a table missing", "empty", "not SQLite"],
)
async def test_restore_refuses_what_is_not_a_backup_it_can_run(
    db_path: Path, tmp_path: Path, make: object, expected: str
) -> None:
    await make_database(db_path, "Live")
    src = tmp_path / "src.db"
    await asyncio.to_thread(make, src)  # type: ignore[arg-type]
    before = folder_listing(db_path)
    with pytest.raises(StorageError) as caught:
        restore_database(str(src), str(db_path))
    message = str(caught.value)
    assert message == expected.format(
        src=src, newer=LATEST + 1, latest=LATEST, this=pttbridge_version()
    )
    assert folder_listing(db_path) == before  # nothing set aside, no temporary file left
    assert chat_title(db_path) == "Live"


async def test_restore_refuses_a_damaged_backup(db_path: Path, tmp_path: Path) -> None:
    await make_database(db_path, "Live")
    src = tmp_path / "src.db"
    damaged_database(src)
    with pytest.raises(BackupError) as caught:
        restore_database(str(src), str(db_path))
    assert str(caught.value).startswith(f"database {src} is damaged: ")
    assert "\n" not in str(caught.value)
    assert chat_title(db_path) == "Live"


def test_restore_of_a_missing_backup(tmp_path: Path) -> None:
    with pytest.raises(BackupError) as caught:
        restore_database(str(tmp_path / "nope.db"), str(tmp_path / "pttbridge.db"))
    assert str(caught.value) == f"no backup at {tmp_path / 'nope.db'}"
    assert list(tmp_path.iterdir()) == []


async def test_a_backup_an_older_release_made_restores_and_is_upgraded_at_start(
    db_path: Path,
) -> None:
    """Rolling forward from an old backup: restore accepts an older schema (it checks it is
    that schema), and the next start brings it up to date."""
    await make_database(db_path, "Live")
    old = Path(__file__).parent / "fixtures_db" / "pttbridge-0.1.0.db"
    restore_database(str(old), str(db_path))
    assert read(db_path, "PRAGMA user_version") == [(1,)]
    db = await Database.open(db_path)
    try:
        assert await db.schema_version() == LATEST
        chat = await ChatRepo(db).get(-1001)
        assert chat is not None and chat.title == "调度中心 Dispatch"
    finally:
        await db.close()


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o777


def chmod(path: Path, mode: int) -> None:
    path.chmod(mode)


async def test_the_restored_database_has_the_permissions_of_the_one_it_replaced(
    db_path: Path, tmp_path: Path
) -> None:
    backup = await live_and_backup(db_path, tmp_path)
    chmod(db_path, 0o640)
    chmod(backup, 0o600)
    restore_database(str(backup), str(db_path))
    assert mode_of(db_path) == 0o640
    # A backup is private to whoever made it (it holds chats and users).
    dest = tmp_path / "copy.db"
    backup_database(str(db_path), str(dest))
    assert mode_of(dest) == 0o600
