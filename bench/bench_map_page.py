"""The map page in the headless browser (issue 16, "Bench"): what a phone downloads on first
open before any tile (target < 300 KB), and how long until the first markers are drawn.

The whole bridge with the sandbox platform and the Telegram emulator on 127.0.0.1 (the demo's
`Stack`), Debian's Chromium driven by Playwright; a supervisor opens talk group 1002 on a
390x844 phone viewport. Each run is a fresh browser context (an empty cache: a first open).
Bytes are Chromium's own count of what came over the wire (`encodedDataLength`: headers and
compressed bodies), split into the page's files, the API's JSON and the tiles. "First markers"
is the page's `performance.now()` when it first put markers on the map: from navigation start,
through Leaflet's parse, /app/api/me, /app/api/groups and /app/api/positions. Loopback only:
the time shows the browser's and the bridge's work, not a mobile network's latency.

    .venv/bin/python bench/bench_map_page.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.demo.stack import Stack
from bot.webapp import page

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
GROUP = 1002
TARGET_KB = 300


def kind_of(url: str) -> str:
    if "/tiles/" in url:
        return "tiles"
    if "/app/api/" in url:
        return "api"
    return "page"


def on_disk(url: str) -> int:
    """The size of the page's file behind `url` (what it would weigh without gzip)."""
    path = urlsplit(url).path.removeprefix("/app/")
    static = page.STATIC / (path.removeprefix("static/") if path else "index.html")
    return static.stat().st_size if static.is_file() else 0


async def one_open(browser: Any, url: str) -> tuple[dict[str, int], float, int]:
    """Bytes by kind up to the first markers, the time to them (ms), and the markers."""
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    tab = await context.new_page()
    cdp = await context.new_cdp_session(tab)
    await cdp.send("Network.enable")
    await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    urls: dict[str, str] = {}
    sizes: dict[str, int] = {}
    cdp.on(
        "Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
    )
    await tab.goto(url)
    await tab.wait_for_function("() => window.pttmap && window.pttmap.firstMarkersMs() !== null")
    first_ms = float(await tab.evaluate("window.pttmap.firstMarkersMs()"))
    markers = int(await tab.evaluate("window.pttmap.markers().length"))
    # Whatever was still on its way when the markers appeared (tiles) finishes too.
    await tab.wait_for_load_state("networkidle")
    by_kind: dict[str, int] = defaultdict(int)
    for rid, size in sizes.items():
        kind = kind_of(urls.get(rid, ""))
        by_kind[kind] += size
        if kind == "page":
            by_kind["page files on disk"] += on_disk(urls[rid])
    await context.close()
    return dict(by_kind), first_ms, markers


async def main(runs: int) -> int:
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).is_file():
        print(f"no {CHROMIUM}: apt-get install chromium")
        return 1
    stack = Stack(
        bridge_overrides={"public_url": "https://bridge.example.com"},
        clock=lambda: datetime.now(UTC),
    )
    await stack.start()
    try:
        url = stack.map_url("supervisor", f"group={GROUP}")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            await one_open(browser, url)  # warm the bridge and the sandbox, not measured
            results = [await one_open(browser, url) for _ in range(runs)]
            await browser.close()
    finally:
        await stack.stop()
    page_kb = statistics.median(r[0].get("page", 0) for r in results) / 1024
    api_kb = statistics.median(r[0].get("api", 0) for r in results) / 1024
    tiles_kb = statistics.median(r[0].get("tiles", 0) for r in results) / 1024
    times = sorted(r[1] for r in results)
    print(f"map page, talk group {GROUP} ({results[0][2]} markers), {runs} first opens:")
    print(f"  before tiles: {page_kb + api_kb:6.1f} KB  (target < {TARGET_KB} KB)")
    raw_kb = statistics.median(r[0].get("page files on disk", 0) for r in results) / 1024
    print(
        f"    page files  {page_kb:6.1f} KB"
        f"  (HTML, CSS, JS, Leaflet, gzip; {raw_kb:.0f} KB without)"
    )
    print(f"    API JSON    {api_kb:6.1f} KB  (/me, /groups, /positions, /fences)")
    print(f"  tiles:        {tiles_kb:6.1f} KB  (sandbox tiles, not counted)")
    print(
        f"  first markers: median {statistics.median(times):.0f} ms"
        f" (min {times[0]:.0f}, max {times[-1]:.0f})"
    )
    return 0 if page_kb + api_kb < TARGET_KB else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    sys.exit(asyncio.run(main(parser.parse_args().runs)))
