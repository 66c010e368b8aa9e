"""Bench: a 50,000-point track to summary, GPX and PNG (issue 4, target ≤ 1.5 s).

Run: .venv/bin/python bench/bench_track.py

The track is generated: a walk/drive around Shanghai with a fix every ~30 s,
mixed GPS and cell fixes, some points without speed, and a few gaps over 10
minutes. Timings are wall-clock, best of a few warm runs after one cold run
(the cold run includes matplotlib's first-use font setup). Peak memory is
measured in a separate pass under tracemalloc, which slows code down.
"""

from __future__ import annotations

import math
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.geo.measure import summarize
from bot.geo.trackfiles import track_gpx, track_png
from bot.platform.models import TrackPoint

N = 50_000
TARGET_S = 1.5
TZ = ZoneInfo("Asia/Shanghai")


def make_track(n: int = N, seed: int = 4) -> list[TrackPoint]:
    rng = random.Random(seed)
    t = datetime(2026, 11, 20, 6, 0, tzinfo=TZ)
    lat, lon, heading = 31.23, 121.47, 45.0
    points = []
    for i in range(n):
        gap = rng.random() < 0.002  # ~100 gaps of 15-90 min
        t += (
            timedelta(minutes=rng.randint(15, 90))
            if gap
            else timedelta(seconds=rng.randint(25, 35))
        )
        speed = max(0.0, rng.gauss(25, 15)) if rng.random() > 0.1 else 0.0
        heading = (heading + rng.gauss(0, 12)) % 360
        step_m = speed / 3.6 * 30
        lat += step_m * math.cos(math.radians(heading)) / 111_195
        lon += step_m * math.sin(math.radians(heading)) / (111_195 * math.cos(math.radians(lat)))
        cell = rng.random() < 0.15
        points.append(
            TrackPoint.model_construct(
                lat=lat + (rng.gauss(0, 0.003) if cell else 0.0),
                lon=lon + (rng.gauss(0, 0.003) if cell else 0.0),
                speed=None if cell or i % 17 == 0 else round(speed, 1),
                altitude=None if cell else round(10 + rng.random() * 5, 1),
                bearing=None if cell else round(heading, 1),
                time=t,
                uid=1001,
                position_type=1 if cell else 0,
            )
        )
    return points


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    points = make_track()
    s = summarize(points)
    print(
        f"track: {s.points} points, {s.segments} segments, {s.distance_km:.1f} km, "
        f"GPS {s.gps_share:.0%}, {s.duration}"
    )

    def gpx() -> bytes:
        return track_gpx(points, name="Bench 张三", description="bench")

    def png() -> bytes:
        return track_png(points, title="Bench 张三", lang="zh", tz=TZ)

    cold_gpx, gpx_bytes = timed(gpx)
    cold_png, png_bytes = timed(png)
    runs = 3
    t_sum = min(timed(lambda: summarize(points))[0] for _ in range(runs))
    t_gpx = min(timed(gpx)[0] for _ in range(runs))
    t_png = min(timed(png)[0] for _ in range(runs))
    assert isinstance(gpx_bytes, bytes) and isinstance(png_bytes, bytes)

    tracemalloc.start()
    summarize(points)
    gpx()
    png()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    total = t_gpx + t_png
    print(f"GPX   {t_gpx:6.3f} s  (cold {cold_gpx:.3f} s)  {len(gpx_bytes) / 1e6:.1f} MB")
    print(f"PNG   {t_png:6.3f} s  (cold {cold_png:.3f} s)  {len(png_bytes) / 1e3:.0f} kB")
    print(f"total {total:6.3f} s  (cold {cold_gpx + cold_png:.3f} s)  target ≤ {TARGET_S} s")
    print(f"summary {t_sum:.3f} s  (with it: {total + t_sum:.3f} s)")
    print(
        f"peak memory (tracemalloc, summary+GPX+PNG) {peak / 1e6:.1f} MB; max RSS {rss_mb:.0f} MB"
    )
    if total > TARGET_S:
        print("OVER TARGET")


if __name__ == "__main__":
    main()
