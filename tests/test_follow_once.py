"""One live location per person per chat (or topic), however they are followed: a user's own
follow and a talk group holding them, in either order, across their ends and a restart,
counted at the Telegram emulator (sendLocation with live_period, editMessageLiveLocation,
stopMessageLiveLocation) against the sandbox platform (`bot.demo.stack.Stack`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import SANDBOX_NOW, Clock
from test_follow import tick

from bot.demo.stack import Stack
from bot.i18n import Translator
from bot.jobs.follows import MAX_SHOWN, assign
from bot.platform.models import Fix as PlatformFix
from bot.render.follow import follow_line, group_header
from bot.sandbox.data.model import Fix
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage
from bot.telegram.callbacks import FollowCb
from storage.follows import Follow, FollowMessage

MakeStack = Callable[..., Awaitable[Stack]]
ZHANGSAN = 10001  # 张三 zhangsan01, online, a member of talk group 1002
GROUP = 1002  # 消防一大队主频: ten members online, 张三 among them
SUPERVISOR, ADMIN = 1002, 1001  # Telegram ids of the tour's people (private chats)
POLL = timedelta(seconds=10)


@pytest.fixture
def clock() -> Clock:
    return Clock(SANDBOX_NOW)


@pytest.fixture
async def stack(make_bot_stack: MakeStack, clock: Clock) -> Stack:
    stack = await make_bot_stack(sandbox=SandboxPlatform(now=clock), clock=clock)
    for uid in members(stack):  # each member at a place of their own, 张三 at 30.27, 120.15
        place(stack, uid, clock)
    return stack


def members(stack: Stack) -> list[int]:
    return sorted(u.id for u in stack.platform.data.users.values() if GROUP in u.groups)


def spot(uid: int, step: int = 0) -> tuple[float, float]:
    """Where a user stands (after `step` moves): nobody shares a place."""
    return 30.2 + (uid - 10000) / 100 + step / 10_000, 120.15


def place(stack: Stack, uid: int, clock: Clock, step: int = 0) -> None:
    lat, lon = spot(uid, step)
    ms = int(clock.now.timestamp() * 1000)
    stack.platform.data.users[uid].fix = Fix(lat, lon, ms, speed=10.0, bearing=90.0)


def move_everyone(stack: Stack, clock: Clock, step: int) -> None:
    clock.advance(POLL)
    for uid in members(stack):
        place(stack, uid, clock, step)


def pins(stack: Stack, chat: int, uid: int, thread: int | None = None) -> list[EmuMessage]:
    """The live locations of this chat (topic) showing `uid` (where they stand), live or not."""
    out = []
    for m in stack.emu.messages(chat, thread):
        if m.kind != "location" or not m.positions:
            continue
        if round(m.positions[0].lat, 2) == round(spot(uid)[0], 2):
            out.append(m)
    return out


def live(stack: Stack, chat: int, uid: int, thread: int | None = None) -> list[EmuMessage]:
    return [
        m
        for m in pins(stack, chat, uid, thread)
        if stack.emu.live_status(chat, m.message_id) == "live"
    ]


def each_once(stack: Stack, chat: int, thread: int | None = None) -> None:
    """Every online member of the group has exactly one live location in this chat."""
    online = [u for u in members(stack) if stack.platform.data.users[u].online]
    counts = {u: len(live(stack, chat, u, thread)) for u in online}
    assert counts == dict.fromkeys(online, 1)


def live_sends(stack: Stack) -> int:
    return len([c for c in stack.emu.calls_to("sendLocation") if c.params.get("live_period")])


def moved(stack: Stack, chat: int, message: EmuMessage) -> int:
    """How many times a live location was moved (its first position not counted)."""
    return len(stack.emu.live_positions(chat, message.message_id)) - 1


async def test_a_group_follow_skips_a_member_followed_on_their_own_and_takes_them_back(
    stack: Stack, clock: Clock
) -> None:
    await stack.say("supervisor", "/follow zhangsan01 2h")
    own = live(stack, SUPERVISOR, ZHANGSAN)
    assert len(own) == 1

    out = await stack.say("supervisor", f"/follow {GROUP} 2h")

    header = out[0].plain_text()
    assert "9 members shown" in header
    assert "Already shown here by another follow" in header and "张三" in header
    assert live_sends(stack) == 1 + 9  # 张三 once, the nine others of the group
    each_once(stack, SUPERVISOR)

    move_everyone(stack, clock, 1)
    await tick(stack)
    each_once(stack, SUPERVISOR)
    assert moved(stack, SUPERVISOR, own[0]) == 1  # 张三 moves in his own follow
    assert len(stack.emu.calls_to("editMessageLiveLocation")) == 10  # one move each
    assert live_sends(stack) == 10

    # After a restart his own follow is stopped: the group takes him at the next tick.
    await stack.restart_bridge()
    move_everyone(stack, clock, 2)
    await tick(stack)
    each_once(stack, SUPERVISOR)
    assert live_sends(stack) == 10
    await stack.say("supervisor", "/unfollow zhangsan01")
    assert stack.emu.live_status(SUPERVISOR, own[0].message_id) == "stopped"
    assert live(stack, SUPERVISOR, ZHANGSAN) == []
    move_everyone(stack, clock, 3)
    await tick(stack)
    each_once(stack, SUPERVISOR)
    assert live_sends(stack) == 11
    (back,) = live(stack, SUPERVISOR, ZHANGSAN)
    line = stack.emu.message(SUPERVISOR, back.message_id - 1)  # the group's new line above it
    assert "张三" in line.plain_text()
    assert [d for _, d in line.buttons()] == [FollowCb(follow_id=2).pack()]  # the group's Stop

    # Stopping everything leaves no live location behind.
    await stack.say("supervisor", "/unfollow all")
    assert [m for m in stack.emu.messages(SUPERVISOR) if m.kind == "location"]
    for m in stack.emu.messages(SUPERVISOR):
        if m.kind == "location":
            assert stack.emu.live_status(SUPERVISOR, m.message_id) == "stopped"


async def test_following_a_member_of_a_followed_group_hands_them_over_across_a_restart(
    stack: Stack, clock: Clock
) -> None:
    out = await stack.say("supervisor", f"/follow {GROUP} 2h")
    assert "10 members shown" in out[0].plain_text()
    each_once(stack, SUPERVISOR)
    (group_pin,) = live(stack, SUPERVISOR, ZHANGSAN)
    assert stack.bridge is not None
    await stack.restart_bridge()

    out = await stack.say("supervisor", "/follow zhangsan01 30m")

    # The group's live location of 张三 is stopped first, its line says where he is now.
    assert stack.emu.live_status(SUPERVISOR, group_pin.message_id) == "stopped"
    (group_line,) = [m for m in stack.emu.messages(SUPERVISOR) if "their own" in m.plain_text()]
    assert group_line.plain_text().startswith("📡 张三 · followed since")
    assert "Followed on their own here now" in group_line.plain_text()
    assert group_line.buttons() == []
    assert [m.kind for m in out] == ["text", "location"]  # his own line and live location
    assert out[1].location is not None and out[1].location.live_period == 30 * 60
    each_once(stack, SUPERVISOR)
    assert live_sends(stack) == 11
    assert len(stack.emu.calls_to("stopMessageLiveLocation")) == 1

    move_everyone(stack, clock, 1)
    await tick(stack)
    each_once(stack, SUPERVISOR)
    assert live_sends(stack) == 11  # nothing sent again
    assert moved(stack, SUPERVISOR, out[1]) == 1
    assert moved(stack, SUPERVISOR, group_pin) == 0

    # His own follow runs out: in that same tick the group shows him again.
    clock.advance(timedelta(minutes=31))
    for uid in members(stack):
        place(stack, uid, clock, 2)
    await tick(stack)
    assert stack.emu.live_status(SUPERVISOR, out[1].message_id) != "live"
    assert "Follow ended" in stack.emu.message(SUPERVISOR, out[0].message_id).plain_text()
    each_once(stack, SUPERVISOR)
    assert live_sends(stack) == 12


async def test_the_rule_is_per_chat_each_chat_keeps_its_own_live_location(
    stack: Stack, clock: Clock
) -> None:
    await stack.say("supervisor", f"/follow {GROUP}")
    await stack.say("admin", "/follow zhangsan01")  # another chat: no hand-over
    group = -100900
    stack.add_group(group, "Dispatch", forum=True, admins=("admin", "supervisor"))
    await stack.say("supervisor", f"/follow {GROUP}", chat=group, thread_id=7)
    await stack.say("supervisor", "/follow zhangsan01", chat=group, thread_id=8)

    assert not stack.emu.calls_to("stopMessageLiveLocation")
    each_once(stack, SUPERVISOR)
    assert len(live(stack, ADMIN, ZHANGSAN)) == 1
    each_once(stack, group, 7)
    assert len(live(stack, group, ZHANGSAN, 8)) == 1

    move_everyone(stack, clock, 1)
    await tick(stack)
    assert not stack.emu.calls_to("stopMessageLiveLocation")
    each_once(stack, SUPERVISOR)
    each_once(stack, group, 7)
    assert len(live(stack, ADMIN, ZHANGSAN)) == 1
    assert len(live(stack, group, ZHANGSAN, 8)) == 1

    # In topic 7 now also on his own: topic 7's group hands him over, topic 8 keeps its own.
    await stack.say("supervisor", "/follow zhangsan01", chat=group, thread_id=7)
    assert len(stack.emu.calls_to("stopMessageLiveLocation")) == 1
    each_once(stack, group, 7)
    assert len(live(stack, group, ZHANGSAN, 8)) == 1
    each_once(stack, SUPERVISOR)


def _follow(fid: int, kind: Any, target: int, chat: int = 1, thread: int = 0) -> Follow:
    t0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    return Follow(fid, chat, thread, kind, target, None, None, t0, t0 + timedelta(hours=1), None)


def _fix(uid: int) -> PlatformFix:
    return PlatformFix.model_validate({"id": uid, "x": 30.0, "y": 120.0, "isOnLine": "2"})


def _row(fid: int, uid: int) -> FollowMessage:
    return FollowMessage(fid, uid, 100 + uid, 200 + uid, 30.0, 120.0, None)


def test_assign_two_groups_sharing_a_member_show_them_once_the_older_keeping_them() -> None:
    g1, g2 = _follow(1, "group", 501), _follow(2, "group", 502)
    fixes = {u: _fix(u) for u in (1, 2, 3)}
    groups = {1: [1, 2], 2: [2, 3]}
    # g2 showed 2 first (it was started before g1's member came online): g2 keeps them.
    plan = assign([g1, g2], {1: [], 2: [_row(2, 2)]}, fixes, lambda f: groups[f.id])
    assert sorted((f.id, u) for f, u, _ in plan.update) == [(1, 1), (2, 2), (2, 3)]
    assert plan.hand_over == []
    # both show 2 (a race): the older follow keeps them, the other hands over to it
    plan = assign([g2, g1], {1: [_row(1, 2)], 2: [_row(2, 2)]}, fixes, lambda f: groups[f.id])
    assert [(f.id, m.user_id, by.id) for f, m, by in plan.hand_over] == [(2, 2, 1)]
    assert sorted((f.id, u) for f, u, _ in plan.update) == [(1, 1), (1, 2), (2, 3)]


def test_assign_own_follows_count_per_chat_and_topic_and_not_in_the_groups_cap() -> None:
    many = list(range(1, MAX_SHOWN + 3))
    fixes = {u: _fix(u) for u in many}
    g = _follow(1, "group", 501)
    own_here, own_topic = _follow(2, "user", 1), _follow(3, "user", 2, thread=5)
    plan = assign([g, own_here, own_topic], {}, fixes, lambda f: many)
    shown_by_group = [u for f, u, _ in plan.update if f.id == 1]
    assert 1 not in shown_by_group and 2 in shown_by_group  # topic 5 is another place
    assert len(shown_by_group) == MAX_SHOWN
    assert (own_here, 1, None) in plan.update and (own_topic, 2, None) in plan.update


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_header_and_the_handed_over_line_name_who_shows_them_escaped(lang: str) -> None:
    t = Translator.load(lang).get(lang)
    tz, now = ZoneInfo("Asia/Shanghai"), datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    evil = "<b>&x"
    header = group_header(t, "G", 0, [], now + timedelta(hours=1), now, tz, [evil, "张三"])
    assert "&lt;b&gt;&amp;x, 张三" in header and "<b>&x" not in header
    assert t("follow-group-none", group="G", time="17:00") not in header  # he is online
    own = follow_line(t, lang, "张三", now, None, now, tz, handed_to="")
    assert own.splitlines()[1] == t("follow-handed-over")
    other = follow_line(t, lang, "张三", now, None, now, tz, handed_to=evil)
    assert "&lt;b&gt;&amp;x" in other.splitlines()[1]
    assert t("follow-ended") not in own + other


async def test_a_live_location_sent_while_its_follow_is_removed_is_stopped_not_left_live(
    stack: Stack, clock: Clock
) -> None:
    assert stack.bridge is not None
    repo = stack.bridge.repos.follows
    follow = await repo.start(SUPERVISOR, 0, "user", ZHANGSAN, scope_org=None,
                              created_by=SUPERVISOR, now=clock.now,
                              ends_at=clock.now + timedelta(hours=1))  # fmt: skip
    assert follow is not None
    removed: list[int] = []

    def finish_meanwhile(event: str, message: EmuMessage) -> None:
        # As if /unfollow's finish ran while the live location was on its way: it read
        # no live message of the follow, stopped nothing, and removed it.
        if event == "sent" and message.kind == "location" and not removed:
            with contextlib.closing(sqlite3.connect(stack.workdir / "pttbridge.db", 30)) as db:
                db.execute("PRAGMA foreign_keys = ON")
                with db:
                    cur = db.execute("DELETE FROM follows WHERE id = ?", (follow.id,))
                removed.append(cur.rowcount)

    stack.emu.add_listener(finish_meanwhile)
    await tick(stack)  # the job sends the follow's line and live location

    assert removed == [1]
    (pin,) = pins(stack, SUPERVISOR, ZHANGSAN)
    assert stack.emu.live_status(SUPERVISOR, pin.message_id) == "stopped"
    (line,) = [m for m in stack.emu.messages(SUPERVISOR) if m.kind == "text"]
    assert "Follow ended" in line.plain_text() and line.buttons() == []
