"""/follow, /unfollow, the Stop button and the one position poll, end to end: the Telegram
emulator, the sandbox platform and the bridge on 127.0.0.1 (`bot.demo.stack.Stack`).

The bridge's clock is a `Clock` the test moves; the position poll is run by hand
(`bridge.jobs.run("position-poll")`), as the scheduler would. Fixes are set on the
sandbox's own data: where a live location must be is the sandbox's WGS-84 world.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import SANDBOX_NOW, Clock

from bot.demo.stack import BOT_TOKEN, Stack
from bot.platform import client
from bot.sandbox.data.model import Fix
from bot.sandbox.platform import Quirks, SandboxPlatform
from bot.sandbox.telegram import EmuMessage, FastClock, TelegramEmulator
from bot.telegram.callbacks import FollowCb

MakeStack = Callable[..., Awaitable[Stack]]
ZHANGSAN = 10001  # 张三 zhangsan01, online, in org 266
ZHANGSHAN = 10003  # 张山 zhangshan02, in org 267 (outside "scoped"'s subtree)
SUPERVISOR, ADMIN = 1002, 1001
LATEST = "/location/getLatestCoords"


@pytest.fixture
def clock() -> Clock:
    return Clock(SANDBOX_NOW)


@pytest.fixture
def make_stack(make_bot_stack: MakeStack, clock: Clock) -> MakeStack:
    async def make(**kw: Any) -> Stack:
        sandbox = SandboxPlatform(now=clock)
        return await make_bot_stack(sandbox=sandbox, clock=clock, **kw)

    return make


def place(
    stack: Stack, uid: int, lat: float, lon: float, clock: Clock, bearing: float = 90.0
) -> None:
    """The user's terminal reports a fix here, now."""
    ms = int(clock.now.timestamp() * 1000)
    stack.platform.data.users[uid].fix = Fix(lat, lon, ms, speed=10.0, bearing=bearing)


async def tick(stack: Stack) -> None:
    assert stack.bridge is not None
    assert await stack.bridge.jobs.run("position-poll")
    await stack.bridge.jobs.follows.settle()  # the moves it started in the background


def latest_calls(stack: Stack) -> int:
    return len(stack.platform.requests_to(LATEST))


def follow_messages(msgs: list[EmuMessage]) -> tuple[EmuMessage, EmuMessage]:
    lines = [m for m in msgs if m.kind == "text"]
    pins = [m for m in msgs if m.kind == "location"]
    assert len(lines) == 1 and len(pins) == 1, [m.kind for m in msgs]
    return lines[0], pins[0]


def now_of(stack: Stack, chat: int, message: EmuMessage) -> EmuMessage:
    return stack.emu.message(chat, message.message_id)


async def following(
    make_stack: MakeStack, clock: Clock, command: str = "/follow zhangsan01"
) -> tuple[Stack, EmuMessage, EmuMessage]:
    """A stack whose supervisor follows 张三, who stands at 30.27, 120.15: its line and pin."""
    stack = await make_stack()
    place(stack, ZHANGSAN, 30.27, 120.15, clock)
    line, pin = follow_messages(await stack.say("supervisor", command))
    return stack, line, pin


async def test_follow_moves_the_live_location_over_two_ticks(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack = await make_stack()
    place(stack, ZHANGSAN, 30.27, 120.15, clock)

    line, pin = follow_messages(await stack.say("supervisor", "/follow zhangsan01 1h"))

    assert pin.location is not None and pin.location.live_period == 3600
    assert (pin.location.lat, pin.location.lon) == pytest.approx((30.27, 120.15))
    assert pin.location.heading == 90
    text = line.plain_text()
    assert "张三" in text and "followed since" in text and "online" in text
    assert [d for _, d in line.buttons()] == [FollowCb(follow_id=1).pack()]

    clock.advance(timedelta(seconds=10))
    place(stack, ZHANGSAN, 30.271, 120.151, clock, bearing=180.0)
    await tick(stack)
    clock.advance(timedelta(seconds=10))
    place(stack, ZHANGSAN, 30.272, 120.152, clock, bearing=180.0)
    await tick(stack)
    clock.advance(timedelta(seconds=10))
    await tick(stack)  # the same fix: no edit

    shown = stack.emu.live_positions(SUPERVISOR, pin.message_id)
    assert [c for p in shown for c in (p.lat, p.lon)] == pytest.approx(
        [30.27, 120.15, 30.271, 120.151, 30.272, 120.152]
    )
    assert shown[-1].heading == 180
    assert stack.emu.live_status(SUPERVISOR, pin.message_id) == "live"
    edits = stack.emu.calls_to("editMessageLiveLocation")
    assert len(edits) == 2 and all(c.ok for c in edits)  # never "not modified"
    assert stack.emu.calls_to("sendLocation") and len(stack.emu.calls_to("sendLocation")) == 1


async def test_follow_ends_at_its_period_and_the_line_says_so(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack, line, pin = await following(make_stack, clock, "/follow zhangsan01 30m")

    clock.advance(timedelta(minutes=31))
    place(stack, ZHANGSAN, 30.28, 120.16, clock)
    await tick(stack)

    assert "Follow ended" in now_of(stack, SUPERVISOR, line).plain_text()
    assert now_of(stack, SUPERVISOR, line).buttons() == []
    assert stack.emu.live_status(SUPERVISOR, pin.message_id) != "live"
    assert not stack.emu.calls_to("editMessageLiveLocation")  # not moved after its end
    out = await stack.say("supervisor", "/unfollow all")  # the follow ended: nothing left
    assert [m.plain_text() for m in out] == ["Nothing is followed here."]


async def test_unfollow_and_the_stop_button_stop_the_live_location(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack = await make_stack()
    place(stack, ZHANGSAN, 30.27, 120.15, clock)
    place(stack, 10002, 30.25, 120.17, clock)
    line1, pin1 = follow_messages(await stack.say("supervisor", "/follow zhangsan01"))
    line2, pin2 = follow_messages(await stack.say("supervisor", "/follow 10002"))

    out = await stack.say("supervisor", "/unfollow zhangsan01")
    assert "Stopped one follow" in out[-1].plain_text()
    assert stack.emu.live_status(SUPERVISOR, pin1.message_id) == "stopped"
    assert "Follow ended" in now_of(stack, SUPERVISOR, line1).plain_text()
    assert stack.emu.live_status(SUPERVISOR, pin2.message_id) == "live"

    await stack.press("supervisor", now_of(stack, SUPERVISOR, line2), 0)
    assert stack.emu.live_status(SUPERVISOR, pin2.message_id) == "stopped"
    assert "Follow ended" in now_of(stack, SUPERVISOR, line2).plain_text()
    stops = stack.emu.calls_to("stopMessageLiveLocation")
    assert len(stops) == 2 and all(c.ok for c in stops)

    place(stack, ZHANGSAN, 30.3, 120.2, clock)
    await tick(stack)
    assert not stack.emu.calls_to("editMessageLiveLocation")


async def test_a_restarted_bridge_edits_the_same_live_message(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack, line, pin = await following(make_stack, clock, "/follow zhangsan01 2h")

    await stack.restart_bridge()
    clock.advance(timedelta(seconds=10))
    place(stack, ZHANGSAN, 30.275, 120.155, clock)
    await tick(stack)

    assert len(stack.emu.calls_to("sendLocation")) == 1  # not resent
    shown = stack.emu.live_positions(SUPERVISOR, pin.message_id)
    assert (shown[-1].lat, shown[-1].lon) == pytest.approx((30.275, 120.155))
    # and the Stop button under the old line still works after the restart
    await stack.press("supervisor", now_of(stack, SUPERVISOR, line), 0)
    assert stack.emu.live_status(SUPERVISOR, pin.message_id) == "stopped"


async def test_one_lookup_per_tick_for_one_user_followed_in_two_chats(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack = await make_stack()
    place(stack, ZHANGSAN, 30.27, 120.15, clock)
    follow_messages(await stack.say("supervisor", "/follow zhangsan01"))
    follow_messages(await stack.say("admin", "/follow zhangsan01"))

    before = latest_calls(stack)
    place(stack, ZHANGSAN, 30.28, 120.16, clock)
    await tick(stack)
    requests = stack.platform.requests_to(LATEST)[before:]
    assert len(requests) == 1
    assert len(stack.emu.calls_to("editMessageLiveLocation")) == 2  # one per chat
    for chat in (SUPERVISOR, ADMIN):
        pins = [m for m in stack.emu.messages(chat) if m.kind == "location"]
        assert (pins[-1].positions[-1].lat, pins[-1].positions[-1].lon) == pytest.approx(
            (30.28, 120.16)
        )


async def test_a_group_follow_shows_its_online_members(make_stack: MakeStack, clock: Clock) -> None:
    stack = await make_stack()
    data = stack.platform.data
    members = {g: [u.id for u in data.users.values() if g in u.groups] for g in data.groups}
    gid = next(g for g, ms in members.items() if sum(data.users[u].online for u in ms) >= 2)
    online = [u for u in members[gid] if data.users[u].online]
    for i, uid in enumerate(online):
        place(stack, uid, 30.2 + i / 100, 120.1, clock)

    msgs = await stack.say("supervisor", f"/follow {gid}")

    assert "Following" in msgs[0].plain_text()
    pins = [m for m in msgs if m.kind == "location"]
    assert len(pins) == min(10, len(online)) >= 1


async def test_scoped_supervisor_cannot_follow_outside_their_subtree(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack = await make_stack()
    place(stack, ZHANGSHAN, 30.27, 120.15, clock)

    out = await stack.say("scoped", "/follow zhangshan02")

    assert [m.kind for m in out] == ["text"]
    assert "Nothing matches" in out[0].plain_text()
    assert not stack.emu.calls_to("sendLocation")
    assert stack.bridge is not None
    assert await stack.bridge.repos.follows.active(clock.now) == []
    # inside the subtree the same supervisor follows: the refusal above is not vacuous
    place(stack, ZHANGSAN, 30.27, 120.15, clock)
    follow_messages(await stack.say("scoped", "/follow zhangsan01"))


async def test_stop_button_refused_to_a_scoped_supervisor_for_a_wider_follow(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack, line, pin = await following(make_stack, clock, "/follow zhangsan01")
    stack.emu.mark(SUPERVISOR)
    update = await stack.emu.press_button(
        stack.people["scoped"], line, FollowCb(follow_id=1).pack(), chat=SUPERVISOR, strict=False
    )
    await stack.wait_handled(int(update["update_id"]))
    assert stack.emu.live_status(SUPERVISOR, pin.message_id) == "live"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/follow zhangsan01 9h", "8"),
        ("/follow zhangsan01 soon", "soon"),
        ("/follow nobody-at-all", "Nothing matches"),
        ("/follow", "Usage"),
    ],
)
async def test_bad_input_gets_one_line(
    make_stack: MakeStack, clock: Clock, command: str, expected: str
) -> None:
    stack = await make_stack()
    out = await stack.say("supervisor", command)
    assert len(out) == 1 and out[0].kind == "text"
    assert expected in out[0].plain_text()
    assert len(out[0].plain_text().splitlines()) == 1
    assert not stack.emu.calls_to("sendLocation")


class Watcher:
    """A stand-in for the geofences' watcher: the users it names, the fixes it was given."""

    def __init__(self, users: set[int]) -> None:
        self.wanted = users
        self.given: list[dict[int, Any]] = []

    async def users(self, now: Any) -> set[int]:
        return set(self.wanted)

    async def on_fixes(self, fixes: Any, now: Any) -> None:
        self.given.append(dict(fixes))


async def test_the_tick_asks_once_for_the_union_of_follows_and_fences_in_batches(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack, _, _ = await following(make_stack, clock, "/follow zhangsan01")
    assert stack.bridge is not None
    everyone = set(stack.platform.data.users)
    fenced = {u for u in everyone if u != ZHANGSAN}
    watcher = Watcher(fenced | {ZHANGSAN})  # 张三 both followed and fenced
    stack.bridge.jobs.positions.fences = watcher

    before = len(stack.platform.requests_to(LATEST))
    await tick(stack)

    asked = [r.json["uids"] for r in stack.platform.requests_to(LATEST)[before:]]
    flat = [u for uids in asked for u in uids]
    assert sorted(flat) == sorted(everyone)  # each user once, 张三 included once
    assert len(asked) == -(-len(everyone) // client.FIXES_PER_CALL)
    assert all(len(uids) <= client.FIXES_PER_CALL for uids in asked)
    with_fix = {u for u, user in stack.platform.data.users.items() if user.fix is not None}
    assert set(watcher.given[0]) == with_fix  # the fences get the same fixes


async def test_the_tick_splits_a_large_union_into_batches(
    make_stack: MakeStack, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await make_stack()
    assert stack.bridge is not None
    monkeypatch.setattr(client, "FIXES_PER_CALL", 7)
    users = set(list(stack.platform.data.users)[:20])
    stack.bridge.jobs.positions.fences = Watcher(users)

    before = len(stack.platform.requests_to(LATEST))
    await tick(stack)

    asked = [r.json["uids"] for r in stack.platform.requests_to(LATEST)[before:]]
    assert [len(a) for a in asked] == [7, 7, 6]
    assert sorted(u for a in asked for u in a) == sorted(users)


async def test_a_gcj02_platform_is_followed_at_the_true_position(
    make_bot_stack: MakeStack, clock: Clock
) -> None:
    sandbox = SandboxPlatform(quirks=Quirks(coordinates="gcj02"), now=clock)
    stack = await make_bot_stack(
        sandbox=sandbox, platform_overrides={"coordinates": "gcj02"}, clock=clock
    )
    place(stack, ZHANGSAN, 30.27, 120.15, clock)
    _, pin = follow_messages(await stack.say("supervisor", "/follow zhangsan01"))
    clock.advance(timedelta(seconds=10))
    place(stack, ZHANGSAN, 30.28, 120.16, clock)
    await tick(stack)

    shown = stack.emu.live_positions(SUPERVISOR, pin.message_id)
    assert [c for p in shown for c in (p.lat, p.lon)] == pytest.approx(
        [30.27, 120.15, 30.28, 120.16], abs=1e-4
    )


async def test_follows_share_a_group_budget_with_a_burst_of_incidents_without_a_429(
    make_bot_stack: MakeStack,
) -> None:
    # Telegram's limits counted in sliding windows (20 to a group in any minute) by the
    # emulator; both sides read one clock that runs 60 times faster than real time.
    fast = FastClock(speed=60)
    emu = TelegramEmulator(BOT_TOKEN, flood_limits=True, clock=fast)
    stack = await make_bot_stack(flood_limits=True, rates=(25.0, 1.0, 20.0), emulator=emu)
    assert stack.bridge is not None
    stack.bridge.flood.use_clock(fast, fast.sleep)
    group = -100777
    stack.add_group(group, "Team follow")
    await stack.bridge.repos.subscriptions.set(group, 0, "incidents")
    wall = Clock(datetime.now(UTC))
    followed = (ZHANGSAN, 10002, 10004)
    for uid in followed:
        place(stack, uid, 30.27, 120.15, wall)
        await stack.say("supervisor", f"/follow {uid}", chat=group)

    for _ in range(20):
        status, _answer = await stack.platform_event("report", stack.platform.make_report(urls=[]))
        assert status == 200
    for k in range(1, 6):  # five ticks, every followed user moving each time
        for uid in followed:
            place(stack, uid, 30.27 + k / 1000, 120.15, wall)
        assert await stack.bridge.jobs.run("position-poll")
    await emu.wait_for(lambda: len(emu.messages(group)) >= 6 + 20, 120)
    await stack.bridge.jobs.follows.settle()

    to_group = [c for c in emu.calls if c.params.get("chat_id") == group]
    assert [c for c in to_group if c.status == 429] == []
    moves = [c for c in to_group if c.method == "editMessageLiveLocation" and c.ok]
    assert moves  # the follows did move, within what the budget left
    incidents = [m for m in emu.messages(group) if m.kind == "text"][len(followed) :]
    assert len(incidents) >= 20
    # Moves skipped while one was in flight are not queued: the next tick shows the newest.
    assert await stack.bridge.jobs.run("position-poll")
    await stack.bridge.jobs.follows.settle()
    pins = [m for m in emu.messages(group) if m.kind == "location"]
    assert len(pins) == len(followed)
    for pin in pins:
        assert pin.positions[-1].lat == pytest.approx(30.275)
    assert [c for c in emu.calls if c.status == 429] == []


async def test_the_line_says_offline_and_old_and_is_edited_only_when_it_changes(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack, line, pin = await following(make_stack, clock, "/follow zhangsan01")
    assert "fix just now" in line.plain_text()

    await tick(stack)  # nothing changed: no edit of the line, no move
    assert not stack.emu.calls_to("editMessageText")
    assert not stack.emu.calls_to("editMessageLiveLocation")

    stack.platform.data.users[ZHANGSAN].online = False
    clock.advance(timedelta(minutes=6))
    await tick(stack)

    text = now_of(stack, SUPERVISOR, line).plain_text()
    assert "offline" in text and "This position is old" in text and "6 min ago" in text
    assert len(stack.emu.calls_to("editMessageText")) == 1
    assert stack.emu.live_status(SUPERVISOR, pin.message_id) == "live"


async def test_following_the_same_user_twice_here_says_so_in_one_line(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack, _, _ = await following(make_stack, clock, "/follow zhangsan01 2h")
    out = await stack.say("supervisor", "/follow zhangsan01")
    assert [m.plain_text() for m in out] == ["张三 is already followed here, until 17:00."]
    assert len(stack.emu.calls_to("sendLocation")) == 1


async def test_a_tick_during_follow_start_leaves_its_first_messages_to_the_command(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack = await make_stack()
    assert stack.bridge is not None
    place(stack, ZHANGSAN, 30.27, 120.15, clock)
    updater = stack.bridge.jobs.follows
    with updater.starting(SUPERVISOR, 0, "user", ZHANGSAN):
        follow = await updater.repo.start(
            SUPERVISOR, 0, "user", ZHANGSAN, scope_org=None, created_by=SUPERVISOR,
            now=clock.now, ends_at=clock.now + timedelta(minutes=30),
        )  # fmt: skip
        assert follow is not None
        await tick(stack)  # the command is sending them: the tick does not
        assert not stack.emu.calls_to("sendLocation")
    await tick(stack)  # a follow whose command never sent them (a crash): the tick does
    assert len(stack.emu.calls_to("sendLocation")) == 1


async def test_subscriptions_lists_the_running_follows_here_until_when(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack, _, _ = await following(make_stack, clock, "/follow zhangsan01 2h")
    text = (await stack.say("supervisor", "/subscriptions"))[-1].plain_text()
    assert "📡 张三 (zhangsan01) followed until 17:00 (/follow)" in text

    await stack.say("supervisor", "/unfollow all")
    text = (await stack.say("supervisor", "/subscriptions"))[-1].plain_text()
    assert "followed until" not in text  # a stopped follow is no longer listed


async def test_subscriptions_names_only_follows_set_within_a_scoped_readers_subtree(
    make_stack: MakeStack, clock: Clock
) -> None:
    stack = await make_stack()
    assert stack.bridge is not None
    chat = stack.people["scoped"].id
    repo, now = stack.bridge.repos.follows, clock.now
    for target, scope_org in ((ZHANGSAN, 266), (ZHANGSHAN, None)):  # the second: unscoped
        await repo.start(chat, 0, "user", target, scope_org=scope_org, created_by=ADMIN,
                         now=now, ends_at=now + timedelta(hours=1))  # fmt: skip

    text = (await stack.say("scoped", "/subscriptions"))[-1].plain_text()

    assert "📡 张三 (zhangsan01) followed until 16:00 (/follow)" in text
    assert "张山" not in text and "zhangshan02" not in text
    assert "📡 one follow outside your scope (/follow)" in text
