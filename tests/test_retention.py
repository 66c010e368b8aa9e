"""What the bridge keeps and for how long: storage/retention.py and the housekeeping job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.audit import AuditRepo
from storage.db import Database
from storage.fences import FenceRepo, FenceState
from storage.files import FileRepo
from storage.follows import FollowRepo
from storage.inbox import InboxRepo
from storage.incidents import IncidentRepo
from storage.outbox import OutboxRepo
from storage.retention import KEEP, Retention

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


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

    assert gone == {
        "inbox": 1,
        "outbox": 2,
        "incidents": 1,
        "audit": 1,
        "served_files": 0,
        "follows": 0,
        "fence_state": 0,
        "transcripts": 0,
    }
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
        "follows": 0,
        "fence_state": 0,
        "transcripts": 0,
    }


async def test_prune_works_in_batches(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.retention

    monkeypatch.setattr(storage.retention, "BATCH", 3)
    audit = AuditRepo(db)
    for i in range(10):
        await audit.add(1, "role", str(i), {}, "ok", NOW - KEEP.audit - timedelta(days=1))
    assert (await Retention(db, FileRepo(db)).prune(NOW))["audit"] == 10
    assert await count(db, "audit") == 0


async def test_prune_removes_long_ended_follows_with_their_messages_and_stale_fence_state(
    db: Database,
) -> None:
    follows, fences = FollowRepo(db), FenceRepo(db)
    day = timedelta(days=1)
    start = NOW - 10 * day

    async def follow(user: int, ends_at: datetime, stopped_at: datetime | None = None) -> int:
        f = await follows.start(-100, 0, "user", user, scope_org=None, created_by=1,
                                now=start, ends_at=ends_at)  # fmt: skip
        assert f is not None
        await follows.set_messages(f.id, user, 10 + user, 20 + user)
        if stopped_at is not None:
            assert await follows.stop(f.id, stopped_at)
        return f.id

    ended_long_ago = await follow(1, NOW - KEEP.follows - day)
    stopped_long_ago = await follow(2, NOW + day, stopped_at=NOW - KEEP.follows - day)
    ended_lately = await follow(3, NOW - KEEP.follows + day)  # not yet finished by the job
    stopped_lately = await follow(4, NOW + day, stopped_at=NOW - day)
    running = await follow(5, NOW + day)

    fence = await fences.add("Depot", 52.5, 13.4, 200, org_id=None, created_by=1, now=start)
    assert fence is not None
    await fences.watch(fence.id, -100, 0, "user", 7, "both", scope_org=None, created_by=1,
                       now=start)  # fmt: skip
    stale, fresh = NOW - KEEP.fence_state - day, NOW - KEEP.fence_state + day
    await fences.save_states([
        FenceState(fence.id, 7, True, 0, stale),
        FenceState(fence.id, 8, False, 1, fresh),
        FenceState(fence.id, 9, False, 0, None),  # no fix considered yet: kept
    ])  # fmt: skip

    gone = await Retention(db, FileRepo(db)).prune(NOW)

    assert (gone["follows"], gone["fence_state"]) == (2, 1)
    left = {r["id"] for r in await db.fetchall("SELECT id FROM follows")}
    assert left == {ended_lately, stopped_lately, running}
    shown = {r["follow_id"] for r in await db.fetchall("SELECT follow_id FROM follow_messages")}
    assert shown == left  # the pruned follows' messages went with them
    assert not {ended_long_ago, stopped_long_ago} & shown
    assert sorted(s.user_id for s in (await fences.states()).values()) == [8, 9]
    assert await fences.get(fence.id) == fence  # fences and their watches are never pruned
    assert len(await fences.watches_for_chat(-100)) == 1
    again = await Retention(db, FileRepo(db)).prune(NOW)
    assert (again["follows"], again["fence_state"]) == (0, 0)
