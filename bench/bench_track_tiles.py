"""Bench: a 50,000-point track's picture over map tiles (issue 16, target ≤ 3 s warm).

Run: .venv/bin/python bench/bench_track_tiles.py

What `/track` does for the picture: `track_view` (in a thread), `TileSource.basemap`
(tiles from the disk cache, or fetched), `track_png` over it (in a thread). The tiles
come from the sandbox's tile server on 127.0.0.1 (no Internet), so "cold" measures the
fetch machinery, the stitching and the cache's writes, not a real server's latency.
"Warm" is a fresh `TileSource` over the filled cache, as after a restart. Two tracks:
the 20-day random drive of bench_track.py (thousands of km: a low zoom), and a city
patrol of the same 50,000 points within ~15 km (zoom 12-13: the common case).
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from bench_track import TZ, N, make_track

from bot.geo.tiles import TileCache, TileSource, tile_range, zoom_for
from bot.geo.trackfiles import MAP_SIZE, track_png, track_view
from bot.platform.models import TrackPoint
from bot.sandbox.platform import SandboxPlatform

TARGET_S = 3.0


def city_patrol(points: list[TrackPoint]) -> list[TrackPoint]:
    """The same points squeezed into ~15 km around the first one."""
    lat0, lon0 = points[0].lat, points[0].lon
    lats = [p.lat for p in points]
    lons = [p.lon for p in points]
    span = max(max(lats) - min(lats), max(lons) - min(lons))
    k = 0.14 / span  # ~15 km of latitude
    return [
        p.model_copy(update={"lat": lat0 + (p.lat - lat0) * k, "lon": lon0 + (p.lon - lon0) * k})
        for p in points
    ]


async def picture(source: TileSource, points: list[TrackPoint]) -> tuple[float, bytes, bool]:
    start = time.perf_counter()
    view = await asyncio.to_thread(track_view, points, source.crs)
    basemap = None if view is None else await source.basemap(view, MAP_SIZE)
    png = await asyncio.to_thread(
        track_png, points, title="Bench 张三", lang="zh", tz=TZ, basemap=basemap
    )
    return time.perf_counter() - start, png, basemap is not None


async def main() -> None:
    sandbox = SandboxPlatform()
    url = await sandbox.start()
    template = f"{url}/tiles/{{z}}/{{x}}/{{y}}.png"
    drive = make_track()
    tracks = {"20-day drive": drive, "city patrol": city_patrol(drive)}
    worst_warm = 0.0
    try:
        async with httpx.AsyncClient() as http:
            for name, points in tracks.items():
                with tempfile.TemporaryDirectory() as folder:
                    view = track_view(points)
                    assert view is not None
                    z = zoom_for(view, MAP_SIZE[0])
                    columns, rows = tile_range(view, z)
                    km = view.width * math.cos(math.radians(points[0].lat)) / 1000
                    print(
                        f"{name}: {len(points)} points, view {km:.0f} km wide, zoom {z}, "
                        f"{len(columns) * len(rows)} tiles"
                    )
                    cache = TileCache(Path(folder))
                    cold = TileSource(template, http=http, cache=cache, attribution="© bench")
                    t_cold, png, drawn = await picture(cold, points)
                    assert drawn, "the tiles should have been drawn"
                    runs = []
                    for _ in range(3):
                        warm = TileSource(
                            template, http=http, cache=replace_cache(cache), attribution="© b"
                        )
                        t, _, drawn = await picture(warm, points)
                        assert drawn and warm.fetches == 0
                        runs.append(t)
                    t_plain = min(timed_plain(points) for _ in range(3))
                    t_warm = min(runs)
                    worst_warm = max(worst_warm, max(runs))
                    print(
                        f"  cold {t_cold:6.3f} s ({cold.fetches} tiles fetched, "
                        f"cache {cache.size / 1e3:.0f} kB)   warm {t_warm:6.3f} s "
                        f"(worst of 3: {max(runs):.3f} s)   plain picture {t_plain:.3f} s   "
                        f"PNG {len(png) / 1e3:.0f} kB"
                    )
    finally:
        await sandbox.stop()
    print(f"warm worst {worst_warm:.3f} s  target ≤ {TARGET_S} s for {N} points")
    if worst_warm > TARGET_S:
        print("OVER TARGET")


def replace_cache(cache: TileCache) -> TileCache:
    """A new cache over the same folder: nothing of the first kept in memory."""
    return TileCache(cache.folder, cache.bound)


def timed_plain(points: list[TrackPoint]) -> float:
    start = time.perf_counter()
    track_png(points, title="Bench 张三", lang="zh", tz=TZ)
    return time.perf_counter() - start


if __name__ == "__main__":
    asyncio.run(main())
