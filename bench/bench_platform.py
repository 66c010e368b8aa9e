"""Benchmark of the platform client against the sandbox platform (prints figures; not a test).

1. 2.4 `getLatestCoords` with 100 uids: calls per second, one at a time and ~10 at once.
2. 2.12 `orgUser/tree` of a 50,000-user, 2,000-group sandbox: the client's
   `org_user_tree()` end to end, then `json.loads` and `parse(...)` of the raw
   answer apart, with the peak memory of each (tracemalloc).

The sandbox runs in its own process (`python -m bot sandbox`), so the figures are
the client's and the loopback's, not the sandbox's own CPU time on our event loop.

    .venv/bin/python bench/bench_platform.py [--calls 300] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from bot.config import Settings
from bot.platform import PlatformClient
from bot.platform.client import _ORGS
from bot.platform.models import Org, parse

TZ = ZoneInfo("Asia/Shanghai")
T = TypeVar("T")


@contextlib.asynccontextmanager
async def sandbox_process(users: int, groups: int) -> AsyncIterator[tuple[str, str]]:
    """A `python -m bot sandbox` on a free port; yields (url, token)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        "0",
        "--users",
        str(users),
        "--groups",
        str(groups),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=120)).decode()
        # "sandbox platform: http://127.0.0.1:PORT  token: TOKEN  account: ..."
        words = line.split()
        url, token = words[2], words[4]
        yield url, token
    finally:
        proc.terminate()
        await proc.wait()


def client_for(url: str, token: str, timeout_s: float = 60) -> PlatformClient:
    settings = Settings.load(
        None, platform={"base_url": url, "token": token, "timeout_s": timeout_s}
    )
    return PlatformClient(settings.platform, TZ)


async def bench_latest_fixes(calls: int, concurrency: int) -> None:
    uids = list(range(10001, 10101))
    async with sandbox_process(users=1000, groups=50) as (url, token):
        client = client_for(url, token)
        try:
            fixes = await client.latest_fixes(uids)  # warm up: connection, imports
            print(f"2.4 getLatestCoords, {len(uids)} uids -> {len(fixes)} fixes per answer")

            latencies: list[float] = []
            cpu0 = time.process_time()
            started = time.perf_counter()
            for _ in range(calls):
                t0 = time.perf_counter()
                await client.latest_fixes(uids)
                latencies.append(time.perf_counter() - t0)
            seq = time.perf_counter() - started
            cpu = (time.process_time() - cpu0) / calls
            p50 = statistics.median(latencies) * 1000
            p95 = statistics.quantiles(latencies, n=20)[18] * 1000
            print(
                f"  sequential:     {calls / seq:8.1f} calls/s"
                f"  (p50 {p50:.2f} ms, p95 {p95:.2f} ms, {calls} calls)"
            )
            print(
                f"  client CPU per call: {cpu * 1000:.2f} ms"
                f" (the rest of each call is the sandbox process answering)"
            )

            sem = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with sem:
                    await client.latest_fixes(uids)

            total = calls * 2
            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(total)))
            conc = time.perf_counter() - started
            print(f"  {concurrency:2d} concurrent:  {total / conc:8.1f} calls/s  ({total} calls)")
        finally:
            await client.aclose()


def timed(fn: Callable[[], T], repeat: int = 3) -> tuple[T, float]:
    """(result, best wall time in s) over `repeat` runs, garbage collected between."""
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    return result, best


def peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        keep = fn()  # noqa: F841 - kept alive until the peak is read
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def count(roots: list[Org]) -> tuple[int, int]:
    orgs = [o for r in roots for o in r.walk()]
    return len(orgs), sum(len(o.users) for o in orgs)


async def bench_org_user_tree() -> None:
    async with sandbox_process(users=50_000, groups=2_000) as (url, token):
        client = client_for(url, token)
        try:
            await client.user_info(10001)  # warm up the connection
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                roots = await client.org_user_tree()
                runs.append(time.perf_counter() - t0)
            n_orgs, n_users = count(roots)
            print(f"2.12 orgUser/tree: {n_orgs} orgs, {n_users} users")
            print(f"  client org_user_tree() end to end: {min(runs) * 1000:8.0f} ms (best of 3)")
            del roots
        finally:
            await client.aclose()

        async with httpx.AsyncClient(timeout=60) as raw_client:
            resp = await raw_client.post(f"{url}/wapi/orgUser/tree", headers={"token": token})
        raw = resp.content
        print(f"  answer size: {len(raw) / 1e6:.1f} MB of JSON")

    text = raw.decode()
    envelope, t_json = timed(lambda: json.loads(text))
    data = envelope["data"]
    roots, t_parse = timed(lambda: parse(_ORGS, data, TZ, "orgUser/tree"))
    assert count(roots) == (n_orgs, n_users)
    del roots
    print(f"  json.loads:                        {t_json * 1000:8.0f} ms")
    print(
        f"  parse(list[Org]) of the data:      {t_parse * 1000:8.0f} ms"
        f"  ({t_parse / n_users * 1e6:.1f} µs per user)"
    )
    mem_json = peak_mb(lambda: json.loads(text))
    mem_parse = peak_mb(lambda: parse(_ORGS, data, TZ, "orgUser/tree"))
    print(f"  peak memory, json.loads:           {mem_json:8.1f} MB")
    print(f"  peak memory, parse into models:    {mem_parse:8.1f} MB")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=10)
    args = ap.parse_args()
    await bench_latest_fixes(args.calls, args.concurrency)
    await bench_org_user_tree()


if __name__ == "__main__":
    asyncio.run(main())
