"""The map's positions endpoint for a 500-member talk group (issue 16, "Bench"; not a test):
its latency beside the platform's own 2.4 call for the same 500 users.

The whole bridge with the sandbox platform (600 users; a talk group of 500 added to it) and
the Telegram emulator on 127.0.0.1, all in this one process (the demo's `Stack`), the bridge
and the sandbox standing still at one time. One keep-alive HTTP client asks, one request
at a time, the four kinds in turn:

* `GET /app/api/positions?group=<500>` as a supervisor (2.4 for the 500, in one batched
  call, beside 2.3 for who is online; the JSON of 500 members) and as a viewer (2.3 only);
* the platform's own `POST /wapi/location/getLatestCoords` for the same 500 uids (the raw
  HTTP call: the floor the endpoint stands on);
* `PlatformClient.latest_fixes` for them (that call parsed into fixes, as the bridge does).

The positions endpoint is measured twice: with `SHARE_FOR` at zero, every request asking the
platform (what one page alone costs), and as it runs (requests within 2 s of an identical one
share its platform call: what many pages on one group cost).

Printed: p50, p99 and mean of each, the CPU time of each (the whole chain's work in this
process, which a busy machine does not inflate), and what the endpoint adds to 2.4.
Loopback only, one process: the sandbox's work counts in every figure alike.

    .venv/bin/python bench/bench_map_api.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.demo.stack import BOT_TOKEN, PEOPLE, Stack
from bot.sandbox.platform import SandboxPlatform
from bot.webapp import api
from bot.webapp.auth import sign_init_data

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
MEMBERS = 500


def quantiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 and mean in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return statistics.median(ms), p99, statistics.fmean(ms)


async def timed(
    n: int, calls: dict[str, Callable[[], Awaitable[object]]]
) -> dict[str, list[float]]:
    """Each call `n` times, taken in turn (a load on the shared machine hits all alike)."""
    for call in calls.values():  # warm: connections open, first parses done
        for _ in range(min(10, n)):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            started, cpu = time.perf_counter(), time.process_time()
            await call()
            samples[name].append(time.perf_counter() - started)
            CPU[name] = CPU.get(name, 0.0) + time.process_time() - cpu
    return samples


# CPU seconds of this process per kind of call: the bridge, the sandbox and the client all
# run in it, so this is the whole chain's work, which the machine's load does not inflate.
CPU: dict[str, float] = {}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=300, help="requests of each kind")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)

    shared_for = api.SHARE_FOR
    sandbox = SandboxPlatform(users=MEMBERS + 100, groups=6, now=lambda: NOW)
    data = sandbox.data
    uids = sorted(data.users)[:MEMBERS]
    group = data.add_group("五百人大组", min(data.orgs), uids)
    with_fix = sum(1 for uid in uids if data.fix_now(data.users[uid]) is not None)
    stack = Stack(
        sandbox=sandbox,
        bridge_overrides={"public_url": "https://bridge.example.org"},
        clock=lambda: NOW,
    )
    await stack.start()
    try:
        assert stack.bridge is not None and stack.bridge.client is not None
        platform = stack.bridge.client

        def auth(key: str) -> dict[str, str]:
            person = next(p for p in PEOPLE if p.key == key)
            data = sign_init_data(BOT_TOKEN, {"id": person.id, "first_name": key}, auth_date=NOW)
            return {"Authorization": f"tma {data}"}

        path = f"/app/api/positions?group={group.id}"
        async with httpx.AsyncClient(base_url=stack.bridge_url, timeout=30) as http:
            probe = (await http.get(path, headers=auth("supervisor"))).json()
            members = probe["members"]
            assert len(members) == MEMBERS, probe
            located = sum(1 for m in members if m["fix"])

            async def endpoint(who: str, share: bool = False) -> None:
                api.SHARE_FOR = shared_for if share else timedelta(0)
                response = await http.get(path, headers=auth(who))
                response.raise_for_status()

            async def raw_2_4() -> None:
                response = await http.post(
                    f"{sandbox.url}{sandbox.prefix}/location/getLatestCoords",
                    json={"uids": uids},
                    headers={"token": sandbox.token},
                )
                response.raise_for_status()

            async def client_2_4() -> None:
                await platform.latest_fixes(uids)

            rows = await timed(
                args.requests,
                {
                    "GET positions (supervisor)": lambda: endpoint("supervisor"),
                    # right after it: served by its platform call, as a twin within 2 s is
                    "  the same, shared (2 s)": lambda: endpoint("supervisor", share=True),
                    "GET positions (viewer)": lambda: endpoint("viewer"),
                    "platform 2.4 (raw HTTP)": raw_2_4,
                    "platform 2.4 (PlatformClient)": client_2_4,
                },
            )
            size = len((await http.get(path, headers=auth("supervisor"))).content)
    finally:
        await stack.stop()

    print(
        f"talk group of {MEMBERS} members ({with_fix} with a fix on the platform, "
        f"{located} located in the answer); {args.requests} requests each; "
        f"answer {size / 1024:.0f} KiB"
    )
    print(f"{'':32} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'CPU ms':>8}")
    figures = {}
    for name, samples in rows.items():
        figures[name] = quantiles(samples)
        p50, p99, mean = figures[name]
        cpu = CPU[name] / len(samples) * 1000
        print(f"{name:32} {p50:8.1f} {p99:8.1f} {mean:8.1f} {cpu:8.1f}")
    ours, theirs = figures["GET positions (supervisor)"], figures["platform 2.4 (raw HTTP)"]
    print(
        f"the endpoint above the platform's own 2.4: p50 +{ours[0] - theirs[0]:.1f} ms, "
        f"p99 +{ours[1] - theirs[1]:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
