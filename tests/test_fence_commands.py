"""/fence end to end (issue #15 point 4): the Telegram emulator, the sandbox platform and
the bridge in one process. Crossings are driven by handing `FenceWatcher.on_fixes` fixes
built here (the poll job that fetches them is another part), with the bridge's clock
driven by the test; the alerts reach the chat through the outbox and the emulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from conftest import SANDBOX_NOW

from bot.demo.stack import Stack
from bot.directory import Kind
from bot.geo.fences import FenceArea
from bot.geo.measure import destination
from bot.jobs.fences import FenceWatcher
from bot.platform.models import Fix
from bot.relay.context import Context
from bot.sandbox.data import DEMO_FENCE
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage
from bot.telegram.callbacks import PickAction, PickCb

MakeStack = Callable[..., Awaitable[Stack]]
SUPERVISOR_ID = 1002
DEPOT = (30.2741, 120.1551)
POLL = timedelta(seconds=10)


class Clock:
    """The bridge's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 10) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(SANDBOX_NOW)


@pytest.fixture
def make_stack(make_bot_stack: MakeStack, clock: Clock) -> Callable[[], Awaitable[Stack]]:
    async def make() -> Stack:
        sandbox = SandboxPlatform(now=lambda: SANDBOX_NOW)
        return await make_bot_stack(sandbox=sandbox, clock=clock)

    return make


def watcher(stack: Stack) -> FenceWatcher:
    b = stack.bridge
    assert b is not None
    t = b.translator.get(b.settings.bridge.language)
    ctx = Context(b.db, b.client, b.directory, t, b.settings.bridge.tz, b.clock, b.delivery.wake)
    return FenceWatcher(ctx, b.repos.outbox, b.repos.fences, poll=POLL)


def fix(uid: int, distance_m: float, at: datetime, bearing: float = 90) -> Fix:
    p = destination(*DEPOT, bearing, distance_m)
    return Fix.model_construct(uid=uid, lat=p.lat, lon=p.lon, time=at, online=True)


async def say(stack: Stack, text: str, who: str = "supervisor") -> list[str]:
    return [m.plain_text() for m in await stack.say(who, text)]


async def reply_to_location(
    stack: Stack, who: str, text: str, lat: float, lon: float
) -> list[EmuMessage]:
    user = stack.people[who]
    shared = await stack.emu.send_location(user, lat, lon)
    await stack.wait_handled(int(shared["update_id"]))
    stack.emu.mark(user.id)
    update = await stack.emu.send_message(user, text, reply_to=int(shared["message"]["message_id"]))
    await stack.wait_handled(int(update["update_id"]))
    out = stack.emu.pending_messages(user.id)
    stack.emu.mark(user.id)
    return out


async def audit_actions(stack: Stack) -> list[str]:
    assert stack.bridge is not None
    rows = await stack.bridge.db.fetchall("SELECT action FROM audit ORDER BY id")
    return [r["action"] for r in rows]


# ---- add, list, del ----------------------------------------------------------------------


async def test_add_by_reply_to_a_shared_location_and_by_coordinates_then_list_and_delete(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    msgs = await reply_to_location(stack, "supervisor", "/fence add depot 300m", *DEPOT)
    assert [m.plain_text() for m in msgs] == [
        "🚧 Fence depot added: 300 m around 30.27410,120.15510. To be told here who enters "
        "or leaves it: /fence watch depot <user|group>"
    ]
    (out,) = await say(stack, "/fence add 东站 30.29,120.21 1.5km")
    assert out.startswith("🚧 Fence 东站 added: 1.5 km around 30.29000,120.21000.")
    (out,) = await say(stack, "/fence add DEPOT 30.1,120.1 100")
    assert out.startswith("There is already a fence called DEPOT")

    (listed,) = await say(stack, "/fence list")
    assert listed.splitlines() == [
        "🚧 Fences:",
        "• depot: circle r = 300 m around 30.27410,120.15510",
        "• 东站: circle r = 1.5 km around 30.29000,120.21000",
    ]
    (out,) = await say(stack, "/fence del depot")
    assert out == "🗑 Fence depot deleted, with no watch."
    (listed,) = await say(stack, "/fence list")
    assert "depot" not in listed and "东站" in listed
    assert await audit_actions(stack) == ["fence-add", "fence-add", "fence-add", "fence-del"]


async def test_a_polygon_is_added_listed_beside_a_circle_and_deleted(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    corners = "30.2741,120.1551 30.2741,120.1580 30.2760,120.1580 30.2760,120.1551"
    (out,) = await say(stack, f"/fence add yard {corners}")
    assert out == (
        "🚧 Fence yard added: a polygon of 4 points, ~350 m across, around "
        "30.27505,120.15655. To be told here who enters or leaves it: "
        "/fence watch yard <user|group>"
    )
    assert stack.bridge is not None
    (yard,) = await stack.bridge.repos.fences.find("yard", None)
    assert yard.polygon == (
        (30.2741, 120.1551), (30.2741, 120.158), (30.276, 120.158), (30.276, 120.1551)
    )  # fmt: skip
    assert yard.radius_m == pytest.approx(174.8, abs=0.1)  # the bounding circle
    (out,) = await say(stack, "/fence add YARD 30.1,120.1 30.1,120.2 30.2,120.1")
    assert out.startswith("There is already a fence called YARD")
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    (listed,) = await say(stack, "/fence list")
    assert listed.splitlines() == [
        "🚧 Fences:",
        "• depot: circle r = 300 m around 30.27410,120.15510",
        "• yard: polygon, 4 points, ~350 m across, around 30.27505,120.15655",
    ]
    (out,) = await say(stack, "/fence del yard")
    assert out == "🗑 Fence yard deleted, with no watch."
    (listed,) = await say(stack, "/fence list")
    assert "yard" not in listed and "depot" in listed
    assert stack.bridge is not None
    rows = await stack.bridge.db.fetchall(
        "SELECT args FROM audit WHERE action = 'fence-add' ORDER BY id"
    )
    assert '"count":4' in rows[0]["args"] and '"count"' not in rows[-1]["args"]


async def test_the_polygon_usage_in_both_languages(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    (out,) = await say(stack, "/fence add")
    assert "/fence add <name> <lat>,<lon> <lat>,<lon> <lat>,<lon> … (a polygon" in out
    assert "<lat>,<lon> <radius> (a circle)" in out
    (out,) = await say(stack, "/lang zh")
    (out,) = await say(stack, "/fence add 场院 30.27,120.15 30.28,120.15")
    assert out == "多边形围栏须有 3 到 50 个顶点，收到 2 个。圆形围栏请给一个点和半径。"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/fence", "Usage: reply to a shared location"),
        ("/fence frobnicate", "Usage: reply to a shared location"),
        ("/fence add", "Usage: reply to a shared location with /fence add"),
        ("/fence add depot 300m", "No place for the fence: reply to a shared location"),
        ("/fence add depot 30.27,120.15", "Usage: reply to a shared location with /fence add"),
        ("/fence add depot 30.27,120.15 0m", "The radius must be between 10 m and 50 km"),
        ("/fence add depot 30.27,120.15 500km", "The radius must be between 10 m and 50 km"),
        ("/fence add depot 30.27,120.15 wide", "“wide” is not a radius I understand."),
        ("/fence add depot 95,120.15 300m", "“95,120.15” is off the map"),
        # Polygons: two or more points and no radius.
        ("/fence add yard 30.27,120.15 30.28,120.15", "A polygon fence has 3 to 50 corners, not 2"),
        ("/fence add yard 30.27,120.15 30.28,120.15 300m", "A polygon fence has 3 to 50 corners"),
        (
            f"/fence add yard {' '.join(f'30.27,120.{i:03d}' for i in range(51))}",
            "A polygon fence has 3 to 50 corners, not 51.",
        ),
        (
            "/fence add yard 30.27,120.15 30.28,120.15 30.28,120.16 300m",
            "A fence of 3 corners is a polygon and takes no radius.",
        ),
        (
            "/fence add yard 30.27,120.15 30.28,120.15 30.28,120.16 wide",
            "Usage: reply to a shared location with /fence add",
        ),
        ("/fence add yard 30.27,120.15 95,120.15 30.28,120.16", "“95,120.15” is off the map"),
        (
            "/fence add yard 30.27,120.15 30.28,120.16 30.28,120.15 30.27,120.16",
            "The polygon's edges cross (the edge after corner 1 and the one after corner 3)",
        ),
        (
            "/fence add yard 30.27,120.15 30.28,120.15 30.28,120.16 30.27,120.15",
            "Corner 4 is the same place as corner 1",
        ),
        (
            "/fence add yard 30.27,120.15 30.27,120.15005 30.27005,120.15",
            "The polygon is too small: it must enclose at least 100 m².",
        ),
        ("/fence add yard 30,120 31,120 31,121", "The polygon is too large"),
        ("/fence watch nowhere zhangsan01", "No fence called “nowhere”."),
        ("/fence watch", "Usage: /fence watch <fence> <user|group…> [enter|leave]"),
        ("/fence del nowhere", "No fence called “nowhere”."),
        ("/fence del", "Usage: /fence del <name>"),
        ("/fence unwatch", "Usage: /fence unwatch <fence> [user|group…]"),
    ],
)
async def test_bad_input_gets_a_clear_answer(
    make_stack: Callable[[], Awaitable[Stack]], command: str, expected: str
) -> None:
    stack = await make_stack()
    out = await say(stack, command)
    assert len(out) == 1
    assert out[0].startswith(expected), out[0]
    listed = await say(stack, "/fence list")
    assert listed[0].startswith("No fences yet.")  # nothing was added


async def test_unknown_user_on_watch(make_stack: Callable[[], Awaitable[Stack]]) -> None:
    stack = await make_stack()
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    (out,) = await say(stack, "/fence watch depot nobody_at_all")
    assert "nobody_at_all" in out and "No" in out
    (listed,) = await say(stack, "/fence list")
    assert "Watched in this chat" not in listed


# ---- crossings ---------------------------------------------------------------------------


async def test_walk_in_and_out_tells_the_chat_exactly_once_each_way_with_a_pin(
    make_stack: Callable[[], Awaitable[Stack]], clock: Clock
) -> None:
    stack = await make_stack()
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    (out,) = await say(stack, "/fence watch depot zhangsan01")
    assert out == "🚧 This chat is told when 张三 (zhangsan01) enters or leaves depot."
    w = watcher(stack)
    assert await w.users(clock.now) == {10001}

    # Outside, then walking in: two fresh fixes inside decide the entry; more inside say nothing.
    for d in (900, 700, 500, 100, 50, 20, 10):
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, d, now)}, now)
    msgs = await stack.emu.wait_for_messages(SUPERVISOR_ID, 2)
    assert [m.kind for m in msgs] == ["text", "location"]
    text, pin = msgs
    entered_at = SANDBOX_NOW + timedelta(seconds=50)  # the fix at 50 m completed it
    assert text.plain_text() == f"🚧 张三 (zhangsan01) entered depot at {entered_at:%H:%M:%S}."
    assert pin.reply_to_message_id == text.message_id
    assert pin.location is not None
    p = destination(*DEPOT, 90, 50)
    assert pin.location.lat == pytest.approx(p.lat, abs=1e-6)
    assert pin.location.lon == pytest.approx(p.lon, abs=1e-6)

    # And out again.
    for d in (200, 320, 600, 800, 900):
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, d, now)}, now)
    msgs = await stack.emu.wait_for_messages(SUPERVISOR_ID, 2)
    left_at = SANDBOX_NOW + timedelta(
        seconds=110
    )  # 320 m is in the 270-330 m band; 600, 800 decide
    assert msgs[0].plain_text() == f"🚧 张三 (zhangsan01) left depot at {left_at:%H:%M:%S}."
    assert msgs[1].kind == "location"
    assert await fence_rows(stack) == 2  # exactly once each way


async def fence_rows(stack: Stack) -> int:
    """How many crossing messages were queued (each is one row, whatever its state)."""
    assert stack.bridge is not None
    rows = await stack.bridge.db.fetchall("SELECT id FROM outbox WHERE kind = 'fence'")
    return len(rows)


async def test_jitter_on_the_boundary_and_stale_fixes_tell_nothing(
    make_stack: Callable[[], Awaitable[Stack]], clock: Clock
) -> None:
    stack = await make_stack()
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    await say(stack, "/fence watch depot 1002")  # 消防一大队主频, which holds zhangsan01
    w = watcher(stack)
    assert 10001 in await w.users(clock.now)
    # Inside first, then jittering across the boundary (300 m ± 30 m band, and one fix at
    # a time outside it): never two fresh fixes beyond the margin in a row.
    for d in (100, 100, 290, 320, 280, 340, 310, 250, 345, 290):
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, d, now)}, now)
    # Stale: fixes far outside but older than three polls decide nothing.
    for _ in range(4):
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, 2000, now - timedelta(seconds=40))}, now)
    assert stack.bridge is not None
    assert await fence_rows(stack) == 0
    states = await stack.bridge.repos.fences.states()
    assert [s.inside for s in states.values()] == [True]
    # The same fixes, fresh: now it leaves (the check above could fail).
    for _ in range(2):
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, 2000, now)}, now)
    msgs = await stack.emu.wait_for_messages(SUPERVISOR_ID, 2)
    assert msgs[0].plain_text().startswith("🚧 张三 (zhangsan01) left depot at")


async def test_leave_only_watch_says_nothing_on_entry(
    make_stack: Callable[[], Awaitable[Stack]], clock: Clock
) -> None:
    stack = await make_stack()
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    (out,) = await say(stack, "/fence watch depot zhangsan01 leave")
    assert out == "🚧 This chat is told when 张三 (zhangsan01) leaves depot."
    w = watcher(stack)
    for d in (900, 100, 100, 900, 900):
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, d, now)}, now)
    msgs = await stack.emu.wait_for_messages(SUPERVISOR_ID, 2)
    assert msgs[0].plain_text().startswith("🚧 张三 (zhangsan01) left depot")
    assert await fence_rows(stack) == 1


# ---- scope, unwatch, /subscriptions ------------------------------------------------------


async def test_scoped_supervisor_sees_and_watches_only_their_subtree(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    await say(stack, "/fence add hq 30.2741,120.1551 300m")  # unscoped
    # A scoped supervisor does not see an unscoped fence, nor users outside org 266.
    (out,) = await say(stack, "/fence watch hq zhangsan01", who="scoped")
    assert out == "No fence called “hq”. /fence list shows them."
    (out,) = await say(stack, "/fence add east 30.2741,120.1551 300m", who="scoped")
    assert out.startswith("🚧 Fence east added")
    (out,) = await say(stack, "/fence watch east zhangshan02", who="scoped")  # org 267
    assert "zhangshan02" in out and "This chat is told" not in out
    (out,) = await say(stack, "/fence watch east zhangsan01", who="scoped")
    assert out.startswith("🚧 This chat is told when 张三")
    (listed,) = await say(stack, "/fence list", who="scoped")
    assert "east" in listed and "hq" not in listed
    # The unscoped supervisor sees both fences.
    (listed,) = await say(stack, "/fence list")
    assert "east" in listed and "hq" in listed


async def test_unwatch_and_subscriptions_list_the_watches(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    await say(stack, "/fence watch depot zhangsan01 enter")
    await say(stack, "/fence watch depot 1002")
    (subs,) = await say(stack, "/subscriptions")
    assert "🚧 张三 (zhangsan01) entering depot (/fence)" in subs
    assert "entering or leaving depot (/fence)" in subs
    (out,) = await say(stack, "/fence unwatch depot zhangsan01")
    assert out == "Stopped one watch of depot here."
    (out,) = await say(stack, "/fence unwatch depot")
    assert out == "Stopped one watch of depot here."
    (out,) = await say(stack, "/fence unwatch depot")
    assert out == "This chat watched nobody on depot."
    (subs,) = await say(stack, "/subscriptions")
    assert "(/fence)" not in subs
    actions = await audit_actions(stack)
    assert actions.count("fence-watch") == 2 and actions.count("fence-unwatch") == 3


async def test_in_a_group_only_its_administrators_change_fences(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    group = stack.add_group(-100500, "Dispatch", admins=("admin",))
    out = [
        m.plain_text()
        for m in await stack.say("supervisor", "/fence add d 30.27,120.15 300m", chat=group)
    ]
    assert len(out) == 1 and "administrator" in out[0]
    assert stack.bridge is not None
    assert await stack.bridge.repos.fences.visible(None) == []


async def test_a_muted_chat_holds_the_alert_and_gets_it_when_the_mute_ends(
    make_stack: Callable[[], Awaitable[Stack]], clock: Clock
) -> None:
    stack = await make_stack()
    muted = stack.add_group(-100600, "Dispatch", admins=("admin",))
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    await say(stack, "/fence watch depot zhangsan01")
    await stack.say("admin", "/fence watch depot zhangsan01", chat=muted)
    [ok] = await stack.say("admin", "/mute 30m", chat=muted)
    assert "Muted until" in ok.plain_text()
    shown_before = len(stack.emu.messages(muted))
    w = watcher(stack)
    for d in (900, 100, 100):
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, d, now)}, now)
    # The unmuted chat has it: the worker has had its turn at the muted one.
    await stack.emu.wait_for_messages(SUPERVISOR_ID, 2)
    assert stack.bridge is not None
    delivery = stack.bridge.delivery
    delivery.idle.clear()
    delivery.wake()
    await asyncio.wait_for(delivery.idle.wait(), 10)
    assert len(stack.emu.messages(muted)) == shown_before
    rows = await stack.bridge.db.fetchall(
        "SELECT state FROM outbox WHERE chat_id = ? AND kind = 'fence'", (muted,)
    )
    assert [r["state"] for r in rows] == ["pending"]

    await stack.say("admin", "/mute off", chat=muted)
    await stack.emu.wait_for(lambda: len(stack.emu.messages(muted)) >= shown_before + 4)
    after = [m.plain_text() for m in stack.emu.messages(muted)[shown_before:]]
    assert any("fence crossings: 1" in text for text in after)
    assert any(text.startswith("🚧 张三 (zhangsan01) entered depot at") for text in after)
    assert stack.emu.messages(muted)[-1].kind == "location"


async def test_a_scoped_watch_of_a_group_concerns_and_tells_only_members_in_scope(
    make_stack: Callable[[], Awaitable[Stack]], clock: Clock
) -> None:
    stack = await make_stack()
    data = stack.platform.data
    await say(stack, "/fence add east 30.2741,120.1551 300m", who="scoped")
    (out,) = await say(stack, "/fence watch east 1002", who="scoped")  # org 266's group
    assert out.startswith("🚧 This chat is told when 消防一大队主频 enters or leaves east")
    in_scope = {u.id for u in data.members(1002) if u.org_id in (266, 268)}
    outside = {u.id for u in data.members(1002)} - in_scope
    assert 10001 in in_scope and 10017 in outside  # 10017 is in org 267
    w = watcher(stack)
    assert await w.users(clock.now) == in_scope
    for d in (900, 100, 100):
        now = clock.tick()
        await w.on_fixes({uid: fix(uid, d, now) for uid in (10001, 10017)}, now)
    msgs = await stack.emu.wait_for_messages(stack.people["scoped"].id, 2)
    assert msgs[0].plain_text().startswith("🚧 张三 (zhangsan01) entered east")
    assert await fence_rows(stack) == 1  # none for 10017


async def test_a_crossing_half_seen_before_a_restart_is_told_once_after_it(
    make_stack: Callable[[], Awaitable[Stack]], clock: Clock
) -> None:
    stack = await make_stack()
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    await say(stack, "/fence watch depot zhangsan01")
    w = watcher(stack)
    for d in (900, 100):  # outside, then one fix inside: not decided yet
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, d, now)}, now)
    assert await fence_rows(stack) == 0
    await stack.restart_bridge()
    w = watcher(stack)  # a new process: the state comes from the database
    for d in (100, 100):
        now = clock.tick()
        await w.on_fixes({10001: fix(10001, d, now)}, now)
    msgs = await stack.emu.wait_for_messages(SUPERVISOR_ID, 2)
    entered_at = SANDBOX_NOW + timedelta(seconds=30)  # the second fix inside, after restart
    assert msgs[0].plain_text() == f"🚧 张三 (zhangsan01) entered depot at {entered_at:%H:%M:%S}."
    assert await fence_rows(stack) == 1


async def test_a_polygon_on_the_rider_s_way_tells_his_entry_and_exit_through_the_poll(
    make_bot_stack: MakeStack, clock: Clock
) -> None:
    """End to end: the sandbox's zhangsan01 rides south through the demo landmark (inside
    300 m of it from about 3 to 5 past the hour); the position poll asks 2.4 every 10 s."""
    stack = await make_bot_stack(sandbox=SandboxPlatform(moving=True, now=clock), clock=clock)
    bridge = stack.bridge
    assert bridge is not None and bridge.scheduler is not None
    bridge.scheduler.pause()  # the poll runs by hand, on the test's clock
    await bridge.jobs.caught_up.wait()
    lat, lon, _ = DEMO_FENCE
    # A square with its corners 250 m north, east, south and west of the landmark: the
    # rider enters by its north corner and leaves by its south one.
    corners = [destination(lat, lon, b, 250) for b in (0, 90, 180, 270)]
    (out,) = await say(
        stack, "/fence add yard " + " ".join(f"{c.lat:.6f},{c.lon:.6f}" for c in corners)
    )
    assert out.startswith("🚧 Fence yard added: a polygon of 4 points")
    await say(stack, "/fence watch yard zhangsan01")
    assert clock.now.minute == 0
    for _ in range(60):  # ten minutes
        now = clock.tick()
        assert await bridge.jobs.run("position-poll", now=now)
    msgs = await stack.emu.wait_for_messages(SUPERVISOR_ID, 4)
    assert [m.kind for m in msgs] == ["text", "location", "text", "location"]
    assert await fence_rows(stack) == 2
    entered, left = msgs[0].plain_text(), msgs[2].plain_text()
    assert entered.startswith("🚧 张三 (zhangsan01) entered yard at 15:0")
    assert left.startswith("🚧 张三 (zhangsan01) left yard at 15:0")
    assert entered[-9:] < left[-9:]  # HH:MM:SS.
    (yard,) = await bridge.repos.fences.find("yard", None)
    area = FenceArea(yard.lat, yard.lon, yard.radius_m, yard.polygon)
    pins = [m.location for m in msgs[1::2]]
    assert pins[0] is not None and pins[1] is not None
    assert area.side(pins[0].lat, pins[0].lon) is True  # deeper than the margin
    assert area.side(pins[1].lat, pins[1].lon) is False
    # Not a circle: the bounding circle (250 m) holds this point, the polygon does not.
    beside = destination(lat, lon, 45, 200)  # the edge is 177 m from the centre that way
    assert area.contains(lat, lon) and not area.contains(beside.lat, beside.lon)


# ---- an ambiguous name: pick buttons --------------------------------------------------------


def labels(msg: EmuMessage) -> list[str]:
    return [text for text, _ in msg.buttons()]


async def watches_of(stack: Stack, chat: int) -> list[tuple[str, int, str]]:
    assert stack.bridge is not None
    watches = await stack.bridge.repos.fences.watches_for_chat(chat)
    return sorted((w.target_kind, w.target_id, w.events) for w in watches)


async def test_an_ambiguous_name_on_watch_gets_buttons_and_a_tap_stores_the_watch_as_typed(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    me = stack.people["supervisor"].id
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    [asked] = await stack.say("supervisor", "/fence watch depot zs 1003 enter")
    assert asked.plain_text().startswith("“zs”: 3 matches — pick one")
    assert sorted(labels(asked)) == [
        "👤 张三 (zhangsan01)",
        "👤 张山 (zhangshan02)",
        "👤 张珊 (zhangshan01)",
    ]
    assert await watches_of(stack, me) == []  # nothing stored before the choice

    out = [m.plain_text() for m in await stack.press("supervisor", asked, "👤 张三 (zhangsan01)")]
    # The same as typing the id: the events and the other name kept.
    (typed,) = await say(stack, "/fence watch depot 10001 1003 enter")
    assert out == [typed]
    assert typed.startswith("🚧 This chat is told when 张三 (zhangsan01), 消防二大队主频 enter")
    assert await watches_of(stack, me) == [("group", 1003, "enter"), ("user", 10001, "enter")]
    actions = await audit_actions(stack)
    assert actions.count("fence-watch") == 2

    # Two ambiguous names: one question after the other, the first choice kept.
    [first] = await stack.say("supervisor", "/fence watch depot zs zs leave")
    [second] = await stack.press("supervisor", first, "👤 张珊 (zhangshan01)")
    assert second.plain_text().startswith("“zs”: 3 matches")
    [done] = await stack.press("supervisor", second, "👤 张山 (zhangshan02)")
    assert done.plain_text().startswith("🚧 This chat is told when 张珊 (zhangshan01), 张山")
    assert ("user", 10002, "leave") in await watches_of(stack, me)
    assert ("user", 10003, "leave") in await watches_of(stack, me)


async def test_an_ambiguous_name_on_unwatch_gets_buttons_too(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    me = stack.people["supervisor"].id
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    await say(stack, "/fence watch depot 10001 10002")
    [asked] = await stack.say("supervisor", "/fence unwatch depot zs")
    [done] = await stack.press("supervisor", asked, "👤 张珊 (zhangshan01)")
    assert done.plain_text() == "Stopped one watch of depot here."
    assert await watches_of(stack, me) == [("user", 10001, "both")]


async def test_a_pick_of_another_person_or_an_expired_one_is_refused_in_words(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    chat = stack.add_group(-100700, "Dispatch", admins=("supervisor", "admin"))
    await say(stack, "/fence add depot 30.2741,120.1551 300m")
    [asked] = await stack.say("supervisor", "/fence watch depot zs", chat=chat)
    data = next(d for text, d in asked.buttons() if "zhangsan01" in text)
    assert isinstance(data, str)
    assert await stack.press_data("admin", asked, data) == [
        "This button answers whoever asked for it: send the command yourself."
    ]
    assert await watches_of(stack, chat) == []
    # A pick button on a message that holds no /fence command: expired.
    [other] = await stack.say("supervisor", "/help", chat=chat)
    assert await stack.press_data("supervisor", other, data) == [
        "This button has expired. Please send the command again."
    ]
    # A /where pick message is not a /fence one either.
    [where] = await stack.say("supervisor", "/where zs", chat=chat)
    assert await stack.press_data("supervisor", where, data) == [
        "This button has expired. Please send the command again."
    ]
    assert await watches_of(stack, chat) == []
    # Its own button, after a restart, still finishes the command.
    await stack.restart_bridge()
    out = await stack.press_data("supervisor", asked, data)
    assert out[0].startswith("🚧 This chat is told when 张三 (zhangsan01) enters or leaves depot")
    assert await watches_of(stack, chat) == [("user", 10001, "both")]


async def test_a_scoped_supervisor_picks_only_among_names_in_scope(
    make_stack: Callable[[], Awaitable[Stack]],
) -> None:
    stack = await make_stack()
    me = stack.people["scoped"].id
    await say(stack, "/fence add east 30.2741,120.1551 300m", who="scoped")
    [asked] = await stack.say("scoped", "/fence watch east zs")
    assert sorted(labels(asked)) == ["👤 张三 (zhangsan01)", "👤 张珊 (zhangshan01)"]
    # A forged choice of 张山 (org 267) is not found, and stores nothing.
    forged = PickCb(action=PickAction.FENCE_WATCH, kind=Kind.USER, id=10003).pack()
    out = await stack.press_data("scoped", asked, forged)
    assert out[0] == "No user matches “10003”."
    forged = PickCb(action=PickAction.FENCE_WATCH, kind=Kind.ORG, id=266).pack()
    out = await stack.press_data("scoped", asked, forged)
    assert out[0] == "No org matches “266”."
    assert await watches_of(stack, me) == []
    [done] = await stack.press("scoped", asked, "👤 张珊 (zhangshan01)")
    assert done.plain_text().startswith("🚧 This chat is told when 张珊 (zhangshan01)")
    assert await watches_of(stack, me) == [("user", 10002, "both")]
