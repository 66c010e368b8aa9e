"""storage.follows and storage.fences: follows, live messages, fences, watches and the
crossing state, across a restart (close and reopen the database)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.geo.fences import Crossed, Crossing, FenceArea, observe
from bot.geo.measure import destination
from storage.chats import ChatRepo
from storage.db import Database, load_migrations
from storage.fences import FenceRepo, FenceState
from storage.follows import FollowRepo, TargetKind

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
CHAT, OTHER = -100123, -100456
POLL = timedelta(seconds=10)
STALE = 3 * POLL


@dataclass(frozen=True)
class F:
    lat: float
    lon: float
    time: datetime


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "bridge.db")
    yield database
    await database.close()


async def test_the_schema_is_the_latest() -> None:
    db = await Database.open(":memory:")
    try:
        assert await db.schema_version() == len(load_migrations()) >= 8
    finally:
        await db.close()


# --- follows -------------------------------------------------------------------------


async def test_a_follow_runs_until_its_end_and_once_per_target_here(db: Database) -> None:
    follows = FollowRepo(db)
    end = T0 + timedelta(minutes=30)
    f = await follows.start(CHAT, 0, "user", 7, scope_org=266, created_by=11, now=T0, ends_at=end)
    assert f is not None and f.running(T0) and not f.running(end)
    assert await follows.get(f.id) == f
    again = await follows.start(
        CHAT, 0, "user", 7, scope_org=None, created_by=12, now=T0, ends_at=end
    )
    assert again is None
    # Another topic, another chat, another kind: separate follows.
    topic = await follows.start(
        CHAT, 5, "user", 7, scope_org=None, created_by=11, now=T0, ends_at=end
    )
    group = await follows.start(
        CHAT, 0, "group", 7, scope_org=None, created_by=11, now=T0, ends_at=end
    )
    assert topic is not None and group is not None and len({f.id, topic.id, group.id}) == 3
    assert await follows.running(CHAT, 0, "user", 7) == f
    assert [x.id for x in await follows.for_chat(CHAT, T0)] == [f.id, topic.id, group.id]
    assert await follows.for_chat(CHAT, end) == []
    assert {x.id for x in await follows.active(T0)} == {f.id, topic.id, group.id}
    assert await follows.finished(T0) == []
    assert {x.id for x in await follows.finished(end)} == {f.id, topic.id, group.id}
    with pytest.raises(ValueError, match="end after"):
        await follows.start(CHAT, 0, "user", 8, scope_org=None, created_by=1, now=T0, ends_at=T0)


async def test_following_again_after_the_end_marks_the_old_one_for_the_job(db: Database) -> None:
    follows = FollowRepo(db)
    end = T0 + timedelta(minutes=30)
    old = await follows.start(CHAT, 0, "user", 7, scope_org=None, created_by=1, now=T0, ends_at=end)
    assert old is not None
    new = await follows.start(
        CHAT, 0, "user", 7, scope_org=None, created_by=1, now=end, ends_at=end + timedelta(hours=1)
    )
    assert new is not None and new.id != old.id
    stale = await follows.get(old.id)
    assert stale is not None and stale.stopped_at == end
    assert [x.id for x in await follows.finished(end)] == [old.id]
    assert [x.id for x in await follows.active(end)] == [new.id]


async def test_stop_by_button_and_by_unfollow(db: Database) -> None:
    follows = FollowRepo(db)
    end = T0 + timedelta(hours=2)
    made = [
        await follows.start(CHAT, 0, kind, tid, scope_org=None, created_by=1, now=T0, ends_at=end)
        for kind, tid in (("user", 1), ("user", 2), ("group", 3))
    ]
    a, b, c = (f for f in made if f is not None)
    other = await follows.start(
        OTHER, 0, "user", 1, scope_org=None, created_by=1, now=T0, ends_at=end
    )
    assert other is not None
    at = T0 + timedelta(minutes=1)
    assert await follows.stop(a.id, at) is True
    assert await follows.stop(a.id, at) is False  # already stopped
    assert await follows.stop(999, at) is False
    assert [f.id for f in await follows.stop_in(CHAT, 0, at, "user", 2)] == [b.id]
    assert await follows.stop_in(CHAT, 0, at, "user", 2) == []
    assert [f.id for f in await follows.stop_in(CHAT, 0, at)] == [c.id]  # all that remain
    assert [f.id for f in await follows.finished(at)] == [a.id, b.id, c.id]
    assert [f.id for f in await follows.active(at)] == [other.id]
    assert await follows.running(CHAT, 0, "user", 1) is None
    assert await follows.remove(a.id) is True
    assert await follows.remove(a.id) is False
    assert await follows.get(a.id) is None


async def test_live_messages_are_recorded_and_found_by_message(db: Database) -> None:
    follows = FollowRepo(db)
    end = T0 + timedelta(hours=1)
    f = await follows.start(CHAT, 0, "group", 30, scope_org=None, created_by=1, now=T0, ends_at=end)
    g = await follows.start(OTHER, 0, "user", 5, scope_org=None, created_by=1, now=T0, ends_at=end)
    assert f is not None and g is not None
    await follows.set_messages(f.id, 5, 101, 100)
    await follows.set_messages(f.id, 6, 103, 102)
    await follows.set_messages(g.id, 5, 101, None)  # same message id in another chat
    await follows.record_fixes([(f.id, 5, 30.27, 120.15, T0), (f.id, 99, 1.0, 1.0, T0)])
    got = await follows.messages([f.id, g.id, 12345])
    assert [(m.user_id, m.message_id, m.caption_message_id) for m in got[f.id]] == [
        (5, 101, 100),
        (6, 103, 102),
    ]
    assert (got[f.id][0].last_lat, got[f.id][0].last_lon, got[f.id][0].last_fix_at) == (
        30.27,
        120.15,
        T0,
    )
    assert got[f.id][1].last_fix_at is None
    assert got[12345] == []
    assert len(got[f.id]) == 2  # the fix of user 99, who has no message, was not recorded
    assert await follows.by_message(CHAT, 101) == f
    assert await follows.by_message(CHAT, 102) == f
    assert await follows.by_message(OTHER, 101) == g
    assert await follows.by_message(CHAT, 104) is None
    assert await follows.drop_user(f.id, 6) is True
    assert [m.user_id for m in (await follows.messages([f.id]))[f.id]] == [5]
    assert await follows.remove(f.id)
    assert await follows.by_message(CHAT, 101) is None
    assert (await follows.messages([f.id]))[f.id] == []  # deleted with the follow


async def test_targets_are_the_union_over_running_follows_of_unpaused_chats(
    db: Database,
) -> None:
    follows = FollowRepo(db)
    end = T0 + timedelta(hours=1)

    async def start(chat: int, kind: TargetKind, tid: int) -> int:
        f = await follows.start(
            chat, 0, kind, tid, scope_org=None, created_by=1, now=T0, ends_at=end
        )
        assert f is not None
        return f.id

    await start(CHAT, "user", 1)
    await start(OTHER, "user", 1)  # the same user in two chats: one target
    grp = await start(CHAT, "group", 30)
    await follows.set_messages(grp, 31, 1, 2)
    await follows.set_messages(grp, 32, 3, 4)
    stopped = await start(CHAT, "user", 2)
    await follows.stop(stopped, T0)
    await ChatRepo(db).upsert(-100999, "supergroup", "paused", now=T0)
    await ChatRepo(db).set_paused(-100999, True, "blocked", now=T0)
    await start(-100999, "user", 3)
    running = await follows.active(T0)
    assert {(f.target_kind, f.target_id) for f in running} == {("user", 1), ("group", 30)}
    shown = await follows.messages([f.id for f in running if f.target_kind == "group"])
    assert {m.user_id for ms in shown.values() for m in ms} == {31, 32}
    assert await follows.active(end) == []


# --- fences --------------------------------------------------------------------------


async def test_fence_names_are_unique_per_org_scope(db: Database) -> None:
    fences = FenceRepo(db)
    gate = await fences.add("North Gate", 30.27, 120.15, 300, org_id=266, created_by=1, now=T0)
    assert gate is not None and gate.name == "North Gate" and gate.radius_m == 300
    assert await fences.add(" north gate ", 1, 1, 50, org_id=266, created_by=2, now=T0) is None
    assert await fences.add("ＮＯＲＴＨ GATE", 1, 1, 50, org_id=266, created_by=2, now=T0) is None
    other = await fences.add("North Gate", 31.0, 121.0, 500, org_id=300, created_by=2, now=T0)
    top = await fences.add("North Gate", 32.0, 122.0, 500, org_id=None, created_by=3, now=T0)
    assert other is not None and top is not None
    assert await fences.add("north gate", 1, 1, 50, org_id=None, created_by=3, now=T0) is None
    assert await fences.get(gate.id) == gate
    assert await fences.find("north GATE", [266]) == [gate]
    assert await fences.find("North Gate", [266, 267, 300]) == [gate, other]
    assert await fences.find("North Gate", None) == [gate, other, top]
    assert await fences.find("South", None) == []
    assert [f.id for f in await fences.visible([300])] == [other.id]
    assert await fences.visible([]) == []
    with pytest.raises(sqlite3.IntegrityError):
        await fences.add("zero", 30, 120, 0, org_id=None, created_by=1, now=T0)


async def test_watches_by_chat_events_and_targets(db: Database) -> None:
    fences = FenceRepo(db)
    a = await fences.add("Depot", 30.27, 120.15, 300, org_id=None, created_by=1, now=T0)
    b = await fences.add("Bridge", 30.30, 120.20, 1500, org_id=None, created_by=1, now=T0)
    assert a is not None and b is not None
    w = fences.watch
    assert await w(a.id, CHAT, 0, "user", 7, "both", scope_org=None, created_by=1, now=T0)
    assert not await w(a.id, CHAT, 0, "user", 7, "enter", scope_org=266, created_by=1, now=T0)
    assert await w(a.id, CHAT, 0, "group", 30, "leave", scope_org=None, created_by=1, now=T0)
    assert await w(b.id, CHAT, 4, "user", 8, "both", scope_org=None, created_by=1, now=T0)
    assert await w(b.id, OTHER, 0, "user", 9, "both", scope_org=None, created_by=1, now=T0)
    listed = await fences.watches_for_chat(CHAT)
    assert [(x.fence_name, x.thread_id, x.target_kind, x.target_id, x.events) for x in listed] == [
        ("Depot", 0, "user", 7, "enter"),
        ("Depot", 0, "group", 30, "leave"),
        ("Bridge", 4, "user", 8, "both"),
    ]
    assert listed[0].scope_org == 266 and listed[0].tells("enter") and not listed[0].tells("leave")
    assert listed[2].tells("enter") and listed[2].tells("leave")
    watched = {(x.target_kind, x.target_id) for x in await fences.active_watches()}
    assert watched == {("user", 7), ("user", 8), ("user", 9), ("group", 30)}
    await ChatRepo(db).upsert(OTHER, "supergroup", "other", now=T0)
    await ChatRepo(db).set_paused(OTHER, True, "blocked", now=T0)
    watched = {(x.target_kind, x.target_id) for x in await fences.active_watches()}
    assert watched == {("user", 7), ("user", 8), ("group", 30)}
    assert {x.chat_id for x in await fences.active_watches()} == {CHAT}
    assert await fences.unwatch(CHAT, 0, a.id, "user", 7) == 1
    assert await fences.unwatch(CHAT, 0, a.id, "user", 7) == 0
    assert await fences.unwatch(CHAT, 4) == 1
    assert [x.target_id for x in await fences.watches_for_chat(CHAT)] == [30]


async def test_deleting_a_fence_deletes_its_watches_and_state(db: Database) -> None:
    fences = FenceRepo(db)
    a = await fences.add("Depot", 30.27, 120.15, 300, org_id=None, created_by=1, now=T0)
    assert a is not None
    await fences.watch(a.id, CHAT, 0, "user", 7, "both", scope_org=None, created_by=1, now=T0)
    await fences.save_states([FenceState(a.id, 7, True, 1, T0)])
    assert await fences.delete(a.id) is True
    assert await fences.delete(a.id) is False
    assert await fences.watches_for_chat(CHAT) == []
    assert await fences.states() == {}


async def test_state_is_forgotten_when_nobody_watches_the_fence(db: Database) -> None:
    fences = FenceRepo(db)
    a = await fences.add("Depot", 30.27, 120.15, 300, org_id=None, created_by=1, now=T0)
    b = await fences.add("Bridge", 30.30, 120.20, 300, org_id=None, created_by=1, now=T0)
    assert a is not None and b is not None
    await fences.watch(a.id, CHAT, 0, "user", 7, "both", scope_org=None, created_by=1, now=T0)
    await fences.watch(a.id, OTHER, 0, "user", 7, "both", scope_org=None, created_by=1, now=T0)
    await fences.watch(b.id, CHAT, 0, "user", 7, "both", scope_org=None, created_by=1, now=T0)
    await fences.save_states(
        [FenceState(a.id, 7, True, 0, T0), FenceState(a.id, 8, False, 1, T0),
         FenceState(b.id, 7, False, 0, None)]
    )  # fmt: skip
    await fences.unwatch(CHAT, 0, a.id)
    assert set(await fences.states()) == {(a.id, 7), (a.id, 8), (b.id, 7)}  # OTHER still watches
    await fences.unwatch(OTHER, 0)
    assert set(await fences.states()) == {(b.id, 7)}
    assert await fences.forget_states(b.id, keep={8}) == 1
    assert await fences.states() == {}


# --- a restart -----------------------------------------------------------------------


async def test_a_restart_keeps_follows_messages_fences_and_a_crossing_half_seen(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bridge.db"
    db = await Database.open(path)
    follows, fences = FollowRepo(db), FenceRepo(db)
    f = await follows.start(
        CHAT, 3, "user", 7, scope_org=266, created_by=1, now=T0, ends_at=T0 + timedelta(hours=8)
    )
    assert f is not None
    await follows.set_messages(f.id, 7, 501, 500)
    await follows.record_fixes([(f.id, 7, 30.27, 120.15, T0)])
    fence = await fences.add("Depot", 30.27, 120.15, 300, org_id=266, created_by=1, now=T0)
    assert fence is not None
    await fences.watch(fence.id, CHAT, 3, "user", 7, "both", scope_org=266, created_by=1, now=T0)
    area = FenceArea(fence.lat, fence.lon, fence.radius_m)

    def fix_at(distance: float, t: datetime) -> F:
        p = destination(fence.lat, fence.lon, 90, distance)
        return F(p.lat, p.lon, t)

    # Outside, then one fix inside: half a crossing when the bridge stops.
    state: Crossing | None = None
    events: list[Crossed | None] = []
    for i, d in enumerate((1000, 100)):
        t = T0 + i * POLL
        state, ev = observe(area, state, fix_at(d, t), t, stale_after=STALE)
        events.append(ev)
    assert events == [None, None] and state == Crossing(False, 1, T0 + POLL)
    await fences.save_states(
        [FenceState(fence.id, 7, state.inside, state.pending, state.last_fix_at)]
    )
    await db.close()

    db = await Database.open(path)
    try:
        follows, fences = FollowRepo(db), FenceRepo(db)
        assert await follows.running(CHAT, 3, "user", 7) == f
        assert await follows.by_message(CHAT, 501) == f  # the live message is edited, not resent
        (m,) = (await follows.messages([f.id]))[f.id]
        assert (m.message_id, m.caption_message_id, m.last_fix_at) == (501, 500, T0)
        assert await fences.find("depot", [266]) == [fence]
        stored = (await fences.states())[(fence.id, 7)]
        resumed = Crossing(stored.inside, stored.pending, stored.last_fix_at)
        assert resumed == state
        # The fix seen before the stop is not counted twice; the next one completes it.
        now = T0 + 2 * POLL
        again = observe(area, resumed, fix_at(100, T0 + POLL), now, stale_after=STALE)
        assert again == (resumed, None)
        done = observe(area, resumed, fix_at(90, now), now, stale_after=STALE)
        assert done == (Crossing(True, 0, T0 + 2 * POLL), Crossed.ENTER)
    finally:
        await db.close()


async def test_messages_are_not_recorded_for_a_follow_stopped_or_gone(db: Database) -> None:
    follows = FollowRepo(db)
    end = T0 + timedelta(hours=1)
    f = await follows.start(CHAT, 0, "group", 30, scope_org=None, created_by=1, now=T0, ends_at=end)
    assert f is not None
    assert await follows.set_messages(f.id, 5, None, 100) is True
    assert await follows.set_messages(f.id, 5, 101, 100) is True  # the live location after it
    assert await follows.stop(f.id, T0)
    # sent while the stop was being carried out: the sender is told to stop it itself
    assert await follows.set_messages(f.id, 6, 103, 102) is False
    assert [(m.user_id, m.message_id) for m in (await follows.messages([f.id]))[f.id]] == [(5, 101)]
    assert await follows.remove(f.id)
    assert await follows.set_messages(f.id, 5, 105, 104) is False  # gone: no error either
    assert (await follows.messages([f.id]))[f.id] == []
