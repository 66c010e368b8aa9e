"""Bench of the one position poll (issue #15, "Bench"; not a test): 100 follows in 20 group
chats plus 20 fences watching 500 users.

The whole bridge against the moving sandbox platform (a large directory) and the Telegram
emulator enforcing Telegram's flood limits (sliding windows: 30 in any second, 20 to a
group in any minute), the bridge at its default rates (25/s, 1/s per chat, 20/min per
group). Both the emulator and the bridge's flood control read one `FastClock` running
`--speed` times faster than real time; the bridge's own clock (fix ages, follow ends,
fence freshness) is driven by this bench, one `BRIDGE_FOLLOW_POLL_S` step per tick, each
tick run when the fast clock reaches its time (`jobs.run("position-poll")`, as the
scheduler would; the scheduler itself is paused).

Setup: 20 groups; in each, `/follow` of 5 users (100 follows, as typed by an admin); 20
fences of 300 m, fence j watched in group j for 25 users (500 users; the 100 followed
among them). Every followed user moves about 100 m each tick (so every tick is a wanted
move of every follow); the other fenced users stand still, some inside their fence.

Printed, each beside its target: 2.4 calls per tick and per minute (target: one call per
tick, batched), CPU per tick (the poll: whom, the lookup, follows' and fences' decisions;
then everything in the process per tick: bridge, sandbox and emulator share it), live
edits per minute per group against the group budget (20/min), and 429s (target 0).

    .venv/bin/python bench/bench_positions.py [--minutes 10] [--speed 30] [--batch 200]

`--batch` sets `bot.platform.client.FIXES_PER_CALL` for the run (what one 2.4 call carries): 500
shows what one call per tick would cost.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import resource
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.demo.stack import BOT_TOKEN, Stack
from bot.platform import client
from bot.sandbox.data import CENTER_LAT, CENTER_LON
from bot.sandbox.data.model import Fix
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import FastClock, TelegramEmulator
from bot.sandbox.telegram.model import ApiCall

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 28, 10, 0, tzinfo=TZ)
CHATS, FOLLOWS_PER_CHAT, FENCES, FENCED_PER_FENCE = 20, 5, 20, 25
RADIUS_M = 300.0
STEP_M = 100.0  # a followed user's move per tick
RATES = (25.0, 1.0, 20.0)  # the bridge's defaults: BRIDGE_RATE_GLOBAL/_PER_CHAT/_PER_GROUP_MIN
LATEST = "/location/getLatestCoords"
SENDS = ("sendMessage", "sendLocation")
EDITS = ("editMessageLiveLocation", "editMessageText", "stopMessageLiveLocation")


class Clock:
    """The bridge's clock and the sandbox's, moved by the bench."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _moved(lat: float, lon: float, metres: float, bearing: float) -> tuple[float, float]:
    dlat = metres * math.cos(math.radians(bearing)) / 111_320
    dlon = metres * math.sin(math.radians(bearing)) / (111_320 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def _busiest_minute(calls: list[ApiCall]) -> int:
    """The most messages sent or edited in one group in any 60 s (sliding, fast clock)."""
    times: dict[int, list[float]] = {}
    for c in calls:
        if c.ok and c.method in SENDS + EDITS:
            times.setdefault(int(c.params.get("chat_id", 0)), []).append(c.time)
    most = 0
    for ts in times.values():
        ts.sort()
        start = 0
        for end, t in enumerate(ts):
            while ts[start] <= t - 60:
                start += 1
            most = max(most, end - start + 1)
    return most


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=int, default=10, help="simulated minutes measured")
    ap.add_argument("--speed", type=float, default=30.0, help="fast clock: x real time")
    ap.add_argument(
        "--batch", type=int, default=client.FIXES_PER_CALL, help="users per 2.4 call (what if)"
    )
    args = ap.parse_args()
    client.FIXES_PER_CALL = args.batch
    logging.basicConfig(level=logging.ERROR)

    clock = Clock(START)
    sandbox = SandboxPlatform(users=1000, groups=20, moving=True, now=clock)
    data = sandbox.data
    fast = FastClock(speed=args.speed)
    stack = Stack(language="en", flood_limits=True, rates=RATES, sandbox=sandbox, clock=clock)
    stack.emu = TelegramEmulator(BOT_TOKEN, flood_limits=True, clock=fast)
    await stack.start()
    bridge = stack.bridge
    assert bridge is not None and bridge.scheduler is not None
    bridge.scheduler.pause()
    bridge.flood.use_clock(fast, fast.sleep)
    await bridge.jobs.caught_up.wait()
    emu, jobs, poll_s = stack.emu, bridge.jobs, bridge.settings.bridge.follow_poll_s
    try:
        rng = random.Random(15)
        # Users that only the bench moves (not on one of the sandbox's paths).
        uids = [u for u in sorted(data.users) if u not in data.paths][: FENCES * FENCED_PER_FENCE]
        followed = uids[: CHATS * FOLLOWS_PER_CHAT]
        where: dict[int, tuple[float, float]] = {}
        bearing = {u: rng.uniform(0, 360) for u in followed}

        def report(u: int, lat: float, lon: float) -> None:
            where[u] = (lat, lon)
            ms = int(clock.now.timestamp() * 1000)
            user = data.users[u]
            user.online = True
            user.fix = Fix(lat, lon, ms, speed=10.0, bearing=bearing.get(u, 0.0))

        for u in uids:
            report(u, *_moved(CENTER_LAT, CENTER_LON, rng.uniform(0, 3000), rng.uniform(0, 360)))
        chats = [stack.add_group(-1009500 - i, f"Positions {i}") for i in range(CHATS)]
        setup_started = time.perf_counter()
        for i, chat in enumerate(chats):
            for u in followed[i * FOLLOWS_PER_CHAT : (i + 1) * FOLLOWS_PER_CHAT]:
                out = await stack.say("admin", f"/follow {u} 8h", chat=chat)
                assert len(out) == 2, [m.plain_text() for m in out]  # the line and the pin
        admin = stack.people["admin"].id
        for j in range(FENCES):
            watched = uids[j * FENCED_PER_FENCE : (j + 1) * FENCED_PER_FENCE]
            lat, lon = where[watched[0]]
            fence = await bridge.repos.fences.add(
                f"bench-{j}", lat, lon, RADIUS_M, org_id=None, created_by=admin, now=clock.now
            )
            assert fence is not None
            for u in watched:
                await bridge.repos.fences.watch(
                    fence.id, chats[j], 0, "user", u, "both",
                    scope_org=None, created_by=admin, now=clock.now,
                )  # fmt: skip
        setup_s = time.perf_counter() - setup_started
        assert len(await bridge.repos.follows.active(clock.now)) == CHATS * FOLLOWS_PER_CHAT
        concerned = len(await jobs.positions.users(clock.now))

        # One tick to settle the fences' first view (no crossing is news), not measured.
        await jobs.run("position-poll", now=clock.now)
        await jobs.follows.settle()
        ticks = args.minutes * 60 // poll_s
        first_call = len(emu.calls)
        t0 = fast()
        per_tick_calls: list[int] = []
        poll_cpu: list[float] = []
        late = 0
        cpu_started, wall_started = _cpu_s(), time.perf_counter()
        for k in range(1, ticks + 1):
            due = t0 + k * poll_s
            if fast() > due:
                late += 1
            await fast.sleep(due - fast())
            clock.now = START + timedelta(seconds=k * poll_s)
            for u in followed:
                report(u, *_moved(*where[u], STEP_M, bearing[u]))
            before = sandbox.call_counts()[LATEST]
            cpu = time.process_time()
            assert await jobs.run("position-poll", now=clock.now)
            poll_cpu.append(time.process_time() - cpu)
            per_tick_calls.append(sandbox.call_counts()[LATEST] - before)
        await fast.sleep(t0 + (ticks + 1) * poll_s - fast())
        await jobs.follows.settle()
        all_cpu, wall = _cpu_s() - cpu_started, time.perf_counter() - wall_started
        calls = emu.calls[first_call:]
    finally:
        await stack.stop()

    minutes = ticks * poll_s / 60
    by_method = Counter(c.method for c in calls if c.ok)
    too_many = sum(1 for c in calls if c.status == 429)
    failed = sum(1 for c in calls if not c.ok and c.status != 429)
    busiest = _busiest_minute(calls)
    moves = by_method["editMessageLiveLocation"]
    wanted = ticks * len(followed)
    mean_cpu = sum(poll_cpu) / len(poll_cpu)

    print(
        f"positions: {len(followed)} follows in {CHATS} groups + {FENCES} fences watching "
        f"{FENCES * FENCED_PER_FENCE} users ({concerned} users concerned), sandbox of "
        f"{len(data.users)} users (moving), emulator with Telegram's flood limits, "
        f"{ticks} ticks of {poll_s} s = {minutes:g} simulated min (fast clock x{args.speed:g}; "
        f"setup {setup_s:.1f} s)"
    )
    per_tick = Counter(per_tick_calls)
    print(
        f"  2.4 calls per tick: {sum(per_tick_calls) / ticks:.2f} "
        f"(each tick: {dict(sorted(per_tick.items()))}; batches of {client.FIXES_PER_CALL} users)"
        f"  target 1 -> {'met' if set(per_tick) == {1} else 'NOT met'}"
    )
    print(
        f"  2.4 calls per minute: {sum(per_tick_calls) / minutes:.1f}  "
        f"target {60 / poll_s:g} (one per tick)"
    )
    print(
        f"  CPU per tick, the poll: mean {mean_cpu * 1000:.1f} ms, max "
        f"{max(poll_cpu) * 1000:.1f} ms (tick every {poll_s} s: {mean_cpu / poll_s:.2%} of a core)"
    )
    print(
        f"  CPU per tick, whole process (bridge + sandbox + emulator, moves and sends "
        f"included): {all_cpu / ticks * 1000:.1f} ms; real time {wall:.1f} s; "
        f"ticks started late: {late}"
    )
    print(
        f"  live location edits: {moves / minutes:.0f}/min of {wanted / minutes:.0f}/min "
        f"wanted (every follow moves every tick); line edits "
        f"{by_method['editMessageText'] / minutes:.0f}/min; new messages "
        f"{sum(by_method[m] for m in SENDS) / minutes:.1f}/min"
    )
    print(
        f"  per group: {(moves + by_method['editMessageText']) / minutes / CHATS:.1f} edits/min "
        f"on average; busiest group in any 60 s: {busiest} messages/edits  budget "
        f"{RATES[2]:g}/min per group -> {'within' if busiest <= RATES[2] else 'OVER'}"
    )
    print(
        f"  429s: {too_many}  target 0 -> {'met' if too_many == 0 else 'NOT met'}"
        + (f"; other failed calls: {failed}" if failed else "")
    )


if __name__ == "__main__":
    asyncio.run(main())
