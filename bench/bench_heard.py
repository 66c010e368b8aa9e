"""Bench of /heard (not a test): prints figures.

1,000 transcribed recordings in the database (sandbox recordings of many users and days,
texts drawn from radio phrases, Chinese and English). Two measures:

1. search + rendering: `TranscriptSearch.find` (one page and its count) and
   `bot.render.heard.heard_page` (highlighted excerpts), for each kind of query — a
   two-character Chinese word (LIKE over the candidates), a longer one (the trigram index),
   two words, English in another case, a scoped supervisor's (~half the users), a day;
2. the whole command: `/heard` typed in the Telegram emulator until the bridge's reply is
   recorded there (update in, search, ▶ located on the sandbox platform's pages, reply out),
   over real sockets on 127.0.0.1, with the 2.6 calls it made to place the ▶ buttons.

3. the search alone over 100,000 transcripts (90 days of a busy centre is several times
   that): a common word, a rare one through the trigram index, a rare two-character one
   (LIKE reads every row: the slowest kind), a scoped supervisor's, one user's.

The search itself takes a few milliseconds; most of the whole command is those 2.6 calls
(one per user and day on the page, made together) and the two HTTP hops of the emulator.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.demo.stack import Stack
from bot.jobs.recordings import recording_key
from bot.platform.models import Recording
from bot.render.heard import HeardRow, heard_page
from bot.sandbox.platform import SandboxPlatform
from storage.db import Database, to_db_time
from storage.roles import Role
from storage.transcript_search import TranscriptSearch

N = 1000
RUNS = 200  # per query kind, search + rendering
TRIPS = 60  # per query, whole command
NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)  # 15:00 in Asia/Shanghai, the sandbox's now
PHRASES = (
    "消防一组，收到请回答。",
    "现场火势已经控制。",
    "发现火情，请求支援。",
    "救援队五分钟到达。",
    "二中队报告，道路畅通。",
    "请注意安全，保持联系。",
    "Team one, copy that.",
    "The fire is under control.",
    "Requesting backup at the north gate.",
    "All units stand by.",
)
QUERIES = {
    "2 chars (LIKE)": "火情",
    "4 chars (trigram)": "火势已经",
    "2 words": "火情 支援",
    "English, any case": "FIRE control",
    "none found": "不存在的词",
}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def line(name: str, ms: list[float], extra: str = "") -> None:
    print(
        f"  {name:<24} p50 {pct(ms, 50):6.2f} ms  p99 {pct(ms, 99):6.2f} ms  "
        f"max {max(ms):6.2f} ms{extra}"
    )


async def fill(stack: Stack) -> None:
    """N transcripts of real sandbox recordings (so ▶ finds them), newest days first."""
    assert stack.bridge is not None
    data, repo = stack.platform.data, stack.bridge.repos.transcripts
    rng = random.Random(17)
    recs = [
        r
        for day in reversed(data.history_days())
        for uid in sorted(data.users)
        for r in data.recordings(uid, day)
    ][:N]
    assert len(recs) == N, len(recs)
    for r in recs:
        listed = Recording.model_validate(
            {
                "userId": r.user_id,
                "account": r.account,
                "beginTime": r.begin_ms,
                "fileUrl": f"{stack.platform.url}/media/{r.file}",
                "groupName": r.group_name,
            }
        )
        key = recording_key(listed)
        begin = datetime.fromtimestamp(r.begin_ms / 1000, UTC)
        await repo.want(
            key,
            user_id=r.user_id,
            account=r.account,
            group_name=r.group_name,
            begin=begin,
            seconds=(r.duration_ms or 0) / 1000,
            file_url=listed.file_url,
            now=begin,
        )
        text = "".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 4)))
        await repo.done(key, text, begin + timedelta(seconds=20))


async def search_and_render(stack: Stack) -> None:
    assert stack.bridge is not None
    bridge = stack.bridge
    search: TranscriptSearch = bridge.repos.transcript_search
    t = bridge.translator.get("en")
    tz = ZoneInfo("Asia/Shanghai")
    users = sorted(bridge.directory.snapshot.users.values(), key=lambda u: u.id)
    half = users[: len(users) // 2]
    kinds: dict[str, tuple[str, dict[str, object]]] = {k: (q, {}) for k, q in QUERIES.items()}
    kinds["scoped (half the users)"] = (
        "火情",
        {"speakers": {u.id for u in half}, "accounts": {u.account for u in half}},
    )
    kinds["one day"] = ("火情", {"since": NOW - timedelta(hours=15), "until": NOW})
    print(f"1. search + rendering, {N} transcripts, {RUNS} runs each:")
    for name, (query, bounds) in kinds.items():
        terms = query.split()
        ms: list[float] = []
        total = 0
        for _ in range(RUNS):
            start = time.perf_counter()
            found = await search.find(terms, offset=0, limit=10, **bounds)  # type: ignore[arg-type]
            rows = [HeardRow(h, h.account or "—", None) for h in found.hits]
            heard_page(t, terms, rows, page=1, total=found.total, filters=[], tz=tz)
            ms.append((time.perf_counter() - start) * 1000)
            total = found.total
        line(name, ms, f"  ({total} found)")


async def whole_command(stack: Stack) -> None:
    assert stack.bridge is not None
    print(f"2. /heard through the emulator (update in -> reply recorded), {TRIPS} runs each:")
    # Several supervisors in turn: one user typing 180 commands a minute would be throttled.
    users = [stack.emu.add_user(60_000 + i, f"Bench {i}", language_code="en") for i in range(TRIPS)]
    for u in users:
        await stack.bridge.repos.roles.set(u.id, Role.SUPERVISOR)
    for name in ("2 chars (LIKE)", "4 chars (trigram)", "none found"):
        text = f"/heard {QUERIES[name]}"
        await stack.say("supervisor", text)  # warm-up
        ms: list[float] = []
        calls_before = len(stack.platform.requests)
        for u in users:
            start = time.perf_counter()
            [reply] = await stack.say(u, text)
            ms.append((time.perf_counter() - start) * 1000)
        calls = (len(stack.platform.requests) - calls_before) / len(users)
        buttons = len(reply.buttons())
        line(name, ms, f"  ({buttons} buttons, {calls:.1f} platform calls)")


async def at_scale(n: int = 100_000, runs: int = 20) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-heard-") as tmp:
        db = await Database.open(Path(tmp) / "heard.db")
        rng = random.Random(17)
        t0 = NOW - timedelta(minutes=n)
        rows = []
        for i in range(n):
            at = to_db_time(t0 + timedelta(minutes=i))
            text = "".join(rng.choice(PHRASES) for _ in range(rng.randint(1, 4)))
            text += "稀有词汇" if i % 5000 == 0 else ""
            uid = 10_000 + i % 500
            rows.append((f"k{i}", uid, f"u{uid}", "g", at, 3.0, "http://p/f.ogg", text, at))
        await db.executemany(
            "INSERT INTO transcripts (recording_key, user_id, account, group_name, begin_at,"
            " seconds, file_url, state, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'done',"
            " ?, ?)",
            rows,
        )
        search = TranscriptSearch(db)
        half = set(range(10_000, 10_250))
        kinds: dict[str, tuple[str, dict[str, object]]] = {
            "common word": ("火情", {}),
            "rare, trigram": ("稀有词汇", {}),
            "rare, 2 chars (LIKE)": ("稀有", {}),
            "scoped (half the users)": ("火情", {"speakers": half, "accounts": set()}),
            "one user": ("火情", {"speakers": {10_001}, "accounts": {"u10001"}}),
        }
        print(f"3. search alone, {n} transcripts, {runs} runs each:")
        for name, (query, bounds) in kinds.items():
            ms: list[float] = []
            for _ in range(runs):
                start = time.perf_counter()
                found = await search.find([query], limit=10, **bounds)  # type: ignore[arg-type]
                ms.append((time.perf_counter() - start) * 1000)
            shown = f"over {found.total}" if found.more else str(found.total)
            line(name, ms, f"  ({shown} found)")
        await db.close()


async def main() -> None:
    stack = Stack(
        language="en",
        sandbox=SandboxPlatform(now=lambda: NOW),
        clock=lambda: NOW,
        bridge_overrides={"asr_url": "http://127.0.0.1:9/v1"},  # on; never called here
    )
    await stack.start()
    try:
        start = time.perf_counter()
        await fill(stack)
        print(f"{N} transcripts stored in {time.perf_counter() - start:.1f} s")
        await search_and_render(stack)
        await whole_command(stack)
    finally:
        await stack.stop()
    await at_scale()


if __name__ == "__main__":
    asyncio.run(main())
