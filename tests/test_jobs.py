"""Scheduled work end to end: presence watch, new recordings, attendance, the daily digest,
platform health, the directory diff, and the jobs' life across restarts.

The sandbox platform runs on a clock the test moves; the scheduler is paused, and each
job is run by the test with the `now` it chooses (`bridge.jobs.run(name, now=...)`), so
nothing waits for real time. People: admin 1001, supervisor 1002, scoped 1004 (org 266).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from conftest import Clock
from hypothesis import given
from hypothesis import strategies as st

from bot.attendance.records import is_late
from bot.demo.stack import Stack
from bot.jobs.recordings import LATE_MARGIN
from bot.parsing.timeexpr import parse_hhmm
from bot.platform.models import PunchRecord
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage
from handlers.subscriptions import SubscribeArgs, parse_subscribe
from storage.db import Database, load_migrations
from storage.subscriptions import KINDS, STORED_KINDS, Subscription

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 28, 15, 0, tzinfo=TZ)
ADMIN = 1001
GROUP_CHAT = -100_900


def texts(msgs: list[EmuMessage]) -> str:
    return "\n".join(m.plain_text() for m in msgs)


async def ready(stack: Stack) -> Any:
    """The started bridge with its scheduler paused (the test runs the jobs) and the
    start-up catch-up done."""
    bridge = stack.bridge
    assert bridge is not None and bridge.scheduler is not None
    bridge.scheduler.pause()
    await bridge.jobs.caught_up.wait()
    return bridge


@pytest.fixture
def make_stack(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> Callable[..., Awaitable[tuple[Stack, Clock]]]:
    """`await make_stack(**sandbox_kw)`: conftest's stack (English) on a sandbox whose "now"
    is a `Clock` the test moves, ready (see `ready`); the stack and the clock."""

    async def make(**sandbox_kw: Any) -> tuple[Stack, Clock]:
        clock = Clock(NOW)
        stack = await make_bot_stack(sandbox=SandboxPlatform(now=clock, **sandbox_kw))
        await ready(stack)
        return stack, clock

    return make


async def delivered(stack: Stack, chat: int) -> list[EmuMessage]:
    """Every bot message the delivery worker sends for rows queued so far, in this chat."""
    bridge = stack.bridge
    assert bridge is not None
    # The worker sets `idle` after a round that leaves nothing to send.
    bridge.delivery.idle.clear()
    bridge.delivery.wake()
    await asyncio.wait_for(bridge.delivery.idle.wait(), timeout=20)
    out = stack.emu.pending_messages(chat)
    stack.emu.mark(chat)
    return out


async def outbox_rows(stack: Stack, chat: int) -> int:
    assert stack.bridge is not None and stack.bridge.db is not None
    row = await stack.bridge.db.fetchone(
        "SELECT count(*) AS n FROM outbox WHERE chat_id = ?", (chat,)
    )
    assert row is not None
    return int(row["n"])


def polls_of(sandbox: SandboxPlatform, start: int, path: str) -> dict[int, int]:
    """How many requests to `path` each talk group got since request number `start`."""
    out: dict[int, int] = {}
    for r in sandbox.requests[start:]:
        if r.path.endswith(path):
            gid = int(r.json["gid"])
            out[gid] = out.get(gid, 0) + 1
    return out


# -- the scheduler ---------------------------------------------------------------------------


async def test_every_job_has_an_id_and_fits_its_period(make_stack: Any) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    jobs = {j.id: j for j in bridge.scheduler.get_jobs()}
    expected = {
        "directory-refresh": bridge.settings.bridge.directory_refresh_s,
        "presence-poll": bridge.settings.bridge.presence_poll_s,
        "recordings-poll": 60,
        "platform-health": 60,
        "housekeeping": 3600,
    }
    assert set(expected) <= set(jobs)
    for job_id, seconds in expected.items():
        job = jobs[job_id]
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == timedelta(seconds=seconds)
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == seconds
        assert job.args == (job_id,)


async def test_a_failing_job_is_logged_counted_and_runs_next_time(
    make_stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    await stack.say("supervisor", "/watch 1002")

    def failures() -> float:
        text = bridge.metrics.render().decode()
        for line in text.splitlines():
            if line.startswith('pttbridge_job_failures_total{job="presence-poll"}'):
                return float(line.split()[-1])
        return 0.0

    stack.platform.fail_next("/pttUser/isOnline", "status", status=500)
    assert await bridge.jobs.run("presence-poll", now=NOW) is False
    assert failures() == 1
    assert "job presence-poll" in caplog.text
    assert await bridge.jobs.run("presence-poll", now=NOW) is True
    assert failures() == 1


# -- presence watch --------------------------------------------------------------------------


async def test_presence_change_is_told_once_after_two_polls_and_flaps_are_not(
    make_stack: Any,
) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    chat = stack.add_group(GROUP_CHAT, "Fire team", admins=("admin", "supervisor"))
    other = stack.add_group(GROUP_CHAT - 1, "Command room", admins=("admin", "supervisor"))
    [reply] = await stack.say("supervisor", "/watch 1002", chat=chat)
    assert "Watching 消防一大队主频" in reply.plain_text()
    await stack.say("supervisor", "/watch 1002", chat=other)
    await stack.say("supervisor", "/watch 1003", chat=other)
    await stack.say("supervisor", "/watch 1002")  # a third chat: the supervisor's own
    stack.emu.mark()

    # 张三 (10001, in 1002) goes offline; 张山 (10003, in 1003, offline) comes online.
    sb.data.users[10001].online = False
    sb.data.users[10003].online = True
    start = len(sb.requests)
    await bridge.jobs.run("presence-poll", now=NOW)
    assert await outbox_rows(stack, chat) == 0  # seen once: not yet news
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=30))
    # Each watched group polled once per tick however many chats watch it (2.3); 2.2
    # only where someone is coming online, and only about them.
    assert polls_of(sb, start, "/isOnline") == {1002: 2, 1003: 2}
    assert polls_of(sb, start, "/inThisGroupUids") == {1003: 2}
    assert [r.json["uids"] for r in sb.requests[start:] if r.path.endswith("/inThisGroupUids")] == [
        [10003],
        [10003],
    ]

    [told] = await delivered(stack, chat)
    assert "Went offline (1): 张三 zhangsan01" in told.plain_text()
    [both] = await delivered(stack, other)  # one message per chat, both groups in it
    assert "张三" in both.plain_text() and "张山" in both.plain_text()
    assert "Online in this group (1): 张山 zhangshan02" in both.plain_text()

    # Told once: later polls with the same presence say nothing.
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=60))
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=90))
    # A flap — 张珊 drops off for one poll and is back — is not told.
    sb.data.users[10002].online = False
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=120))
    sb.data.users[10002].online = True
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=150))
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=180))
    assert await delivered(stack, chat) == []
    assert await outbox_rows(stack, chat) == 1

    # /subscriptions lists the watch; /unwatch stops it.
    msgs = await stack.say("admin", "/subscriptions", chat=other)
    assert "presence of 消防一大队主频" in texts(msgs)
    assert "presence of 消防二大队主频" in texts(msgs)
    [gone] = await stack.say("supervisor", "/unwatch 1002", chat=chat)
    assert "Stopped watching 消防一大队主频" in gone.plain_text()
    [again] = await stack.say("supervisor", "/unwatch 1002", chat=chat)
    assert "does not watch" in again.plain_text()


async def test_watch_respects_the_callers_scope(make_stack: Any) -> None:
    stack, _ = await make_stack()
    [reply] = await stack.say("scoped", "/watch 1003")  # org 267: outside 266
    assert reply.plain_text() == "No group matches “1003”."
    assert await stack.bridge.jobs.watches.for_chat(1004) == []
    [ok] = await stack.say("scoped", "/watch 1004")  # 特勤行动组, org 268 below 266
    assert "Watching 特勤行动组" in ok.plain_text()
    [usage] = await stack.say("supervisor", "/watch")
    assert "/watch" in usage.plain_text()
    denied = await stack.say("viewer", "/watch 1002")
    assert "supervisor" in texts(denied)


# -- new recordings ----------------------------------------------------------------------------


async def test_new_recordings_are_sent_as_voice_once_even_across_a_restart(
    make_stack: Any,
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    chat = stack.add_group(GROUP_CHAT, "Recordings")
    await stack.say("admin", "/subscribe recordings org 266", chat=chat)
    concerned = {u.id for u in bridge.directory.snapshot.users.values() if u.org_id in (266, 268)}
    assert 0 < len(concerned) <= 25  # the per-user mode

    # First poll: the starting point. Nothing of the day so far is dumped into the chat.
    assert await bridge.jobs.recordings.poll(NOW) == 0
    start = len(sb.requests)
    # Half an hour later: what began since then (and is listed) arrives, each once.
    later = NOW + timedelta(minutes=40)
    clock.now = later
    expected = sorted(
        (r.begin_ms, r.user_id)
        for uid in concerned
        for r in sb.data.recordings(uid, later.date())
        if r.begin_ms >= int((NOW - LATE_MARGIN).timestamp() * 1000)
    )
    assert expected, "the seed gives recordings in this half hour"
    assert await bridge.jobs.recordings.poll(later) == len(expected)
    audio_calls = [r for r in sb.requests[start:] if r.path.endswith("/audioRecord")]
    assert {int(r.json["userId"]) for r in audio_calls} == concerned
    msgs = await delivered(stack, chat)
    assert len(msgs) == len(expected)
    voices = [m for m in msgs if m.kind in ("voice", "audio")]
    assert voices and all(m.caption and m.caption.startswith("🎙") for m in voices)
    lost = [m for m in msgs if m.kind == "text"]  # a file the platform lost: caption + why
    assert all("gone" in m.plain_text() for m in lost)

    # Again, and after a restart: nothing is sent twice.
    assert await bridge.jobs.recordings.poll(later) == 0
    await stack.restart_bridge()
    bridge = await ready(stack)
    assert await bridge.jobs.recordings.poll(later) == 0
    assert await delivered(stack, chat) == []
    # Later still, only the newer ones.
    last = later + timedelta(minutes=40)
    clock.now = last
    newer = [
        r
        for uid in concerned
        for r in sb.data.recordings(uid, last.date())
        if r.begin_ms > int((later - timedelta(seconds=30)).timestamp() * 1000)
    ]
    assert await bridge.jobs.recordings.poll(last) == len(newer)


async def test_a_recording_going_to_several_chats_is_downloaded_once(make_stack: Any) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    chats = [stack.add_group(GROUP_CHAT - i, f"Recordings {i}") for i in range(3)]
    for chat in chats:
        await stack.say("admin", "/subscribe recordings org 266", chat=chat)
    assert await bridge.jobs.recordings.poll(NOW) == 0
    later = NOW + timedelta(minutes=40)
    clock.now = later
    start = len(sb.requests)
    sent = await bridge.jobs.recordings.poll(later)
    assert sent > 0
    per_chat = [
        [m for m in await delivered(stack, c) if m.kind in ("voice", "audio")] for c in chats
    ]
    assert per_chat[0] and all(len(v) == len(per_chat[0]) for v in per_chat)
    files = [r.path for r in sb.requests[start:] if not r.path.startswith(sb.prefix + "/")]
    # One download per recording, not one per chat: the other chats get Telegram's file id.
    assert files and len(files) == len(set(files))
    assert [m.file.file_id for m in per_chat[1] if m.file] == [
        m.file.file_id for m in per_chat[0] if m.file
    ]


async def test_a_chat_refusing_voice_gets_a_file_and_the_others_still_voice(
    make_stack: Any,
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    refusing = stack.add_group(GROUP_CHAT, "No voice here")
    await stack.say("admin", "/subscribe recordings org 266", chat=refusing)
    stack.emu.inject_fault(
        "sendVoice",
        error_code=400,
        description="Bad Request: VOICE_MESSAGES_FORBIDDEN",
        times=1000,
        chat_id=refusing,
    )
    assert await bridge.jobs.recordings.poll(NOW) == 0
    clock.now = NOW + timedelta(minutes=40)
    assert await bridge.jobs.recordings.poll(clock.now) > 0
    got = [m.kind for m in await delivered(stack, refusing) if m.kind != "text"]
    assert got and set(got) <= {"document", "audio"} and "document" in got
    # Chats that came later still get voice messages (the same files, by file id or not).
    others = [stack.add_group(GROUP_CHAT - i, f"Voice {i}") for i in (1, 2)]
    for chat in others:
        await stack.say("admin", "/subscribe recordings org 266", chat=chat)
    assert await bridge.jobs.recordings.poll(clock.now) == 0
    clock.now += timedelta(minutes=40)
    assert await bridge.jobs.recordings.poll(clock.now) > 0
    for chat in others:
        kinds = [m.kind for m in await delivered(stack, chat) if m.kind != "text"]
        assert kinds and "document" not in kinds and "voice" in kinds, kinds


async def test_recordings_of_many_users_use_the_platform_wide_query(make_stack: Any) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    chat = stack.add_group(GROUP_CHAT, "All recordings")
    await stack.say("admin", "/subscribe recordings", chat=chat)  # every user: 40 > 25
    assert await bridge.jobs.recordings.poll(NOW) == 0
    later = NOW + timedelta(minutes=20)
    clock.now = later
    start = len(sb.requests)
    expected = [
        r
        for uid in bridge.directory.snapshot.users
        for r in sb.data.recordings(uid, later.date())
        if r.begin_ms >= int((NOW - LATE_MARGIN).timestamp() * 1000)
    ]
    assert await bridge.jobs.recordings.poll(later) == len(expected)
    calls = [r for r in sb.requests[start:] if r.path.endswith("/audioRecord")]
    assert len(calls) == 1 and "userId" not in calls[0].json


# -- attendance --------------------------------------------------------------------------------


def csv_rows(msg: EmuMessage) -> list[list[str]]:
    assert msg.file is not None and msg.file.data is not None
    assert msg.file.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(msg.file.data.decode("utf-8-sig"))))


async def test_attendance_summary_counts_late_and_missing_and_fetches_every_page(
    make_stack: Any,
) -> None:
    stack, _ = await make_stack(users=260)
    sb = stack.platform
    day = (NOW - timedelta(days=1)).date()
    start = len(sb.requests)
    msgs = await stack.say("supervisor", "/attendance 2026-11-27")
    summary, document = msgs[-2], msgs[-1]

    # What the sandbox holds for that day, computed here from its own data.
    dstart = int(datetime.combine(day, datetime.min.time(), TZ).timestamp() * 1000)
    records = sb.data.punch_records(dstart, dstart + 86_400_000 - 1)
    pages = [r for r in sb.requests[start:] if r.path.endswith("/punchCard/record")]
    assert len(pages) == -(-len(records) // 100) > 1  # every page, no more
    assert [p.json["page"]["current"] for p in pages] == list(range(1, len(pages) + 1))
    late = {
        p.user_id
        for p in records
        if p.state == 0
        and p.should_ms is not None
        and p.sign_ms > p.should_ms + (p.failure or 0) * 60_000
    }
    missing = set(sb.data.users) - {p.user_id for p in records}
    clocked_in = {p.user_id for p in records if p.state == 0}
    clocked_out = {p.user_id for p in records if p.state == 1}
    text = summary.plain_text()
    assert f"Attendance {day.isoformat()}" in text
    assert (
        f"{len(sb.data.users)} expected · ✅ {len(clocked_in)} clocked in · "
        f"🏁 {len(clocked_out)} clocked out · ⏰ {len(late)} late · ❌ {len(missing)} no record"
    ) in text
    assert late and missing

    rows = csv_rows(document)
    assert rows[0] == [
        "Date",
        "Time",
        "User id",
        "Account",
        "Name",
        "Org",
        "Event",
        "Due",
        "Grace (min)",
        "Late (min)",
        "Shift",
        "Schedule",
        "Address",
        "Coordinate",
    ]
    assert len(rows) - 1 == len(records)
    names = {r[4] for r in rows[1:]}
    assert "张三" in names and "李<b>&四" in names  # Chinese intact, nothing escaped
    assert {r[2] for r in rows[1:] if r[9]} == {str(u) for u in late}
    assert document.caption is not None and f"{len(records)} records" in document.caption


async def test_attendance_for_an_org_and_scope(make_stack: Any) -> None:
    stack, _ = await make_stack()
    msgs = await stack.say("scoped", "/attendance 267")  # outside org 266
    assert texts(msgs) == "No org matches “267”."
    msgs = await stack.say("scoped", "/attendance 2026-11-27")  # their own subtree
    pages = stack.platform.requests_to("/punchCard/record")
    assert int(pages[-1].json["oid"]) == 266
    people = [u for u in stack.platform.data.users.values() if u.org_id in (266, 268)]
    assert f"👥 {len(people)} expected" in msgs[0].plain_text()
    msgs = await stack.say("supervisor", "/attendance 2026-13-40")
    assert "/attendance" in texts(msgs)


async def test_signins_list_place_and_remark_with_a_csv(make_stack: Any) -> None:
    stack, _ = await make_stack()
    msgs = await stack.say("supervisor", "/signins 2026-11-27")
    summary, document = msgs[-2], msgs[-1]
    day = (NOW - timedelta(days=1)).date()
    records = stack.platform.data.signins(day, day)
    assert f"{len(records)} sign-ins" in summary.plain_text()
    first = min(records, key=lambda s: (s.sign_ms, s.id))
    assert first.address in summary.plain_text()
    rows = csv_rows(document)
    assert rows[0][:3] == ["Date", "Time", "Record id"] and len(rows[0]) == 12
    assert len(rows) - 1 == len(records)
    assert any(r[10] for r in rows[1:])  # remarks, Chinese intact
    assert {r[4] for r in rows[1:]} <= {s.user_name for s in records}


def test_late_means_after_due_time_plus_grace() -> None:
    due = datetime(2026, 11, 28, 8, 30, tzinfo=TZ)

    def rec(minutes: float, grace: int | None) -> PunchRecord:
        return PunchRecord.model_validate(
            {
                "userId": 1,
                "state": 0,
                "signInTime": int((due + timedelta(minutes=minutes)).timestamp() * 1000),
                "shouldTime": int(due.timestamp() * 1000),
                "failure": grace,
            }
        )

    assert not is_late(rec(5, 5))  # exactly at the end of the grace: on time
    assert is_late(rec(5.1, 5))
    assert is_late(rec(0.5, None))  # no grace given: due time itself
    assert not is_late(rec(-10, 0))


# -- the daily digest ------------------------------------------------------------------------


async def test_daily_report_fires_at_the_set_time_in_the_zone_and_once_a_day(
    make_stack: Any,
) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    chat = stack.add_group(GROUP_CHAT, "Daily", admins=("admin", "supervisor"))
    [reply] = await stack.say("supervisor", "/report daily 08:30", chat=chat)
    assert "Every day at 08:30 (Asia/Shanghai)" in reply.plain_text()
    job = bridge.scheduler.get_job(f"report:{chat}:0")
    assert isinstance(job.trigger, CronTrigger)
    assert job.args == ("report", chat, 0)
    assert job.misfire_grace_time == 3600 and job.coalesce and job.max_instances == 1
    fire = job.trigger.get_next_fire_time(None, NOW)
    assert fire == datetime(2026, 11, 29, 8, 30, tzinfo=TZ)
    early = datetime(2026, 11, 28, 7, 0, tzinfo=ZoneInfo("Europe/London"))  # 15:00 Shanghai
    assert job.trigger.get_next_fire_time(None, early) == fire

    at = datetime(2026, 11, 28, 8, 30, tzinfo=TZ)
    assert await bridge.jobs.run("report", chat, 0, now=at)
    digest, document = await delivered(stack, chat)
    assert "Daily attendance digest" in digest.plain_text()
    assert "2026-11-27" in digest.plain_text() and "2026-11-28" in digest.plain_text()
    assert "(so far, at 08:30)" in digest.plain_text()
    rows = csv_rows(document)
    assert {r[0] for r in rows[1:]} == {"2026-11-27", "2026-11-28"}
    # The same day's digest is sent once, however often the job runs.
    await bridge.jobs.run("report", chat, 0, now=at + timedelta(minutes=5))
    assert await delivered(stack, chat) == []

    msgs = await stack.say("admin", "/subscriptions", chat=chat)
    assert "attendance digest every day at 08:30" in texts(msgs)
    [off] = await stack.say("supervisor", "/report off", chat=chat)
    assert "stopped" in off.plain_text()
    assert bridge.scheduler.get_job(f"report:{chat}:0") is None
    [usage] = await stack.say("supervisor", "/report daily 25:00", chat=chat)
    assert "/report daily" in usage.plain_text()


async def test_daily_report_in_another_zone(make_bot_stack: Any) -> None:
    stack = await make_bot_stack(bridge_overrides={"timezone": "Europe/Berlin"})
    bridge = await ready(stack)
    [reply] = await stack.say("supervisor", "/report daily 7:05")
    assert "07:05 (Europe/Berlin)" in reply.plain_text()
    job = bridge.scheduler.get_job("report:1002:0")
    berlin = ZoneInfo("Europe/Berlin")
    after = datetime(2026, 11, 28, 7, 6, tzinfo=berlin)
    assert job.trigger.get_next_fire_time(None, after) == datetime(
        2026, 11, 29, 7, 5, tzinfo=berlin
    )


# -- platform health -------------------------------------------------------------------------


async def test_outage_and_token_rejection_are_told_once_and_recovery_once(
    make_stack: Any,
) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    stack.emu.mark(ADMIN)

    async def check(minutes: int) -> None:
        await bridge.jobs.run("platform-health", now=NOW + timedelta(minutes=minutes))

    sb.fail_next("/user/info", "status", status=500, times=1000)
    for m in range(4):
        await check(m)
    sb.clear_faults()
    await check(5)
    await check(6)
    alerts = texts(stack.emu.pending_messages(ADMIN))
    assert alerts.count("not answering") == 1
    assert alerts.count("answers the bridge again") == 1
    assert "unavailable for 4 min" in alerts
    stack.emu.mark(ADMIN)

    sb.fail_next("/user/info", "status", status=501, times=1000)
    await check(10)  # a rejected token is told at once
    await check(11)
    await check(12)
    sb.clear_faults()
    await check(13)
    alerts = texts(stack.emu.pending_messages(ADMIN))
    assert alerts.count("rejects the bridge's token") == 1
    assert alerts.count("answers the bridge again") == 1
    stack.emu.mark(ADMIN)

    # A blip of one failed check is not an outage.
    sb.fail_next("/user/info", "status", status=500, times=1)
    await check(20)
    await check(21)
    assert stack.emu.pending_messages(ADMIN) == []

    # Told once even across a restart during the outage; recovery told after it.
    sb.fail_next("/user/info", "status", status=500, times=1000)
    await check(30)
    await check(31)
    await stack.restart_bridge()
    bridge = await ready(stack)
    await check(32)
    sb.clear_faults()
    await check(33)
    alerts = texts(stack.emu.pending_messages(ADMIN))
    assert alerts.count("not answering") == 1
    assert alerts.count("answers the bridge again") == 1


# -- directory refresh diff ------------------------------------------------------------------


async def test_directory_refresh_tells_unpushed_changes_once(make_stack: Any) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    chat = stack.add_group(GROUP_CHAT, "Changes")
    await stack.say("admin", "/subscribe user-changes org-changes", chat=chat)
    sb.data.users[10002].name = "张姗"
    new = sb.data.add_user("newbie01", "新人", "secret-pass", 266)
    sb.data.orgs[270].name = "医疗救护大队"
    await bridge.jobs.run("directory-refresh", now=NOW)
    msgs = await delivered(stack, chat)
    text = texts(msgs)
    assert "name: 张珊 → 张姗" in text
    assert f"New user 新人 ({new.account})" in text or "新人" in text
    assert "医疗救护队 → 医疗救护大队" in text
    # Once: the next refresh, and the platform's own callback for the same change, are quiet.
    await bridge.jobs.run("directory-refresh", now=NOW + timedelta(minutes=10))
    rows = await outbox_rows(stack, chat)
    status, _ = await stack.platform_event("user-updated", {"id": [10002]})
    assert status == 200
    await bridge.relay.process_inbox()
    assert await outbox_rows(stack, chat) == rows
    # A deletion the platform never pushed.
    sb.data.delete_user(new.id)
    await bridge.jobs.run("directory-refresh", now=NOW + timedelta(minutes=20))
    assert "新人" in texts(await delivered(stack, chat))


# -- restarts ----------------------------------------------------------------------------------


async def test_jobs_and_presence_are_rebuilt_from_storage_after_a_restart(
    make_stack: Any,
) -> None:
    stack, _ = await make_stack()
    chat = stack.add_group(GROUP_CHAT, "Kept", admins=("admin", "supervisor"))
    await stack.say("supervisor", "/watch 1002", chat=chat)
    await stack.say("supervisor", "/report daily 18:00", chat=chat)
    stack.platform.data.users[10001].online = False
    await stack.bridge.jobs.run("presence-poll", now=NOW)  # seen once before the restart

    await stack.restart_bridge()
    bridge = await ready(stack)
    ids = {j.id for j in bridge.scheduler.get_jobs()}
    assert {"presence-poll", "recordings-poll", "platform-health", "directory-refresh"} <= ids
    assert f"report:{chat}:0" in ids
    assert [w.group_id for w in await bridge.jobs.watches.for_chat(chat)] == [1002]
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=30))  # and again
    [told] = await delivered(stack, chat)
    assert "张三" in told.plain_text()


async def test_digest_follows_a_supergroup_and_a_missed_one_is_caught_up(
    make_stack: Any,
) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    reports = bridge.jobs.reports
    chat, new_id = GROUP_CHAT, GROUP_CHAT * 10_000
    await reports.reports.set(chat, 0, "08:30", None, 1002, NOW - timedelta(days=2))
    await bridge.jobs.run("reports-sync", now=NOW)
    assert bridge.scheduler.get_job(f"report:{chat}:0") is not None
    # Telegram moved the group to a supergroup: the digest moves with it.
    await bridge.chats.upsert(chat, "group", "Daily")
    await bridge.chats.migrate(chat, new_id)
    await bridge.jobs.run("reports-sync", now=NOW)
    assert bridge.scheduler.get_job(f"report:{chat}:0") is None
    assert bridge.scheduler.get_job(f"report:{new_id}:0") is not None

    # Down at 08:30, up at 09:10: it is sent at start; up at 12:00 (over 3 h): it is not.
    late = datetime(2026, 11, 28, 9, 10, tzinfo=TZ)
    assert [r.chat_id for r in await reports.missed(late)] == [new_id]
    assert await reports.missed(datetime(2026, 11, 28, 12, 0, tzinfo=TZ)) == []
    assert await reports.run(new_id, 0, late)
    assert await reports.missed(late) == []


def test_times_and_csv_cells() -> None:
    from bot.parsing.timeexpr import parse_hhmm
    from bot.render.csvfile import csv_bytes as _csv

    assert parse_hhmm("8:05") == datetime(2000, 1, 1, 8, 5).time()
    assert parse_hhmm("08：30") == datetime(2000, 1, 1, 8, 30).time()
    assert parse_hhmm("24:00") is None and parse_hhmm("8") is None
    data = _csv(["名字", "备注"], [["=cmd|' /C calc'!A0", "+86 138"], ["张三", -5]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["名字", "备注"], ["'=cmd|' /C calc'!A0", "'+86 138"], ["张三", "-5"]]


# -- subscriptions: recordings by user / talk group, presence and attendance as kinds ---------


def accounts_in(msgs: list[EmuMessage]) -> list[str]:
    """The account named in each recording message's caption (`🎙 name (account) · ...`)."""
    out = []
    for m in msgs:
        found = re.search(r"🎙 .*? \(([^()]+)\) · ", m.plain_text())
        assert found, m.plain_text()
        out.append(found[1])
    return out


def recordings_since(
    sb: SandboxPlatform, uids: set[int], since: datetime, day: datetime
) -> list[tuple[int, str]]:
    """(begin ms, account) of what the sandbox lists for `uids` that began at `since` or later."""
    floor = int(since.timestamp() * 1000)
    return sorted(
        (r.begin_ms, r.account)
        for uid in uids
        for r in sb.data.recordings(uid, day.date())
        if r.begin_ms >= floor
    )


def members(sb: SandboxPlatform, gid: int) -> set[int]:
    return {uid for uid, u in sb.data.users.items() if gid in u.groups}


async def test_recordings_filtered_by_user_group_and_org_reach_only_the_chats_that_want_them(
    make_stack: Any,
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    by_user = stack.add_group(GROUP_CHAT, "Zhang San's recordings")
    by_group = stack.add_group(GROUP_CHAT - 1, "Special ops recordings")
    mixed = stack.add_group(GROUP_CHAT - 2, "Mixed")
    [r1] = await stack.say("admin", "/subscribe recordings user zhangsan01", chat=by_user)
    assert "recordings — by 张三 (zhangsan01)" in r1.plain_text()
    [r2] = await stack.say("admin", "/subscribe recordings group 特勤行动组", chat=by_group)
    assert "recordings — by members of 特勤行动组" in r2.plain_text()
    [r3] = await stack.say(
        "admin", "/subscribe recordings user tricky group 1004 org 270", chat=mixed
    )
    assert (
        "recordings — by 李<b>&四 (tricky) or by members of 特勤行动组 "
        "or by anyone in 医疗救护队 and below"
    ) in r3.plain_text()
    # Shown back in words by /subscriptions too.
    [listed] = await stack.say("admin", "/subscriptions", chat=by_group)
    assert listed.plain_text().splitlines()[1] == "• recordings — by members of 特勤行动组"

    want = {
        by_user: {10001},
        by_group: members(sb, 1004),
        mixed: {10004}
        | members(sb, 1004)
        | {u for u, x in sb.data.users.items() if x.org_id == 270},
    }
    concerned = set().union(*want.values())
    assert 10007 in want[by_group] and sb.data.users[10007].org_id == 103  # a member from afar
    assert len(concerned) <= 25  # the per-user mode: one 2.6 query per user concerned

    assert await bridge.jobs.recordings.poll(NOW) == 0  # the starting point
    start = len(sb.requests)
    later = NOW + timedelta(minutes=40)
    clock.now = later
    expected = {
        chat: recordings_since(sb, uids, NOW - LATE_MARGIN, later) for chat, uids in want.items()
    }
    everyone = recordings_since(sb, set(sb.data.users), NOW - LATE_MARGIN, later)
    outside = {acc for _, acc in everyone} - {sb.data.users[u].account for u in concerned}
    assert expected[by_user] and expected[by_group] and outside  # the seed gives all three
    assert await bridge.jobs.recordings.poll(later) == sum(len(v) for v in expected.values())
    # Only the users concerned are asked about.
    polled = {int(r.json["userId"]) for r in sb.requests[start:] if r.path.endswith("/audioRecord")}
    assert polled == concerned

    sent: set[str] = set()
    for chat in (by_user, by_group, mixed):
        got = accounts_in(await delivered(stack, chat))
        assert sorted(got) == sorted(acc for _, acc in expected[chat]), chat
        sent |= set(got)
    # 龚金凤 (gongjinfeng01, of 消防一大队主频) is in none of the filters: hers go nowhere.
    assert "gongjinfeng01" in outside and not outside & sent

    # Each once, across a restart too; afterwards only what is new.
    assert await bridge.jobs.recordings.poll(later) == 0
    await stack.restart_bridge()
    bridge = await ready(stack)
    assert await bridge.jobs.recordings.poll(later) == 0
    for chat in want:
        assert await delivered(stack, chat) == []
    last = later + timedelta(minutes=40)
    clock.now = last
    newer = {
        chat: recordings_since(sb, uids, later - timedelta(seconds=30), last)
        for chat, uids in want.items()
    }
    assert await bridge.jobs.recordings.poll(last) == sum(len(v) for v in newer.values())
    for chat in want:
        assert sorted(accounts_in(await delivered(stack, chat))) == sorted(
            acc for _, acc in newer[chat]
        )


async def test_a_scoped_supervisors_group_filter_stays_inside_their_subtree(
    make_stack: Any,
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    scoped = 1004  # their private chat; org 266 (and 268 below it)
    [reply] = await stack.say("scoped", "/subscribe recordings group 1002")
    assert (
        "by members of 消防一大队主频 — only people of 消防一大队 and below" in reply.plain_text()
    )
    inside = {u for u in members(sb, 1002) if sb.data.users[u].org_id in (266, 268)}
    beyond = members(sb, 1002) - inside
    assert {10011, 10040} <= beyond  # 龚金凤 (org 269) and 陈波 (org 270) talk in 1002

    assert await bridge.jobs.recordings.poll(NOW) == 0
    start = len(sb.requests)
    later = NOW + timedelta(minutes=40)
    clock.now = later
    assert recordings_since(sb, beyond, NOW - LATE_MARGIN, later)  # there is something to leak
    expected = recordings_since(sb, inside, NOW - LATE_MARGIN, later)
    assert expected
    assert await bridge.jobs.recordings.poll(later) == len(expected)
    polled = {int(r.json["userId"]) for r in sb.requests[start:] if r.path.endswith("/audioRecord")}
    assert polled == inside
    got = accounts_in(await delivered(stack, scoped))
    assert sorted(got) == sorted(acc for _, acc in expected)
    assert not {"gongjinfeng01", "chenbo01"} & set(got)


async def test_unknown_or_ambiguous_names_are_told_and_nothing_is_stored(make_stack: Any) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    chat = stack.add_group(GROUP_CHAT, "Filters")
    [ambiguous] = await stack.say("admin", "/subscribe recordings user zs", chat=chat)
    assert ambiguous.plain_text().startswith("“zs”: 3 matches — pick one")  # buttons to pick
    [unknown] = await stack.say("admin", "/subscribe recordings user zhangsan01 nobody", chat=chat)
    assert unknown.plain_text() == "No user matches “nobody”."
    [no_group] = await stack.say("admin", "/subscribe recordings incidents group 9999", chat=chat)
    assert no_group.plain_text() == "No group matches “9999”."
    # A filter none of the kinds takes, a missing value, a bad time: the usage.
    for args in (
        "incidents user zhangsan01",
        "recordings user",
        "attendance at 25:00",
        "notices group 1002",
    ):
        [usage] = await stack.say("admin", f"/subscribe {args}", chat=chat)
        assert (
            "/subscribe <kind…> [org <id…>] [user <user…>] [group <group…>]" in usage.plain_text()
        )
    assert await bridge.repos.subscriptions.for_chat(chat) == []
    assert await bridge.jobs.watches.for_chat(chat) == []
    assert await bridge.jobs.reports.reports.for_chat(chat) == []


async def test_subscribe_presence_is_a_watch_and_unsubscribe_presence_ends_them(
    make_stack: Any,
) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    sb = stack.platform
    chat = stack.add_group(GROUP_CHAT, "Presence", admins=("admin", "supervisor"))
    [usage] = await stack.say("admin", "/subscribe presence", chat=chat)
    assert "Name the talk groups to watch: /subscribe presence group <group…>" in usage.plain_text()
    assert "/watch <group>" in usage.plain_text()
    [reply] = await stack.say(
        "admin", "/subscribe presence incidents group 1002 特勤行动组", chat=chat
    )
    text = reply.plain_text()
    assert text.startswith("This chat now receives:")
    assert "Watching 消防一大队主频 here" in text and "Watching 特勤行动组 here" in text
    assert "• incidents\n" in text + "\n"
    # The same storage as /watch: a /watch of the same group is "already".
    assert [w.group_id for w in await bridge.jobs.watches.for_chat(chat)] == [1002, 1004]
    [again] = await stack.say("supervisor", "/watch 1002", chat=chat)
    assert "already watches 消防一大队主频" in again.plain_text()
    assert [s.kind for s in await bridge.repos.subscriptions.for_chat(chat)] == ["incidents"]

    # And it works as a watch: a change told after two polls.
    sb.data.users[10001].online = False
    await bridge.jobs.run("presence-poll", now=NOW)
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=30))
    [told] = await delivered(stack, chat)
    assert "Went offline (1): 张三 zhangsan01" in told.plain_text()

    [listed] = await stack.say("admin", "/subscriptions", chat=chat)
    lines = listed.plain_text().splitlines()
    assert lines.count("• 👀 presence of 消防一大队主频 (/watch)") == 1
    assert not [x for x in lines if x.startswith("• presence")]  # no second, empty line of it

    [gone] = await stack.say("admin", "/unsubscribe presence", chat=chat)
    assert gone.plain_text() == "2 subscriptions removed."
    assert await bridge.jobs.watches.for_chat(chat) == []
    assert [s.kind for s in await bridge.repos.subscriptions.for_chat(chat)] == ["incidents"]
    sb.data.users[10001].online = True
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=60))
    await bridge.jobs.run("presence-poll", now=NOW + timedelta(seconds=90))
    assert await delivered(stack, chat) == []


async def test_subscribe_attendance_is_the_daily_digest_and_report_shows_it(
    make_stack: Any,
) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    chat = stack.add_group(GROUP_CHAT, "Attendance", admins=("admin", "supervisor"))
    [none] = await stack.say("supervisor", "/report", chat=chat)
    assert none.plain_text().startswith("This chat gets no daily attendance digest.")
    assert "/report daily <HH:MM> [org] or /report off" in none.plain_text()

    [reply] = await stack.say("admin", "/subscribe attendance", chat=chat)
    assert "Every day at 08:30 (Asia/Shanghai) this chat gets the attendance digest:" in (
        reply.plain_text()
    )
    job = bridge.scheduler.get_job(f"report:{chat}:0")
    assert job.trigger.get_next_fire_time(None, NOW) == datetime(2026, 11, 29, 8, 30, tzinfo=TZ)

    # Moved to 18:00 by /report, subscribing again keeps the time; an org and a time given win.
    await stack.say("supervisor", "/report daily 18:00", chat=chat)
    [kept] = await stack.say("admin", "/subscribe attendance", chat=chat)
    assert "Every day at 18:00 (Asia/Shanghai)" in kept.plain_text()
    [set_] = await stack.say("admin", "/subscribe attendance org 266 at 7:45", chat=chat)
    assert (
        "Every day at 07:45 (Asia/Shanghai) this chat gets the attendance digest of 消防一大队"
        in (set_.plain_text())
    )
    [several] = await stack.say("admin", "/subscribe attendance org 266 267", chat=chat)
    assert "one org id" in several.plain_text()
    report = await bridge.jobs.reports.reports.get(chat, 0)
    assert report is not None and (report.at_time, report.org_id) == ("07:45", 266)
    # No row of its own.
    assert [s.kind for s in await bridge.repos.subscriptions.for_chat(chat)] == []

    [current] = await stack.say("supervisor", "/report", chat=chat)
    assert current.plain_text().startswith(
        "This chat gets the attendance digest of 消防一大队 every day at 07:45 (Asia/Shanghai)."
    )
    [listed] = await stack.say("admin", "/subscriptions", chat=chat)
    assert listed.plain_text().splitlines() == [
        "This chat receives:",
        "• 🕘 attendance digest of 消防一大队 every day at 07:45 (Asia/Shanghai)",
        "",
        "Change it with /subscribe or /unsubscribe (/subscribe alone shows how).",
    ]

    # It fires as the digest of that org.
    assert await bridge.jobs.run("report", chat, 0, now=datetime(2026, 11, 28, 7, 45, tzinfo=TZ))
    digest, _document = await delivered(stack, chat)
    assert "Daily attendance digest · 消防一大队" in digest.plain_text()

    [gone] = await stack.say("admin", "/unsubscribe attendance", chat=chat)
    assert gone.plain_text() == "One subscription removed."
    assert bridge.scheduler.get_job(f"report:{chat}:0") is None
    assert await bridge.jobs.reports.reports.get(chat, 0) is None


async def test_unsubscribe_all_ends_subscriptions_watches_and_the_digest(make_stack: Any) -> None:
    stack, _ = await make_stack()
    bridge = stack.bridge
    chat = stack.add_group(GROUP_CHAT, "Everything", forum=True)
    await stack.say("admin", "/subscribe all presence attendance group 1002", chat=chat)
    # A forum topic keeps its own: /unsubscribe all in the chat leaves it alone.
    await stack.say("admin", "/subscribe incidents", chat=chat, thread_id=7)
    assert len(await bridge.repos.subscriptions.for_chat(chat)) == 6
    [gone] = await stack.say("admin", "/unsubscribe all", chat=chat)
    assert gone.plain_text() == "7 subscriptions removed."  # 5 kinds, 1 watch, 1 digest
    assert [(s.thread_id, s.kind) for s in await bridge.repos.subscriptions.for_chat(chat)] == [
        (7, "incidents")
    ]
    assert await bridge.jobs.watches.for_chat(chat) == []
    assert await bridge.jobs.reports.reports.for_chat(chat) == []
    assert bridge.scheduler.get_job(f"report:{chat}:0") is None


async def test_migration_keeps_old_subscriptions_and_turns_attendance_into_the_digest(
    tmp_path: Path,
) -> None:
    old_chat, digest_chat = GROUP_CHAT, GROUP_CHAT - 1
    path = tmp_path / "pttbridge.db"
    db = await Database.open(path, migrations=[m for m in load_migrations() if m.number <= 4])
    at = "2026-11-01T00:00:00.000000+00:00"
    await db.executemany(
        "INSERT INTO subscriptions (chat_id, thread_id, kind, orgs, levels, created_by, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (old_chat, 0, "incidents", "[266]", '["1","2"]', 1001, at),
            (old_chat, 0, "recordings", "[266]", "[]", 1001, at),
            (old_chat, 0, "presence", "[]", "[]", 1001, at),
            (old_chat, 0, "attendance", "[267]", "[]", 1001, at),
            (old_chat, 5, "notices", "[]", "[]", 1001, at),
            (digest_chat, 0, "attendance", "[]", "[]", 1001, at),
        ],
    )
    await db.execute(
        "INSERT INTO reports (chat_id, thread_id, at_time, org_id, created_by, created_at)"
        " VALUES (?, 0, '18:00', NULL, 1002, ?)",
        (digest_chat, at),
    )
    await db.close()

    stack = Stack(tmp_path, language="en", sandbox=SandboxPlatform(now=Clock(NOW)))
    try:
        await stack.start()
        bridge = await ready(stack)
        assert await bridge.db.schema_version() == len(load_migrations())
        assert await bridge.repos.subscriptions.for_chat(old_chat) == [
            Subscription(old_chat, 0, "incidents", (266,), ("1", "2")),
            Subscription(old_chat, 0, "recordings", (266,), ()),
            Subscription(old_chat, 5, "notices", (), ()),
        ]
        assert await bridge.repos.subscriptions.for_chat(digest_chat) == []
        reports = {
            r.chat_id: (r.at_time, r.org_id) for r in await bridge.jobs.reports.reports.all()
        }
        assert reports == {old_chat: ("08:30", 267), digest_chat: ("18:00", None)}
        assert bridge.scheduler.get_job(f"report:{old_chat}:0") is not None

        stack.add_group(old_chat, "Old subscriptions")
        [listed] = await stack.say("admin", "/subscriptions", chat=old_chat)
        lines = listed.plain_text().splitlines()
        assert lines[:5] == [
            "This chat receives:",
            "• incidents — only 消防一大队 and below — levels 1, 2",
            "• recordings — only 消防一大队 and below",
            "• notices (topic 5)",
            "• 🕘 attendance digest of 消防二大队 every day at 08:30 (Asia/Shanghai)",
        ]
        # The old recordings subscription still works as it did: org 266's subtree.
        subs = await bridge.repos.subscriptions.of_kind("recordings")
        wanted = bridge.jobs.recordings.concerned(subs)
        assert {u.org_id for u in wanted.values()} == {266, 268}
    finally:
        await stack.stop()


def test_parse_subscribe_reads_kinds_filters_and_a_time() -> None:
    args = parse_subscribe(
        [
            "recordings",
            "presence",
            "org",
            "266",
            "user",
            "zs",
            "张三",
            "group",
            "1002",
            "level",
            "2",
        ]
    )
    assert args == SubscribeArgs(
        kinds=("recordings", "presence"),
        orgs=(266,),
        users=("zs", "张三"),
        groups=("1002",),
        levels=("2",),
    )
    assert parse_subscribe(["attendance", "at", "8:05"]).at == "08:05"
    assert parse_subscribe(["attendance", "org", "266", "AT", "18：30"]) == SubscribeArgs(
        kinds=("attendance",), orgs=(266,), at="18:30"
    )
    # `all` is the five kinds kept as subscriptions; a name right after a keyword is a name.
    assert parse_subscribe(["all"]).kinds == STORED_KINDS
    assert parse_subscribe(["recordings", "user", "at"]).users == ("at",)
    for bad in (
        "",
        "org 266",
        "recordings org",
        "recordings org zs",
        "recordings user",
        "incidents user zs",
        "notices group 1002",
        "recordings at 08:00",
        "attendance at 24:00",
        "attendance at 08:00 09:00",
        "weather",
    ):
        with pytest.raises(ValueError):
            parse_subscribe(bad.split())


@given(
    st.lists(
        st.sampled_from(
            [
                *KINDS,
                "all",
                "org",
                "user",
                "group",
                "level",
                "at",
                "266",
                "zs",
                "8:30",
                "25:00",
                "x",
            ]
        )
        | st.text(max_size=8),
        max_size=8,
    )
)
def test_parse_subscribe_takes_any_words_or_refuses_them(words: list[str]) -> None:
    try:
        args = parse_subscribe(words)
    except ValueError:
        return
    assert args.kinds and set(args.kinds) <= set(KINDS)
    assert all(isinstance(o, int) for o in args.orgs)
    assert not args.users or "recordings" in args.kinds
    assert not args.groups or {"recordings", "presence"} & set(args.kinds)
    assert args.at is None or ("attendance" in args.kinds and parse_hhmm(args.at) is not None)


async def test_report_and_subscribe_name_the_word_they_cannot_read(make_stack: Any) -> None:
    stack, _clock = await make_stack()
    chat = stack.add_group(GROUP_CHAT, "Digest", admins=("admin", "supervisor"))
    [bad_time] = await stack.say("supervisor", "/report daily 25:00", chat=chat)
    assert bad_time.plain_text().startswith("“25:00” is not a time of day")
    [bad_word] = await stack.say("supervisor", "/report weekly", chat=chat)
    assert bad_word.plain_text().startswith("I don't understand “weekly” there.")
    assert "Usage: /report daily <HH:MM> [org]" in bad_word.plain_text()
    [typo] = await stack.say("admin", "/subscribe incidnets", chat=chat)
    assert typo.plain_text().startswith("I don't understand “incidnets” there.")
    assert "Usage: /subscribe" in typo.plain_text()
    # Nothing was set by any of them.
    assert await stack.bridge.jobs.reports.reports.get(chat, 0) is None
    assert await stack.bridge.repos.subscriptions.for_chat(chat) == []
