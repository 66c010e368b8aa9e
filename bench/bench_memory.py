"""Peak memory of the bridge with the 50,000-user directory (issue 13, "Also measured").

The sandbox platform runs in its own process with 50,000 users and 2,000 talk groups.
Each measurement is a fresh child process, so its peak RSS (`ru_maxrss`) is that
load's alone: the child imports what `pttbridge run` imports (the composition root,
aiogram, the handlers), notes its RSS, then loads the directory (2.12 and 2.1, as
`Directory.refresh()` does) and prints its peak RSS. Target: <= 350 MB.

    .venv/bin/python bench/bench_memory.py [--users 50000] [--groups 2000] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 350


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def child(url: str, token: str) -> None:
    """One load in this process; prints one JSON line with the figures."""
    sys.path.insert(0, str(ROOT))
    import bot.app.bridge  # noqa: F401 - what `run` imports: aiogram, handlers, storage
    from bot.config import Settings
    from bot.directory import Directory
    from bot.platform import PlatformClient

    imported = _maxrss_mb()

    async def load() -> dict[str, float | int | bool]:
        settings = Settings.load(None, platform={"base_url": url, "token": token, "timeout_s": 120})
        client = PlatformClient(settings.platform, settings.bridge.tz)
        directory = Directory(client)
        try:
            started = time.perf_counter()
            ok = await directory.refresh()
            seconds = time.perf_counter() - started
        finally:
            await client.aclose()
        snap = directory.snapshot
        return {
            "ok": ok,
            "seconds": seconds,
            "users": len(snap.users),
            "groups": len(snap.groups),
            "orgs": len(snap.orgs),
        }

    out = asyncio.run(load())
    out.update(imported_mb=imported, peak_mb=_maxrss_mb(), kept_mb=_rss_now_mb())
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--groups", type=int, default=2_000)
    ap.add_argument("--runs", type=int, default=1, help="children, one after the other")
    ap.add_argument("--child", nargs=2, metavar=("URL", "TOKEN"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    size = ["--users", str(args.users), "--groups", str(args.groups)]
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", *size],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        # "sandbox platform: http://127.0.0.1:PORT  token: TOKEN  account: ..."
        words = sandbox.stdout.readline().split()
        url, token = words[2], words[4]
        print(f"directory of {args.users:,} users, {args.groups:,} groups (sandbox at {url})")
        peaks = []
        for _ in range(args.runs):
            line = subprocess.run(
                [sys.executable, __file__, "--child", url, token],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            r = json.loads(line.splitlines()[-1])
            peaks.append(r["peak_mb"])
            print(
                f"  loaded {r['orgs']} orgs, {r['groups']} groups, {r['users']} users "
                f"in {r['seconds']:.2f} s (ok={r['ok']}); RSS after imports "
                f"{r['imported_mb']:.0f} MB, peak {r['peak_mb']:.0f} MB, "
                f"after the load {r['kept_mb']:.0f} MB"
            )
        peak = sorted(peaks)[len(peaks) // 2]
        verdict = "met" if peak <= TARGET_MB else "NOT met"
        print(
            f"  peak RSS (median of {len(peaks)}): {peak:.0f} MB"
            f" (target <= {TARGET_MB}) -> {verdict}"
        )
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main()
