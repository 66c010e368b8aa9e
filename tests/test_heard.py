"""/heard (issue #17 point 3), the words of a recordings subscription, and the excerpts of
/recordings lists: end to end through the Telegram emulator and the sandbox platform, with
transcripts put in the database directly (no speech-recognition server is needed to search).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import SANDBOX_NOW, examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app.bridge import Bridge
from bot.demo.stack import Stack
from bot.directory import Kind
from bot.i18n import Translator
from bot.jobs.recordings import recording_key
from bot.parsing.timeexpr import TimeExprError, parse_range
from bot.platform.models import Recording
from bot.render.heard import HeardRow, excerpt, heard_page, highlight, with_excerpts
from bot.render.replies import Reply
from bot.render.text import Html, visible_text
from bot.sandbox.data import Recording as SandboxRecording
from bot.sandbox.platform import MEDIA_DIR, SandboxPlatform
from bot.telegram.callbacks import PickAction, PickCb
from handlers.heard import HeardArgs, read_args
from storage import transcript_search
from storage.db import Database
from storage.transcript_search import Heard, TranscriptSearch
from storage.transcripts import TranscriptRepo

MakeStack = Callable[..., Awaitable[Stack]]
GROUP_CHAT = -100_777
ASR_ON = {"asr_url": "http://127.0.0.1:9/v1"}  # never called: the tests store transcripts


@pytest.fixture
def make_stack(make_bot_stack: MakeStack) -> MakeStack:
    """`await make_stack(asr=True)`: conftest's stack, with a speech-recognition server
    configured (or not), whose sandbox and bridge both stand still at the sandbox's now."""

    async def make(*, asr: bool = True) -> Stack:
        return await make_bot_stack(
            sandbox=SandboxPlatform(now=lambda: SANDBOX_NOW),
            clock=lambda: SANDBOX_NOW,
            bridge_overrides=ASR_ON if asr else {},
        )

    return make


def bridge_of(stack: Stack) -> Bridge:
    assert stack.bridge is not None
    return stack.bridge


def key_of(stack: Stack, r: SandboxRecording) -> str:
    """The bridge's key of a sandbox recording, as the platform lists it."""
    listed = Recording.model_validate(
        {
            "userId": r.user_id,
            "account": r.account,
            "beginTime": r.begin_ms,
            "fileUrl": f"{stack.platform.url}/media/{r.file}",
        }
    )
    return recording_key(listed)


async def transcribe(stack: Stack, r: SandboxRecording, text: str | None) -> str:
    """Store the transcript of sandbox recording `r` as the transcriber would (None: still
    pending); returns its key."""
    key = key_of(stack, r)
    await put(
        bridge_of(stack).repos.transcripts,
        key,
        text,
        at=datetime.fromtimestamp(r.begin_ms / 1000, UTC),
        user_id=r.user_id,
        account=r.account,
        group=r.group_name,
        file=r.file,
    )
    return key


def newest_first(stack: Stack, uid: int, day: date) -> list[SandboxRecording]:
    return sorted(stack.platform.data.recordings(uid, day), key=lambda r: -r.begin_ms)


# ---- /subscribe recordings … words … ------------------------------------------------------


async def test_subscribe_words_round_trip(make_stack: MakeStack) -> None:
    stack = await make_stack()
    assert stack.bridge is not None
    subs = stack.bridge.repos.subscriptions
    chat = stack.add_group(GROUP_CHAT, "Words")

    [done] = await stack.say(
        "admin", "/subscribe recordings group 1002 words 火情 救援 火情", chat=chat
    )
    assert "when the transcript says 火情、救援" in done.plain_text()
    [sub] = await subs.for_chat(chat)
    assert (sub.kind, sub.groups, sub.words) == ("recordings", (1002,), ("火情", "救援"))
    [entry] = await stack.bridge.repos.audit.latest(1)
    assert (entry.action, entry.args["words"]) == ("subscribe", ["火情", "救援"])

    [listing] = await stack.say("admin", "/subscriptions", chat=chat)
    assert "when the transcript says 火情、救援" in listing.plain_text()

    # A new /subscribe of the same kind replaces the words (none: no such limit any more).
    await stack.say("admin", "/subscribe recordings words <b>fire</b>", chat=chat)
    [sub] = await subs.for_chat(chat)
    assert (sub.groups, sub.words) == ((), ("<b>fire</b>",))
    [listing] = await stack.say("admin", "/subscriptions", chat=chat)
    assert "when the transcript says <b>fire</b>" in listing.plain_text()  # escaped, shown
    await stack.say("admin", "/subscribe recordings", chat=chat)
    [sub] = await subs.for_chat(chat)
    assert sub.words == ()
    [listing] = await stack.say("admin", "/subscriptions", chat=chat)
    assert "transcript" not in listing.plain_text()

    # Words for a kind that has no transcript, or no word after `words`: the usage, with
    # the words line; nothing changed.
    for args in ("incidents words 火情", "recordings words"):
        [usage] = await stack.say("admin", f"/subscribe {args}", chat=chat)
        text = usage.plain_text()
        assert "Usage: /subscribe" in text and "words <w…>" in text, text
    assert [s.words for s in await subs.for_chat(chat)] == [()]


# ---- the search itself ----------------------------------------------------------------------

T0 = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


async def put(
    repo: TranscriptRepo,
    key: str,
    text: str | None,
    *,
    at: datetime = T0,
    user_id: int | None = 10001,
    account: str = "zhangsan01",
    group: str | None = "消防一大队主频",
    file: str = "recording-zh.ogg",
) -> None:
    """A transcript in the database as the transcriber leaves it (None: still pending)."""
    await repo.want(
        key,
        user_id=user_id,
        account=account,
        group_name=group,
        begin=at,
        seconds=4.0,
        file_url=f"http://platform.invalid/media/{file}",
        now=at,
    )
    if text is not None:
        await repo.done(key, text, at + timedelta(minutes=1))


async def keys(search: TranscriptSearch, *terms: str, **kw: Any) -> list[str]:
    return [h.recording_key for h in (await search.find(terms, **kw)).hits]


@pytest.fixture(params=["index-first", "begin-first"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the search is read: from the trigram matches or the speakers' index, or
    along begin_at checking them (what many matches or speakers choose)."""
    if request.param == "begin-first":
        monkeypatch.setattr(transcript_search, "FTS_DRIVES", 0)
        monkeypatch.setattr(transcript_search, "FEW_SPEAKERS", 0)
    return str(request.param)


async def test_two_character_chinese_mixed_and_latin_any_case_are_found(
    db: Database, plan: str
) -> None:
    repo, search = TranscriptRepo(db), TranscriptSearch(db)
    await put(repo, "a", "消防一组，收到请回答。现场火势已经控制。", at=T0)
    await put(repo, "b", "发现火情，请求救援。Team one copy that.", at=T0 + timedelta(minutes=1))
    await put(repo, "c", "The FIRE is under control.", at=T0 + timedelta(minutes=2))
    await put(repo, "d", None, at=T0 + timedelta(minutes=3))  # pending: never found

    assert await keys(search, "火情") == ["b"]  # two characters: no trigram holds it
    assert await keys(search, "火") == ["b", "a"]  # one character, newest first
    assert await keys(search, "火势已经") == ["a"]  # the trigram index
    assert await keys(search, "火情", "救援") == ["b"]  # every term
    assert await keys(search, "火情", "控制") == []
    assert await keys(search, "救援。team") == ["b"]  # mixed Chinese and English, any case
    assert await keys(search, "fire") == ["c"]
    assert await keys(search, "Fire", "is") == ["c"]
    assert await keys(search, "team ONE") == ["b"]
    assert await keys(search, "火情 救援") == []  # a phrase is found as typed, space and all


@pytest.mark.parametrize(
    "text,term,decoy",
    [
        ('He said "go" now', '"go"', "go now"),
        ('a 5" pipe', '5"', "a 5 pipe"),
        ("fire* spreading", "fire*", "firemen spreading"),
        ("NEAR(fire smoke)", "NEAR(fire smoke)", "fire and smoke"),
        ("fire AND smoke", "fire AND smoke", "smoke, then fire"),
        ("fire OR smoke", "OR smoke", "smoke"),
        ("unit (two)", "(two)", "unit two"),
        ("team:one", "team:one", "one team"),
        ("^north", "^north", "north"),
        ("a-b", "-b", "a b"),
        ("100% out", "0%", "100 out"),
        ("x_y", "x_y", "xay"),
        ("c:\\path", "c:\\", "c:path"),
    ],
)
async def test_fts_syntax_is_taken_literally(
    db: Database, text: str, term: str, decoy: str
) -> None:
    """`decoy` is what `term` would find if it were read as FTS syntax or a LIKE pattern."""
    repo, search = TranscriptRepo(db), TranscriptSearch(db)
    await put(repo, "hit", text)
    await put(repo, "decoy", decoy)
    assert await keys(search, term) == ["hit"]


async def test_time_range_speakers_and_group_bound_the_search(db: Database, plan: str) -> None:
    repo, search = TranscriptRepo(db), TranscriptSearch(db)
    await put(repo, "old", "火情", at=T0 - timedelta(days=2))
    await put(repo, "zs", "火情", at=T0, user_id=10001, account="zhangsan01")
    await put(repo, "ls", "火情", at=T0 + timedelta(minutes=1), user_id=10002, account="lisi01")
    await put(repo, "acct", "火情", at=T0 + timedelta(minutes=2), user_id=None, account="ww01")
    await put(repo, "g2", "火情", at=T0 + timedelta(minutes=3), group="二中队")

    assert await keys(search, "火情", since=T0 - timedelta(hours=1)) == ["g2", "acct", "ls", "zs"]
    assert await keys(search, "火情", until=T0) == ["old"]
    assert await keys(search, "火情", speakers={10002}) == ["ls"]
    assert await keys(search, "火情", speakers={10002}, accounts={"ww01"}) == ["acct", "ls"]
    assert await keys(search, "火情", speakers=set()) == []
    assert await keys(search, "火情", group_name="二中队") == ["g2"]
    page = await search.find(["火情"], offset=3, limit=2)
    assert page.total == 5 and [h.recording_key for h in page.hits] == ["zs", "old"]
    assert (await search.find(["火情"], offset=5)).hits == []


async def test_counting_stops_at_the_cap(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transcript_search, "COUNT_CAP", 3)
    repo, search = TranscriptRepo(db), TranscriptSearch(db)
    for k in range(7):
        await put(repo, f"k{k}", "火情", at=T0 + timedelta(minutes=k))
    first = await search.find(["火情"], limit=2)
    assert ([h.recording_key for h in first.hits], first.total, first.more) == (
        ["k6", "k5"],
        3,
        True,
    )
    third = await search.find(["火情"], offset=4, limit=2)
    assert ([h.recording_key for h in third.hits], third.total, third.more) == (
        ["k2", "k1"],
        6,
        True,
    )
    last = await search.find(["火情"], offset=6, limit=2)  # the last page knows the total
    assert ([h.recording_key for h in last.hits], last.total, last.more) == (["k0"], 7, False)


# ---- /heard end to end ----------------------------------------------------------------------

ZS, ZSHAN2 = 10001, 10003  # 张三 (org 266: the scoped supervisor sees him), 张山 (267: not)


async def test_heard_without_asr_says_transcripts_are_off(make_stack: MakeStack) -> None:
    stack = await make_stack(asr=False)
    for text in ("/heard 火情", "/heard"):
        [msg] = await stack.say("supervisor", text)
        assert msg.plain_text() == (
            "Transcripts are off: the bridge has no speech-recognition server (BRIDGE_ASR_URL)."
        )


async def test_heard_without_words_is_the_usage(make_stack: MakeStack) -> None:
    stack = await make_stack()
    for text in ("/heard", '/heard ""', "/heard    "):
        [msg] = await stack.say("supervisor", text)
        assert msg.plain_text().startswith("Usage: /heard <words…> [date | from to]"), text
    [bad] = await stack.say("supervisor", "/heard 火情 2026-02-30")
    assert "Usage: /heard" in bad.plain_text()
    [viewer] = await stack.say("viewer", "/heard 火情")
    assert viewer.plain_text() == "This needs the supervisor role."


async def test_heard_finds_highlights_and_plays_within_scope(make_stack: MakeStack) -> None:
    stack = await make_stack()
    day = stack.platform.data.today() - timedelta(days=1)
    zs = [r for r in newest_first(stack, ZS, day) if not r.lost]
    other = newest_first(stack, ZSHAN2, day)
    await transcribe(stack, zs[0], "消防一组，收到请回答。现场发现火情，<请求>支援。")
    await transcribe(stack, zs[1], "Team one, copy that. The FIRE is under control.")
    await transcribe(stack, zs[2], "火")  # one character of the two: not found
    await transcribe(stack, other[0], "二中队报告火情已经扑灭。")
    await transcribe(stack, other[1], None)  # still pending

    [found] = await stack.say("supervisor", "/heard 火情")
    text = found.plain_text()
    assert "“火情” — 2 recordings, page 1 of 1" in text
    assert stack.bridge is not None
    [entry] = await stack.bridge.repos.audit.latest(1)
    assert (entry.action, entry.args["words"], entry.result) == ("heard", ["火情"], "found")
    rows = sorted(
        [(zs[0], "张三 (zhangsan01)"), (other[0], "张山 (zhangshan02)")],
        key=lambda x: -x[0].begin_ms,
    )
    for n, (r, who) in enumerate(rows, 1):
        assert f"{n}. {local(r.begin_ms)} · {who} · {r.group_name}\n    📝 " in text
    assert found.text is not None
    assert "现场发现<b>火情</b>，&lt;请求&gt;支援。" in found.text  # highlighted, escaped
    assert [label for label, _ in found.buttons()] == ["▶ 1", "▶ 2"]

    # ▶ is /recordings' own: it sends that recording's audio.
    n = 1 + [r for r, _ in rows].index(zs[0])
    out = await stack.press("supervisor", found, f"▶ {n}")
    [voice] = [m for m in out if m.kind == "voice"]
    assert voice.file is not None
    assert voice.file.data == (MEDIA_DIR / zs[0].file).read_bytes()
    assert "张三" in voice.plain_text()

    # Latin letters in any case; every word must be there.
    [en] = await stack.say("supervisor", "/heard fire CONTROL")
    assert "“fire” “CONTROL” — one recording" in en.plain_text()
    assert en.text is not None and "The <b>FIRE</b> is under <b>control</b>." in en.text
    [none] = await stack.say("supervisor", "/heard 火情 control")
    assert none.plain_text() == "No transcript contains “火情” “control”."

    # A scoped supervisor (org 266) finds only speakers in their subtree.
    [scoped] = await stack.say("scoped", "/heard 火情")
    assert "— one recording" in scoped.plain_text()
    assert "张三" in scoped.plain_text() and "张山" not in scoped.plain_text()
    [outside] = await stack.say("scoped", "/heard 火情 昨天 zhangshan02")
    assert outside.plain_text() == "Nothing matches “zhangshan02”."


def row_starts(text: str) -> list[str]:
    """`n. yyyy-mm-dd HH:MM:SS` of each row of a /heard page."""
    return [m[0] for line in text.splitlines() if (m := re.match(r"\d+\. \S+ \S+", line))]


def local(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo("Asia/Shanghai")).strftime(
        "%Y-%m-%d %H:%M:%S"
    )


async def test_heard_pages_through_many_and_plays_from_the_platforms_second_page(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    day = stack.platform.data.history_days()[-3]  # 2026-11-26: 张珊 has 11 recordings
    recs = newest_first(stack, 10002, day)
    assert len(recs) == 11
    extra = newest_first(stack, ZS, day)[0]
    for k, r in enumerate([*recs, extra]):
        await transcribe(stack, r, f"第{k}次报告：发现火情")
    ordered = sorted([*recs, extra], key=lambda r: -r.begin_ms)

    [first] = await stack.say("supervisor", "/heard 火情 2026-11-26")
    text = first.plain_text()
    assert "“火情” — 12 recordings, page 1 of 2" in text
    assert "🗓 2026-11-26 00:00 – 2026-11-27 00:00" in text
    assert row_starts(text) == [f"{n}. {local(r.begin_ms)}" for n, r in enumerate(ordered[:10], 1)]
    assert [label for label, _ in first.buttons()] == [f"▶ {n}" for n in range(1, 11)] + ["▶▶"]

    await stack.press("supervisor", first, "▶▶")
    second = stack.emu.message(first.chat_id, first.message_id)
    text2 = second.plain_text()
    assert "page 2 of 2" in text2
    assert row_starts(text2) == [
        f"{n}. {local(r.begin_ms)}" for n, r in enumerate(ordered[10:], 11)
    ]
    assert [label for label, _ in second.buttons()] == ["▶ 11", "▶ 12", "◀"]

    # 张珊's oldest recording is on the platform's second page of her day: ▶ finds it there.
    oldest = recs[-1]
    n = 1 + ordered.index(oldest)
    assert n > 10
    out = await stack.press("supervisor", second, f"▶ {n}")
    voices = [m for m in out if m.kind in ("voice", "audio", "document")]
    assert len(voices) == 1 and local(oldest.begin_ms) in voices[0].plain_text()

    await stack.press("supervisor", second, "◀")
    back = stack.emu.message(first.chat_id, first.message_id)
    assert "page 1 of 2" in back.plain_text()


async def test_heard_reads_a_range_and_a_target_and_quotes(make_stack: MakeStack) -> None:
    stack = await make_stack()
    days = stack.platform.data.history_days()
    zs_today = newest_first(stack, ZS, days[-1])[0]
    zs_before = newest_first(stack, ZS, days[-2])[0]
    other = newest_first(stack, 10002, days[-1])[0]
    for r in (zs_today, zs_before, other):
        await transcribe(stack, r, "zhangsan01 报告火情 firemen")

    async def rows(text: str) -> int | str:
        [msg] = await stack.say("supervisor", text)
        said = msg.plain_text()
        if said.startswith("🔎"):
            return sum(1 for line in said.splitlines() if line[:1].isdigit())
        return said

    assert await rows("/heard 火情") == 3
    assert await rows("/heard 火情 today") == 2
    assert await rows("/heard 火情 -2d zhangsan01") == 2  # a range, then a user
    assert await rows("/heard 火情 zhangsan01") == 2  # no time: an exact account is the user
    assert await rows('/heard 火情 "zhangsan01"') == 3  # quoted: a word to find
    in_1002 = [r for r in (zs_today, zs_before, other) if r.group_name == "消防一大队主频"]
    assert 0 < len(in_1002) < 3
    assert await rows("/heard 火情 1002") == len(in_1002)  # talk group 1002, by its id
    assert await rows("/heard 火情 today nobody") == "Nothing matches “nobody”."
    assert await rows('/heard "fire*"') == "No transcript contains “fire*”."
    assert await rows("/heard “报告火情 fire”") == 3  # curly quotes keep a phrase
    assert await rows("/heard 火情 现在") == "No transcript contains “火情” “现在”."

    [who] = await stack.say("supervisor", "/heard 火情 zhangsan01")
    assert "👤 张三 (zhangsan01)" in who.plain_text()


async def test_heard_pages_after_a_restart_in_a_group(make_stack: MakeStack) -> None:
    """The query is kept with the message: ▶▶ works after a restart; in a group only for
    whoever asked."""
    stack = await make_stack()
    chat = stack.add_group(GROUP_CHAT, "Heard")
    day = stack.platform.data.history_days()[-3]
    for k, r in enumerate(newest_first(stack, 10002, day)):
        await transcribe(stack, r, f"{k} 救援")
    [first] = await stack.say("supervisor", "/heard 救援", chat=chat)
    assert "11 recordings, page 1 of 2" in first.plain_text()
    await stack.restart_bridge()

    await stack.press("admin", first, "▶▶")  # not theirs
    assert "page 1 of 2" in stack.emu.message(chat, first.message_id).plain_text()
    await stack.press("supervisor", first, "▶▶")
    after = stack.emu.message(chat, first.message_id)
    assert "page 2 of 2" in after.plain_text() and row_starts(after.plain_text())[0][:4] == "11. "


async def test_heard_page_button_without_its_query_has_expired(make_stack: MakeStack) -> None:
    stack = await make_stack()
    [help_msg] = await stack.say("supervisor", "/help")
    before = len(stack.emu.callback_answers)
    update = await stack.emu.press_button(
        stack.people["supervisor"], help_msg, "hd1:2", chat=help_msg.chat_id, strict=False
    )
    await stack.wait_handled(int(update["update_id"]))
    [said] = stack.emu.callback_answers[before:]
    assert said.text == "This button has expired. Please send the command again."
    assert said.show_alert


# ---- /recordings: an excerpt per transcribed recording ---------------------------------------


async def test_recordings_lists_show_an_excerpt_of_each_transcript(make_stack: MakeStack) -> None:
    stack = await make_stack()
    day = stack.platform.data.history_days()[-2]
    recs = newest_first(stack, ZS, day)
    long_text = (
        "消防一组，收到请回答。现场火势已经控制。Team one, copy that. The fire is under control."
    )
    await transcribe(stack, recs[0], long_text)
    await transcribe(stack, recs[1], None)  # pending: no excerpt
    await transcribe(stack, recs[2], "<短>")

    [listing] = await stack.say("supervisor", f"/recordings zhangsan01 {day}")
    lines = listing.plain_text().splitlines()
    assert lines[2] == "    📝 " + long_text[:39] + "…"
    assert lines[3].startswith("2. ") and lines[4].startswith("3. ")
    assert lines[5] == "    📝 <短>"
    assert [label for label, _ in listing.buttons()][:3] == ["▶ 1", "▶ 2", "▶ 3"]


# ---- the parts, without Telegram ------------------------------------------------------------

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    "typed,terms,times,target",
    [
        ("火情", ("火情",), (), ""),
        ("火情 救援 火情", ("火情", "救援"), (), ""),
        ('"under control" 火情', ("under control", "火情"), (), ""),
        ("“报告 火情”", ("报告 火情",), (), ""),
        ("火情 昨天", ("火情",), ("昨天",), ""),
        ("火情 2026-11-20 2026-11-22 zs", ("火情",), ("2026-11-20", "2026-11-22"), "zs"),
        ("火情 2026-11-20 08:00 -1h 张 三", ("火情",), ("2026-11-20", "08:00", "-1h"), "张 三"),
        ("火情 2026-02-30", ("火情",), ("2026-02-30",), ""),  # meant as a time: told
        ("火情 25:00", ("火情",), ("25:00",), ""),
        ("频道 1.5 3.14", ("频道", "1.5", "3.14"), (), ""),  # numbers, not times
        ('火情 "昨天"', ("火情", "昨天"), (), ""),
        ("火情 现在 now", ("火情", "现在", "now"), (), ""),
        ('5" pipe', ('5"', "pipe"), (), ""),
        ('""', (), (), ""),
        ("昨天", ("昨天",), (), ""),  # the first word is always a word
        ("ＦＩＲＥ１２，", ("FIRE12，",), (), ""),  # full-width letters and digits, not "，"
    ],
)
def test_heard_arguments_read(
    typed: str, terms: tuple[str, ...], times: tuple[str, ...], target: str
) -> None:
    now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert read_args(typed, now, TZ) == HeardArgs(terms, times, target)


def test_highlight_marks_every_match_escaped_around_the_first() -> None:
    text = "开头" * 50 + "现场<火情>已经控制，FIRE 火情 fire" + "结尾" * 50
    out = highlight(text, ["火情", "fire"])
    assert out.startswith("…") and out.endswith("…")
    assert "现场&lt;<b>火情</b>&gt;已经控制，<b>FIRE</b> <b>火情</b> <b>fire</b>" in out
    assert len(visible_text(out)) <= 80 + 2
    # Overlapping terms make one mark; a short text is whole; no match: the start.
    assert highlight("abcdef", ["bcd", "cde"]) == "a<b>bcde</b>f"
    assert highlight("line one\nline two", ["two"]) == "line one line <b>two</b>"
    assert highlight("x" * 100, ["y"]) == "x" * 79 + "…"


def test_a_count_that_stopped_says_over_and_offers_the_next_page() -> None:
    t = Translator.load().get("en")
    hit = Heard("k", 1, "a", None, T0, 1.0, "http://x/a.ogg", "火情")
    rows = [HeardRow(hit, "张三 (a)", None)] * 10
    many = heard_page(t, ["火情"], rows, page=3, total=1000, filters=[], tz=TZ, more=True)
    assert visible_text(many.text).startswith("🔎 “火情” — over 1000 recordings, page 3 (newest")
    assert many.keyboard is not None
    assert [b.text for row in many.keyboard.inline_keyboard for b in row][-2:] == ["◀", "▶▶"]
    last = heard_page(t, ["火情"], rows[:1], page=3, total=21, filters=[], tz=TZ)
    assert "21 recordings, page 3 of 3" in visible_text(last.text)
    assert last.keyboard is not None
    assert [b.text for row in last.keyboard.inline_keyboard for b in row] == ["◀"]


def test_excerpt_is_one_line_of_forty_characters() -> None:
    assert excerpt("  短  文本\n第二行 ") == "短 文本 第二行"
    assert excerpt("火" * 41) == "火" * 39 + "…"
    assert excerpt("火" * 40) == "火" * 40
    assert excerpt("<b>") == "&lt;b&gt;"


def test_excerpts_are_left_out_when_a_row_spans_two_lines() -> None:
    reply = Reply("title\n1. a\n2. b\nc")  # a talk group name with a line break in it
    assert with_excerpts(reply, [Html("x"), None]) == reply
    two = with_excerpts(Reply("title\n1. a\n2. b"), [Html("x"), None])
    assert two.text == "title\n1. a\n    📝 x\n2. b"


SEARCH_ALPHABET = st.sampled_from(list('火情救援aAbBzZ "*:^()-+%_\\.NEARORANDNOT'))


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=st.text(SEARCH_ALPHABET, min_size=1, max_size=30),
    start=st.integers(0, 30),
    length=st.integers(1, 8),
    other=st.text(SEARCH_ALPHABET, min_size=1, max_size=8),
)
async def test_any_typed_term_is_a_substring_search(
    db: Database, text: str, start: int, length: int, other: str
) -> None:
    """Whatever is typed never reaches FTS5 or LIKE as syntax: a piece of the text is found
    (any case for Latin letters), and a term is found exactly when the text contains it."""
    repo, search = TranscriptRepo(db), TranscriptSearch(db)
    await db.execute("DELETE FROM transcripts")
    await put(repo, "t", text)
    piece = text[start : start + length] or text
    assert await keys(search, piece.swapcase()) == ["t"]
    assert await keys(search, piece, other) == (["t"] if other.lower() in text.lower() else [])


@settings(max_examples=examples(400), deadline=None)
@given(
    text=st.text(
        st.sampled_from(list('火情 "“”-0123456789:/.dhmTt昨天今天nowzs\\\\*')) | st.characters(),
        max_size=40,
    )
)
def test_any_arguments_read_without_an_error(text: str) -> None:
    """Whatever follows /heard reads as words, times and a target; the times either make
    a range or say what is wrong with them (never another exception)."""
    now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    args = read_args(text, now, TZ)
    assert all(term.strip() for term in args.terms)
    assert len(args.times) <= 4
    if args.times:
        try:
            start, end = parse_range(list(args.times), now, TZ, max_span=timedelta(days=3660))
        except TimeExprError:
            return
        assert start < end


# ---- attacks: what anyone may type after /heard, and what a transcript may hold -------------

HOSTILE = [
    "收到，100% 完成_a\\b。",
    "NEAR(火情 救援) a OR b * ^ end",
    "<script>alert(1)</script> & <b>火情</b>",
    "消防员👨\u200d🚒到达🔥现场",
]


async def test_heard_takes_any_words_literally_and_always_answers(make_stack: MakeStack) -> None:
    stack = await make_stack()
    day = stack.platform.data.today() - timedelta(days=1)
    zs = [r for r in newest_first(stack, ZS, day) if not r.lost]
    other = newest_first(stack, ZSHAN2, day)
    for r, text in zip(zs, HOSTILE, strict=False):
        await transcribe(stack, r, text)
    await transcribe(stack, other[0], "火情 100% NEAR(火情 救援)")  # outside the scoped's org

    async def found(who: str, words: str) -> str:
        replies = await stack.say(who, f"/heard {words}")
        text = "\n".join(m.plain_text() for m in replies)
        assert "went wrong" not in text, words
        return text

    one, none = "— one recording", "No transcript contains"
    cases = {
        "%": one,  # not LIKE's "anything"
        "_": one,
        "\\": one,
        "完成_a": one,
        "0%": one,
        '"NEAR(火情 救援)"': one,
        "NEAR(火情": one,
        "a OR b": one,  # three words, each literal, all in one transcript
        "*": one,
        "^": one,
        '"* ^"': one,
        "🔥": one,
        "👨\u200d🚒": one,
        "\u200d": one,
        "<script>": one,
        "&": one,
        "，。": none,
        "？！": none,
        "NEAR(x": none,
        "OR": one,
    }
    for words, expect in cases.items():
        assert expect in await found("scoped", words), words
    # The scoped supervisor's count holds only their subtree: the other speaker's "%" too.
    assert "— 2 recordings" in await found("supervisor", "%")
    assert "— one recording" in await found("scoped", "NEAR(火情")
    assert "张山" not in await found("scoped", "100%")

    [usage] = await stack.say("scoped", '/heard "" ""')
    assert usage.plain_text().startswith("Usage: /heard")
    many = " ".join(f"词{i}" for i in range(200))
    assert none in await found("scoped", many)
    long_word = "火" * 4000
    text = await found("scoped", long_word)
    assert text.startswith(f"{none} “火火火")
    # Found: a title of 4,000 characters still comes with its page and its ▶.
    earlier = [r for r in newest_first(stack, ZS, day - timedelta(days=1)) if not r.lost]
    await transcribe(stack, earlier[0], "火" * 4100)
    replies = await stack.say("scoped", f"/heard {long_word}")
    assert "— one recording" in "".join(m.plain_text() for m in replies)
    assert [label for m in replies for label, _ in m.buttons()] == ["▶ 1"]

    # A transcript's HTML is escaped in the page, the match bold within it.
    [page] = await stack.say("scoped", "/heard script")
    assert page.text is not None
    assert "&lt;<b>script</b>&gt;alert(1)&lt;/<b>script</b>&gt; &amp; &lt;b&gt;" in page.text


def test_a_match_longer_than_the_excerpt_is_cut_too() -> None:
    shown = highlight("火" * 4100, ["火" * 4000])
    assert shown == Html("<b>" + "火" * 80 + "</b>…")
    assert visible_text(highlight("前" * 50 + "火" * 4000, ["火" * 3000])).count("火") <= 80


# ---- an ambiguous user or group: pick buttons ------------------------------------------------


def button(msg: Any, account: str) -> str:
    data = next(d for text, d in msg.buttons() if f"({account})" in text)
    assert isinstance(data, str)
    return data


async def _fire_reports(stack: Stack) -> None:
    day = stack.platform.data.today() - timedelta(days=1)
    for uid in (ZS, 10002, ZSHAN2):
        for r in [r for r in newest_first(stack, uid, day) if not r.lost][:2]:
            await transcribe(stack, r, f"{uid} 报告火情")


async def test_heard_with_an_ambiguous_name_gets_buttons_and_a_tap_searches_as_typed(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    await _fire_reports(stack)
    [asked] = await stack.say("supervisor", "/heard 火情 -2d zs")
    assert asked.plain_text().startswith("“zs”: 3 matches — pick one")
    assert sorted(label for label, _ in asked.buttons()) == [
        "👤 张三 (zhangsan01)",
        "👤 张山 (zhangshan02)",
        "👤 张珊 (zhangshan01)",
    ]
    audit = bridge_of(stack).repos.audit
    assert [e.action for e in await audit.latest(1)] != ["heard"]  # nothing searched yet

    [tapped] = await stack.press("supervisor", asked, "👤 张山 (zhangshan02)")
    [typed] = await stack.say("supervisor", "/heard 火情 -2d 10003")
    assert tapped.plain_text() == typed.plain_text()
    assert "— 2 recordings" in typed.plain_text() and "👤 张山 (zhangshan02)" in typed.plain_text()
    assert [label for label, _ in tapped.buttons()] == [label for label, _ in typed.buttons()]
    first, second = await audit.latest(2)
    assert (first.action, first.target, first.args) == (second.action, second.target, second.args)
    assert second.target == "user:10003" and second.args["words"] == ["火情"]
    # Its ▶ plays, as the typed answer's.
    out = await stack.press("supervisor", tapped, "▶ 1")
    assert [m.kind for m in out if m.kind in ("voice", "audio")]

    # Without a time, a last word that is exactly several names' gets the buttons too, and
    # is not searched for.
    [asked] = await stack.say("supervisor", "/heard 火情 zhangshan")
    assert sorted(label for label, _ in asked.buttons()) == [
        "👤 张山 (zhangshan02)",
        "👤 张珊 (zhangshan01)",
    ]
    [tapped] = await stack.press("supervisor", asked, "👤 张珊 (zhangshan01)")
    assert "“火情” — 2 recordings" in tapped.plain_text()
    assert "👤 张珊 (zhangshan01)" in tapped.plain_text()


async def test_heard_picks_of_another_person_or_expired_are_refused_and_outlive_a_restart(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    await _fire_reports(stack)
    chat = stack.add_group(GROUP_CHAT, "Heard")
    [asked] = await stack.say("supervisor", "/heard 火情 zs", chat=chat)
    assert asked.plain_text().startswith("“zs”: 3 matches")  # initials: not exact, yet required
    data = button(asked, "zhangsan01")
    assert await stack.press_data("admin", asked, data) == [
        "This button answers whoever asked for it: send the command yourself."
    ]
    [other] = await stack.say("supervisor", "/help", chat=chat)
    expired = "This button has expired. Please send the command again."
    assert await stack.press_data("supervisor", other, data) == [expired]
    [where] = await stack.say("supervisor", "/where zs", chat=chat)
    assert await stack.press_data("supervisor", where, data) == [expired]
    await stack.restart_bridge()
    out = await stack.press_data("supervisor", asked, data)
    assert "“火情” — 2 recordings" in out[0] and "👤 张三 (zhangsan01)" in out[0]


async def test_heard_a_scoped_supervisor_picks_only_among_names_in_scope(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    await _fire_reports(stack)
    [asked] = await stack.say("scoped", "/heard 火情 -2d zs")
    assert sorted(label for label, _ in asked.buttons()) == [
        "👤 张三 (zhangsan01)",
        "👤 张珊 (zhangshan01)",
    ]
    forged = PickCb(action=PickAction.HEARD, kind=Kind.USER, id=ZSHAN2).pack()
    assert (await stack.press_data("scoped", asked, forged))[0] == "No user matches “10003”."
    forged = PickCb(action=PickAction.HEARD, kind=Kind.ORG, id=266).pack()
    assert (await stack.press_data("scoped", asked, forged))[0] == "No org matches “266”."
    out = await stack.press_data("scoped", asked, button(asked, "zhangshan01"))
    assert "👤 张珊 (zhangshan01)" in out[0]
