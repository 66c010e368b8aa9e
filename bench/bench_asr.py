"""Transcription benchmark (issue 17, "Bench"): throughput of the transcription queue against
the fake speech-recognition server (no delay) at concurrency 1, 2 and 4, and the bridge's
own overhead per file.

The sandbox platform (serving the recordings) and the fake ASR server run in a child
process; this process runs the bridge's part only: a `Transcriber` over a fresh SQLite
database, its `MediaFetcher` and `AsrClient`, as the bridge builds them. N recordings
(distinct keys; the sandbox's zh and en files in turn) are wanted at once and the clock
runs until every one is done. Printed per concurrency: files per second, wall time per
file, and this process's CPU time per file (the queue, the database, the download and the
upload: what the bridge itself spends on a file, the server's work excluded). For scale,
the same download + upload with no queue and no database at concurrency 1 ("bare").

    .venv/bin/python bench/bench_asr.py [--files 200]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.asr import AsrClient, Transcriber
from bot.platform.models import Recording
from bot.telegram.media import MediaFetcher
from storage.db import Database
from storage.transcripts import TranscriptRepo

CONCURRENCY = (1, 2, 4)
FILES = ("recording-zh.ogg", "recording-en.ogg")


def _cpu_s() -> float:
    """CPU seconds this process has used, every thread (the database's too)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _servers(conn: Any) -> None:
    """Child: the sandbox platform and the fake ASR server until told to stop."""

    async def main() -> None:
        from bot.sandbox.asr import FakeAsr
        from bot.sandbox.platform import SandboxPlatform

        platform = SandboxPlatform(moving=False)
        asr = FakeAsr()
        conn.send((await platform.start(), await asr.start()))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        conn.send(len(asr.transcriptions))
        await asr.stop()
        await platform.stop()

    asyncio.run(main())


async def _queue_run(platform_url: str, asr_url: str, n: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        db = await Database.open(Path(tmp) / "bench.db")
        media = MediaFetcher(10)
        client = AsrClient(asr_url, model="bench", token=None, language="zh", timeout_s=30)
        transcriber = Transcriber(
            TranscriptRepo(db),
            client,
            media,
            clock=lambda: datetime.now(UTC),
            concurrency=concurrency,
        )
        begin = datetime(2026, 12, 1, tzinfo=UTC)
        recs = [
            Recording.model_validate(
                {
                    "userId": 1000 + i % 50,
                    "beginTime": int((begin + timedelta(seconds=i)).timestamp() * 1000),
                    "durationMs": 4000,
                    "fileUrl": f"{platform_url}/media/{FILES[i % 2]}",
                }
            )
            for i in range(n)
        ]
        done = asyncio.Event()
        count = 0

        async def heard(key: str, text: str) -> None:
            nonlocal count
            count += 1
            if count == n:
                done.set()

        transcriber.add_listener(heard)
        await transcriber.start()
        cpu0, t0 = _cpu_s(), time.perf_counter()
        for i, rec in enumerate(recs):
            await transcriber.want(rec, f"bench:{i}")
        await done.wait()
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        await transcriber.stop()
        await client.aclose()
        await media.aclose()
        await db.close()
    return {"per_s": n / wall, "wall_ms": wall / n * 1000, "cpu_ms": cpu / n * 1000}


async def _bare_run(platform_url: str, asr_url: str, n: int) -> dict[str, float]:
    """The same download and upload, one after another, with no queue and no database."""
    media = MediaFetcher(10)
    client = AsrClient(asr_url, model="bench", token=None, language="zh", timeout_s=30)
    cpu0, t0 = _cpu_s(), time.perf_counter()
    for i in range(n):
        m = await media.fetch(f"{platform_url}/media/{FILES[i % 2]}")
        await client.transcribe(m.data, m.filename, m.mime)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    await client.aclose()
    await media.aclose()
    return {"per_s": n / wall, "wall_ms": wall / n * 1000, "cpu_ms": cpu / n * 1000}


def _row(name: str, r: dict[str, float]) -> None:
    print(f"{name:>15} {r['per_s']:9.1f} {r['wall_ms']:13.2f} {r['cpu_ms']:19.2f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=200, help="recordings per run (default: 200)")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_servers, args=(child,), daemon=True)
    proc.start()
    try:
        platform_url, asr_url = parent.recv()
        n = args.files
        print(f"transcription queue: {n} recordings per run, fake ASR server with no delay")
        print(f"{'run':>15} {'files/s':>9} {'wall ms/file':>13} {'bridge CPU ms/file':>19}")
        asyncio.run(_bare_run(platform_url, asr_url, 20))  # warm-up: imports, first connections
        bare = asyncio.run(_bare_run(platform_url, asr_url, n))
        _row("bare (no queue)", bare)
        results = {}
        for c in CONCURRENCY:
            r = results[c] = asyncio.run(_queue_run(platform_url, asr_url, n, c))
            _row(f"concurrency {c}", r)
        parent.send("stop")
        served = parent.recv()
        expected = 20 + n * (1 + len(CONCURRENCY))
        print(f"requests the fake server answered: {served} (expected {expected})")
        one = results[1]
        print(
            f"queue overhead at concurrency 1: {one['cpu_ms'] - bare['cpu_ms']:.2f} ms CPU and "
            f"{one['wall_ms'] - bare['wall_ms']:.2f} ms wall per file over bare HTTP"
        )
        return 0 if served == expected else 1
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()


if __name__ == "__main__":
    raise SystemExit(main())
