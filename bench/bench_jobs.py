"""Bench of the scheduled jobs (not a test): how many platform calls they make per minute.

The setting of issue 7: 10 watched talk groups of 50 members each (every group
watched by two chats) and 20 recording subscriptions, on a sandbox of 600 users.
Ten simulated minutes are run, one member of each group changing presence per
minute, with the jobs' own periods (presence every
`BRIDGE_PRESENCE_POLL_S` = 30 s, recordings and health every 60 s, the directory
refresh every 600 s); the requests the sandbox platform receives are counted per
endpoint. No real waiting: the scheduler is paused and each job is run with the
simulated time.

A second line gives the per-user mode of the recordings job (subscriptions whose
orgs hold at most 25 users: one 2.6 call per user per minute) for comparison.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.demo.stack import Stack
from bot.jobs.recordings import PER_USER_MAX
from bot.sandbox.platform import SandboxPlatform

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 28, 10, 0, tzinfo=TZ)
MINUTES = 10
GROUPS, MEMBERS, SUBSCRIPTIONS = 10, 50, 20


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    clock = Clock(START)
    sandbox = SandboxPlatform(users=600, groups=6, now=clock)
    data = sandbox.data
    uids = sorted(data.users)
    root = data.root_org().id
    gids = [
        data.add_group(f"压测组{i + 1}", root, uids[i * MEMBERS : (i + 1) * MEMBERS]).id
        for i in range(GROUPS)
    ]
    stack = Stack(language="en", sandbox=sandbox)
    await stack.start()
    bridge = stack.bridge
    assert bridge is not None and bridge.scheduler is not None
    bridge.scheduler.pause()
    await bridge.jobs.caught_up.wait()
    orgs = sorted(data.orgs)
    try:
        for i, gid in enumerate(gids):
            for k in range(2):
                chat = stack.add_group(-200_000 - 2 * i - k, f"watch {i} {k}")
                await stack.say("supervisor", f"/watch {gid}", chat=chat)
        for i in range(SUBSCRIPTIONS):
            chat = stack.add_group(-300_000 - i, f"recordings {i}")
            await stack.say("admin", f"/subscribe recordings org {orgs[i % len(orgs)]}", chat=chat)
        subs = await bridge.repos.subscriptions.of_kind("recordings")
        concerned = len(bridge.jobs.recordings.concerned(subs))
        poll_s = bridge.settings.bridge.presence_poll_s
        refresh_s = bridge.settings.bridge.directory_refresh_s
        jobs = bridge.jobs
        await jobs.run("recordings-poll", now=START)  # the starting point, not counted
        first = len(sandbox.requests)
        started = time.perf_counter()
        rng = random.Random(7)
        for second in range(0, MINUTES * 60, poll_s):
            now = START + timedelta(seconds=second + poll_s)
            clock.now = now
            if (second + poll_s) % 60 == 0:  # churn: one member of each group per minute
                for i in range(GROUPS):
                    u = data.users[rng.choice(uids[i * MEMBERS : (i + 1) * MEMBERS])]
                    u.online = not u.online
            await jobs.run("presence-poll", now=now)
            if (second + poll_s) % 60 == 0:
                await jobs.run("recordings-poll", now=now)
                await jobs.run("platform-health", now=now)
            if (second + poll_s) % refresh_s == 0:
                await jobs.run("directory-refresh", now=now)
        elapsed = time.perf_counter() - started
        api = [r for r in sandbox.requests[first:] if r.path.startswith(sandbox.prefix + "/")]
        media = len(sandbox.requests) - first - len(api)
        counts = Counter(r.path.rsplit("/", 1)[-1] for r in api)
        total = sum(counts.values())
        print(
            f"jobs: {GROUPS} watched groups x {MEMBERS} members (2 chats each), "
            f"{SUBSCRIPTIONS} recording subscriptions ({concerned} users concerned), "
            f"{MINUTES} simulated minutes"
        )
        for path, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"  {path:<24} {n:>5}  ({n / MINUTES:.1f}/min)")
        print(f"platform API calls per minute: {total / MINUTES:.1f}  (run took {elapsed:.2f} s)")
        print(
            f"  besides: {media / MINUTES:.1f} recording downloads/min by the delivery worker "
            "(one per file: the other chats get it by its Telegram file id)"
        )
        steady = total / MINUTES - counts["audioRecord"] / MINUTES
        per_user = steady + SUBSCRIPTIONS
        print(
            f"  with {SUBSCRIPTIONS} subscriptions of one user each (per-user mode, "
            f"<= {PER_USER_MAX} users): {per_user:.1f}/min"
        )
    finally:
        await stack.stop()


if __name__ == "__main__":
    asyncio.run(main())
