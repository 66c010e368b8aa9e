"""Bench of the bot core (not a test): prints figures.

1. Command round trip (update in -> reply recorded by the emulator) for /online
   at 1 and 50 concurrent users, beside the platform's own latency for the same
   calls (2.2 + 2.3) measured in the same run; overhead = round trip - platform.
2. Directory load time, search p99 and RSS with the sandbox's 50,000-user mode.

Targets: overhead above the platform p50 <= 5 ms, p99 <= 20 ms; search p99 <= 10 ms;
RSS <= 200 MB.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Settings
from bot.demo.stack import Stack
from bot.directory import Directory
from bot.platform import PlatformClient
from storage.roles import Role


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def round_trips() -> None:
    stack = Stack(language="en")
    await stack.start()
    assert stack.bridge is not None
    client = stack.bridge.client
    assert client is not None
    gid = 1002
    members = list(stack.bridge.directory.group(gid).member_ids)  # type: ignore[union-attr]
    try:
        for concurrency in (1, 50):
            users = [
                stack.emu.add_user(50_000 + i, f"Bench {i}", language_code="en")
                for i in range(concurrency)
            ]
            for u in users:
                await stack.bridge.roles.set(u.id, Role.VIEWER)
            # warm-up
            await stack.say(users[0], f"/online {gid}")
            trips: list[float] = []
            platform: list[float] = []
            rounds = max(1, 200 // concurrency)

            async def one(u: object) -> None:
                started = time.perf_counter()
                await stack.say(u, f"/online {gid}")  # type: ignore[arg-type]
                trips.append((time.perf_counter() - started) * 1000)

            async def plat() -> None:
                started = time.perf_counter()
                await asyncio.gather(
                    client.in_group_uids(gid, members), client.online_uids(gid, members)
                )
                platform.append((time.perf_counter() - started) * 1000)

            for _ in range(rounds):
                await asyncio.gather(*(one(u) for u in users))
                await asyncio.gather(*(plat() for _ in users))
            p50, p99 = pct(trips, 50), pct(trips, 99)
            q50, q99 = pct(platform, 50), pct(platform, 99)
            print(
                f"/online round trip, {concurrency:>2} concurrent users, n={len(trips)}: "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms | platform alone p50 {q50:.1f} ms, "
                f"p99 {q99:.1f} ms | overhead p50 {p50 - q50:.1f} ms (target <= 5), "
                f"p99 {p99 - q99:.1f} ms (target <= 20)"
            )
    finally:
        await stack.stop()


async def directory_large() -> None:
    # The 50,000-user sandbox runs in its own process, so RSS here is the bridge's.
    port = 18_000 + (int(time.time()) % 1000)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "sandbox",
            "--port",
            str(port),
            "--users",
            "50000",
            "--groups",
            "2000",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(url + "/healthz", timeout=1)
            break
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    gc.collect()
    before = rss_mb()
    settings = Settings.load(None, platform={"base_url": url, "token": "sandbox-token"})
    client = PlatformClient(settings.platform, settings.bridge.tz)
    directory = Directory(client)
    try:
        started = time.perf_counter()
        ok = await directory.refresh()
        load_s = time.perf_counter() - started
        snap = directory.snapshot
        print(
            f"directory load (50,000 users, 2,000 groups, {len(snap.orgs)} orgs): {load_s:.2f} s"
            f" (ok={ok})"
        )
        users = list(snap.users.values())[:: max(1, len(snap.users) // 300)]
        queries = []
        for u in users:
            queries += [u.name, u.account, u.pinyin_abbr, u.pinyin_full[:4], u.name[:1]]
        queries += ["zhang", "zs", "消防", "1002", "巡逻"]
        times: list[float] = []
        for q in queries:
            started = time.perf_counter()
            directory.search(q, limit=20)
            times.append((time.perf_counter() - started) * 1000)
        scope = directory.subtree(266)
        for q in queries[:300]:
            started = time.perf_counter()
            directory.search(q, scope=scope, limit=20)
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"search over {len(times)} queries: p50 {pct(times, 50):.3f} ms, "
            f"p99 {pct(times, 99):.3f} ms (target <= 10 ms)"
        )
        print(
            f"peak RSS of the bridge process: {rss_mb():.0f} MB (was {before:.0f} MB before the"
            f" load; target <= 200 MB)"
        )
    finally:
        await client.aclose()
        proc.terminate()
        proc.wait()


async def main() -> None:
    await round_trips()
    await directory_large()


if __name__ == "__main__":
    asyncio.run(main())
