"""Relay benchmarks (issue 5, "Bench"): callback ingest and fan-out efficiency.

1. Callback ingest. The whole bridge (sandbox platform + Telegram emulator + Bridge, as
   in the demo) runs in one child process; a bare aiohttp handler that reads the same
   body, checks the token, parses the JSON and answers the envelope without storing
   anything runs in another; the load generator is this process. Each is driven by 1,
   10 and 100 concurrent senders POSTing realistic 3.1 reports (all new: every one is a
   durable SQLite commit before its answer). Printed: acknowledgements per second and
   p50/p99 latency of each, and the ratios against the targets (ingest ≥ 0.6 × bare
   throughput, p99 ≤ 2 × bare p99).

2. Fan-out efficiency. A bridge at the default rates (25/s overall, 1/s per chat,
   20/min per group) against the emulator enforcing Telegram's limits in the strictest
   reading (sliding windows: at most 30 in any second, 20 to a group in any minute);
   40 subscribed groups; enough incidents at once to keep every limit busy for the
   window. Printed: messages delivered in the window ÷ what the configured limits allow
   in it, sent as early as they allow with instant answers (target ≥ 0.95), and the 429s
   drawn (target 0). The window is 2 minutes, as the issue asks (`--window`).

    .venv/bin/python bench/bench_relay.py [--seconds 5] [--window 120] [--skip-ingest]
        [--skip-fanout] [--profile bridge.pstats]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import multiprocessing as mp
import resource
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from bot.demo.stack import CALLBACK_TOKEN, Stack

ROUTE = "/platform/events/report"
CONCURRENCY = (1, 10, 100)
FANOUT_CHATS = 40
RATES = (25.0, 1.0, 20.0)  # the bridge's defaults: BRIDGE_RATE_GLOBAL/_PER_CHAT/_PER_GROUP_MIN
TELEGRAM = {"global_per_s": 30.0, "group_per_min": 20.0}  # the emulator's (Telegram's)
# (the emulator counts them in sliding windows: in any second, in any minute)


# ------------------------------------------------------------------------------ servers


def _cpu_s() -> float:
    """CPU seconds this process has used, every thread (the database's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _serve_bridge(conn: Any, profile: str | None = None) -> None:
    """Child process: the whole bridge; sends its callback URL, runs until told to stop.
    With `profile`, its event loop's thread runs under cProfile, dumped there at the end."""
    logging.basicConfig(level=logging.ERROR)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()

    async def main() -> None:
        stack = Stack(language="en")
        await stack.start()
        cpu = _cpu_s()
        conn.send(stack.bridge_url)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        cpu = _cpu_s() - cpu
        assert stack.bridge is not None
        stored = await stack.bridge.repos.inbox.count()
        await stack.stop()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
        conn.send((stored, cpu))

    asyncio.run(main())


def _serve_bare(conn: Any) -> None:
    """Child process: the ceiling — read, check the token, parse, answer; store nothing."""
    expected = CALLBACK_TOKEN.encode()
    answered = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal answered
        answered += 1
        if not hmac.compare_digest(request.headers.get("token", "").encode(), expected):
            return web.json_response({"status": 501, "message": "未登录", "data": None}, status=401)
        body = json.loads(await request.read())
        if not isinstance(body, dict):
            return web.json_response(
                {"status": 502, "message": "参数错误", "data": None}, status=400
            )
        return web.json_response(
            {"status": 200, "message": "成功", "data": None},
            dumps=lambda o: json.dumps(o, ensure_ascii=False),
        )

    async def main() -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(ROUTE, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        cpu = _cpu_s()
        conn.send(f"http://127.0.0.1:{port}")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        cpu = _cpu_s() - cpu
        await runner.cleanup()
        conn.send((answered, cpu))

    asyncio.run(main())


# ------------------------------------------------------------------------------ ingest


def _bodies(n: int, start: int) -> list[bytes]:
    """Realistic 3.1 reports, each a new incident."""
    from bot.sandbox.platform import SandboxPlatform

    sb = SandboxPlatform(seed=7)
    out = []
    for i in range(n):
        body = sb.make_report()
        body["id"] = start + i
        body["code"] = f"SJB{start + i:09d}"
        out.append(json.dumps(body, ensure_ascii=False).encode())
    return out


async def _load(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> dict[str, Any]:
    """`concurrency` senders POST back to back for `seconds`; every answer must be 200/200."""
    latencies: list[float] = []
    it = iter(bodies)
    headers = {"token": CALLBACK_TOKEN, "Content-Type": "application/json"}
    stop_at = 0.0
    errors = 0

    async def sender(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            body = next(it)
            t0 = time.perf_counter()
            async with session.post(url + ROUTE, data=body, headers=headers) as resp:
                answer = await resp.read()
            latencies.append(time.perf_counter() - t0)
            if resp.status != 200 or json.loads(answer)["status"] != 200:
                errors += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm up the connections and both ends.
        stop_at = time.perf_counter() + 0.5
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
        latencies.clear()
        started = time.perf_counter()
        stop_at = started + seconds
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "n": len(latencies),
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
    }


def _start(target: Any, *args: Any) -> tuple[Any, Any, str]:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    url = parent.recv()
    return proc, parent, url


def _stop(proc: Any, conn: Any) -> Any:
    conn.send("stop")
    result = conn.recv()
    proc.join(30)
    return result


async def bench_ingest(seconds: float, profile: str | None = None) -> None:
    print("== callback ingest: POST /platform/events/report, new incidents (durable acks)")
    print("   the bridge and the bare handler each in a child process; load from this one")
    bridge, bridge_conn, bridge_url = _start(_serve_bridge, profile)
    bare, bare_conn, bare_url = _start(_serve_bare)
    try:
        pool = _bodies(200_000, 1)
        used = 0
        rows = []
        for c in CONCURRENCY:
            bare_r = await _load(bare_url, pool, c, seconds)
            ours = await _load(bridge_url, pool[used:], c, seconds)
            used += ours["n"] + 2000
            rows.append((c, bare_r, ours))
    finally:
        stored, bridge_cpu = _stop(bridge, bridge_conn)
        answered, bare_cpu = _stop(bare, bare_conn)
    print(
        f"   {'senders':>7} | {'bare /s':>8} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'bridge /s':>9} {'p50 ms':>7} {'p99 ms':>7} | {'thr ratio':>9} {'p99 ratio':>9}"
    )
    ok = True
    for c, b, o in rows:
        ratio = o["per_s"] / b["per_s"]
        p99 = o["p99_ms"] / b["p99_ms"]
        ok &= ratio >= 0.6 and p99 <= 2.0 and not o["errors"] and not b["errors"]
        print(
            f"   {c:>7} | {b['per_s']:>8.0f} {b['p50_ms']:>7.2f} {b['p99_ms']:>7.2f} | "
            f"{o['per_s']:>9.0f} {o['p50_ms']:>7.2f} {o['p99_ms']:>7.2f} | "
            f"{ratio:>9.2f} {p99:>9.2f}"
            + ("" if not (o["errors"] or b["errors"]) else f"  errors {o['errors']}/{b['errors']}")
        )
    print(
        f"   targets: throughput ratio >= 0.60, p99 ratio <= 2.00 -> {'met' if ok else 'NOT met'}"
    )
    print(f"   incidents stored by the bridge during the run: {stored}")
    # CPU per request holds still on a busy machine, where rates and latencies do not.
    print(
        f"   CPU per request, all threads: bridge {bridge_cpu / max(stored, 1) * 1e6:.0f} µs,"
        f" bare {bare_cpu / max(answered, 1) * 1e6:.0f} µs"
    )


# ------------------------------------------------------------------------------ fan-out


def allowed(window: float, chats: int) -> int:
    """Messages the configured limits let through in `window` seconds from empty windows:
    every send as early as the three sliding windows allow (at most N in any second
    overall, in any second per chat, in any minute per group), answers instant."""
    rate_global, rate_chat, rate_group_min = RATES
    everyone: deque[float] = deque()
    per_chat: list[deque[float]] = [deque() for _ in range(chats)]
    per_group: list[deque[float]] = [deque() for _ in range(chats)]

    def free_at(times: deque[float], limit: int, period: float, t: float) -> float:
        """When the window next has room (t: now)."""
        while times and times[0] <= t - period:
            times.popleft()
        return t if len(times) < limit else times[len(times) - limit] + period

    def ready(c: int, t: float) -> float:
        return max(
            free_at(everyone, int(rate_global), 1.0, t),
            free_at(per_chat[c], int(rate_chat), 1.0, t),
            free_at(per_group[c], int(rate_group_min), 60.0, t),
        )

    t, sent, turn = 0.0, 0, 0  # chats take turns, as the bridge's drainers do
    while t < window:
        progress = False
        for i in range(chats):
            c = (turn + i) % chats
            if ready(c, t) <= t:
                for times in (everyone, per_chat[c], per_group[c]):
                    times.append(t)
                sent += 1
                progress = True
                turn = c + 1
                break
        if not progress:
            t = min(ready(c, t) for c in range(chats))
    return sent


async def bench_fanout(window: float) -> None:
    print(
        f"== fan-out: {FANOUT_CHATS} groups, bridge at its default rates "
        f"{RATES[0]:g}/s, {RATES[1]:g}/s per chat, {RATES[2]:g}/min per group;"
    )
    print(
        f"   emulator at Telegram's {TELEGRAM['global_per_s']:g} in any second and "
        f"{TELEGRAM['group_per_min']:g} per group in any minute (sliding windows); "
        f"window {window:g} s" + ("" if window >= 120 else " (the issue's is 2 min: --window 120)")
    )
    stack = Stack(language="en", flood_limits=True, rates=RATES)
    stack.emu.global_per_s = TELEGRAM["global_per_s"]
    stack.emu.group_per_min = TELEGRAM["group_per_min"]
    await stack.start()
    try:
        chats = [-1009000 - i for i in range(FANOUT_CHATS)]
        assert stack.bridge is not None
        for chat in chats:
            stack.add_group(chat, f"Team {chat}")
            # Straight into storage: a /subscribe reply would hold a place in the
            # group's minute, and the limits are measured from empty windows.
            await stack.bridge.repos.subscriptions.set(chat, 0, "incidents")
        calls_before = len(stack.emu.calls)
        need = int(allowed(window, FANOUT_CHATS) / FANOUT_CHATS) + 5  # incidents per chat
        for _ in range(need):
            body = stack.platform.make_report(urls=[])
            status, _ = await stack.platform_event("report", body)
            assert status == 200
        first = None
        while first is None:
            sends = [c for c in stack.emu.calls[calls_before:] if c.method == "sendMessage"]
            first = sends[0].time if sends else None
            if first is None:
                await asyncio.sleep(0.05)
        await asyncio.sleep(max(0.0, first + window - time.monotonic()) + 0.5)
        calls = [c for c in stack.emu.calls[calls_before:] if c.method == "sendMessage"]
        delivered = sum(1 for c in calls if c.ok and first <= c.time < first + window)
        too_many = sum(1 for c in calls if c.status == 429)
    finally:
        await stack.stop()
    limit = allowed(window, FANOUT_CHATS)
    eff = delivered / limit
    print(f"   delivered {delivered} in {window:g} s; the configured limits allow {limit:.0f}")
    print(
        f"   efficiency {eff:.3f} (target >= 0.95), 429s: {too_many} (target 0) -> "
        f"{'met' if eff >= 0.95 and too_many == 0 else 'NOT met'}"
    )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="load per ingest step")
    ap.add_argument("--window", type=float, default=120.0, help="fan-out window, seconds")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-fanout", action="store_true")
    ap.add_argument(
        "--profile", metavar="FILE", help="cProfile the bridge's loop thread into FILE (pstats)"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if not args.skip_ingest:
        await bench_ingest(args.seconds, args.profile)
    if not args.skip_fanout:
        with contextlib.suppress(KeyboardInterrupt):
            await bench_fanout(args.window)


if __name__ == "__main__":
    asyncio.run(main())
