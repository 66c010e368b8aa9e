"""What the bridge keeps and for how long: storage/retention.py and the housekeeping job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.audit import AuditRepo
from storage.db import Database
from storage.files import FileRepo
from storage.inbox import InboxRepo
from storage.incidents import IncidentRepo
from storage.outbox import OutboxRepo
from storage.retention import KEEP, Retention

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "pttbridge.db")
    yield database
    await database.close()


async def count(db: Database, table: str) -> int:
    row = await db.fetchone(f"SELECT count(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


async def test_prune_deletes_only_what_is_past_its_time_and_never_open_work(db: Database) -> None:
    inbox, outbox, incidents, audit = InboxRepo(db), OutboxRepo(db), IncidentRepo(db), AuditRepo(db)
    old = NOW - max(KEEP.events, KEEP.messages, KEEP.incidents) - timedelta(days=1)
    ancient = NOW - KEEP.audit - timedelta(days=1)
    recent = NOW - timedelta(days=1)

    await inbox.add("report", "old-done", {}, old, processed=True)
    await inbox.add("user-updated", "old-open", {}, old)  # never processed: kept
    await inbox.add("report", "new-done", {}, recent, processed=True)

    old_incident = await incidents.add("report:1:a", {}, old)
    open_incident = await incidents.add("report:2:a", {}, old)  # a copy still to send
    new_incident = await incidents.add("report:3:a", {}, recent)
    assert old_incident and open_incident and new_incident
    await incidents.add_message(old_incident, -100, 7)

    sent = await outbox.enqueue(-100, 0, "incidents", {}, old, incident_id=old_incident)
    await outbox.mark_sent(sent, [7], old)
    dead = await outbox.enqueue(-100, 0, "notices", {}, old)
    await outbox.mark_dead(dead, "chat not found")
    await outbox.enqueue(-100, 0, "incidents", {}, old, incident_id=open_incident)  # pending
    fresh = await outbox.enqueue(-100, 0, "notices", {}, recent)
    await outbox.mark_sent(fresh, [8], recent)

    await audit.add(1, "role", "2", {}, "ok", ancient)
    await audit.add(1, "role", "3", {}, "ok", recent)

    gone = await Retention(db, FileRepo(db)).prune(NOW)

    assert gone == {"inbox": 1, "outbox": 2, "incidents": 1, "audit": 1, "served_files": 0}
    keys = {r["dedupe_key"] for r in await db.fetchall("SELECT dedupe_key FROM inbox")}
    assert keys == {"old-open", "new-done"}
    left = {r["id"] for r in await db.fetchall("SELECT id FROM incidents")}
    assert left == {open_incident, new_incident}
    assert await count(db, "incident_messages") == 0
    states = sorted(r["state"] for r in await db.fetchall("SELECT state FROM outbox"))
    assert states == ["pending", "sent"]
    assert [e.target for e in await audit.latest(10)] == ["3"]

    assert await Retention(db, FileRepo(db)).prune(NOW) == {
        "inbox": 0,
        "outbox": 0,
        "incidents": 0,
        "audit": 0,
        "served_files": 0,
    }


async def test_prune_works_in_batches(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.retention

    monkeypatch.setattr(storage.retention, "BATCH", 3)
    audit = AuditRepo(db)
    for i in range(10):
        await audit.add(1, "role", str(i), {}, "ok", NOW - KEEP.audit - timedelta(days=1))
    assert (await Retention(db, FileRepo(db)).prune(NOW))["audit"] == 10
    assert await count(db, "audit") == 0
