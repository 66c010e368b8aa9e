"""Transcripts in voice messages' captions (issue #17, point 2): the caption renderer, the
store of messages waiting for a transcript, and — end to end over real HTTP with the fake
speech-recognition server — the recordings watch and ▶ completing captions once."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from conftest import Clock
from hypothesis import given
from hypothesis import strategies as st
from test_jobs import delivered, ready

from bot.demo.stack import Stack
from bot.i18n import Translator
from bot.jobs.recordings import LATE_MARGIN, heard
from bot.relay.messages import CaptionEdit, VoiceMessage, read_message
from bot.render.text import CAPTION_LIMIT, split_html, utf16_len, visible_len, visible_text
from bot.render.transcripts import captioned, transcript_text
from bot.sandbox import asr as fake_asr
from bot.sandbox.asr import FakeAsr
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage
from storage.db import Database, from_db_time
from storage.transcript_captions import TranscriptCaptionRepo, WaitingCaption

ZH = "消防一组，收到请回答。现场火势已经控制。"
EN = "Team one, copy that. The fire is under control."
T0 = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator.load("en")


# -- the caption renderer ----------------------------------------------------------------


@pytest.mark.parametrize(("lang", "text"), [("en", EN), ("zh", ZH)])
def test_a_short_transcript_goes_under_the_caption(
    translator: Translator, lang: str, text: str
) -> None:
    caption = "🎙 张三 (zhangsan01) · 2026-11-28 15:00:05 · 消防一组 · 6 s"
    made = captioned(translator.get(lang), caption, f"  {text}\n")
    assert made.reply is None
    assert made.caption == f"{caption}\n📝 {text}"


def test_the_transcript_is_escaped(translator: Translator) -> None:
    made = captioned(translator.get("en"), "🎙 <b>x</b>", "a <b> & c")
    assert made.caption == "🎙 <b>x</b>\n📝 a &lt;b&gt; &amp; c"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_long_transcript_gives_an_excerpt_and_the_whole_text_as_a_reply(
    translator: Translator, lang: str
) -> None:
    t = translator.get(lang)
    caption = "🎙 张三 (zhangsan01) · 2026-11-28 15:00:05 · 消防一组 · 600 s"
    text = (ZH + "🚒 ") * 80  # astral emoji: two UTF-16 units each
    made = captioned(t, caption, text)
    assert made.reply is not None
    assert visible_len(made.caption) <= CAPTION_LIMIT
    assert visible_len(made.caption) > CAPTION_LIMIT - 40  # an excerpt, not a stub
    assert made.caption.startswith(caption + "\n📝 " + ZH)
    assert made.caption.endswith(t("transcript-cut"))
    # The reply holds the whole text (split like any long message).
    said = "".join(visible_text(p) for p in split_html(made.reply))
    assert " ".join(text.split()) in " ".join(said.split())


def test_a_transcript_longer_than_fluent_takes_is_whole_in_the_reply(
    translator: Translator,
) -> None:
    text = "x" * 9000  # Fluent refuses arguments over 2,500 characters
    made = captioned(translator.get("en"), "🎙", text)
    assert made.reply is not None and text in made.reply


def test_a_caption_with_no_room_left_points_to_the_reply(translator: Translator) -> None:
    t = translator.get("en")
    made = captioned(t, "a" * 1010, EN * 3)
    assert visible_len(made.caption) <= CAPTION_LIMIT
    assert made.reply is not None and EN in made.reply


@given(
    caption=st.text(min_size=1, max_size=1100).map(lambda s: s.replace("<", "").replace("&", "")),
    text=st.text(min_size=1, max_size=3000),
)
def test_captions_with_transcripts_always_fit(caption: str, text: str) -> None:
    t = Translator.load("en").get("zh")
    from bot.render.text import truncate_caption

    made = captioned(t, truncate_caption(caption), text)
    assert visible_len(made.caption) <= CAPTION_LIMIT
    if made.reply is None:
        assert visible_text(made.caption).endswith(text.strip()) or not text.strip()


def test_blank_transcripts_show_nothing() -> None:
    assert transcript_text(None) is None
    assert transcript_text(" \n ") is None
    assert transcript_text(" 收到 ") == "收到"


def test_words_are_found_in_any_case_and_width() -> None:
    assert heard(("火势",), ZH)
    assert heard(("FIRE",), EN)
    assert heard(("ＦＩＲＥ",), EN)  # full-width
    assert not heard(("救援",), ZH)
    assert not heard((), ZH)
    assert not heard(("",), ZH)


# -- outbox messages ---------------------------------------------------------------------


def test_caption_edits_and_keyed_voices_round_trip() -> None:
    edit = CaptionEdit(message_id=7, caption="🎙\n📝 x", reply="📝 Transcript: xx")
    assert read_message(edit.to_payload()) == edit
    voice = VoiceMessage(text="🎙", voice_url="http://x/a.ogg", recording_key="1:2:a", language="zh")
    assert read_message(voice.to_payload()) == voice
    # A row queued before voices had keys is still a voice, with none.
    old = read_message({"text": "🎙", "voice_url": "http://x/a.ogg"})
    assert isinstance(old, VoiceMessage) and old.recording_key is None


# -- the store of waiting messages -------------------------------------------------------


async def test_waiting_messages_are_claimed_once(db: Database) -> None:
    repo = TranscriptCaptionRepo(db)
    w = WaitingCaption("k1", -100, 0, 11, "🎙 a", "en", T0)
    await repo.add(w)
    await repo.add(w)  # the same message twice: kept once
    await repo.add(WaitingCaption("k1", -200, 3, 12, "🎙 b", "zh", T0 + timedelta(seconds=1)))
    await repo.add(WaitingCaption("k2", -100, 0, 13, "🎙 c", "en", T0))
    assert await repo.keys() == ["k1", "k2"]
    async with db.transaction():
        claimed = await repo.claim("k1")
    assert [(c.chat_id, c.thread_id, c.message_id, c.language) for c in claimed] == [
        (-100, 0, 11, "en"),
        (-200, 3, 12, "zh"),
    ]
    assert await repo.claim("k1") == []
    assert await repo.prune(T0 + timedelta(seconds=1)) == 1
    assert await repo.count() == 0


# -- end to end: the sandbox platform, the Telegram emulator, the fake ASR server ---------

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
LATER = NOW + timedelta(minutes=40)
GROUP_CHAT = -100_700


@pytest.fixture
async def asr() -> AsyncIterator[FakeAsr]:
    server = FakeAsr()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def make_stack(
    asr: FakeAsr, make_bot_stack: Callable[..., Awaitable[Stack]]
) -> Callable[..., Awaitable[tuple[Stack, Clock]]]:
    """`await make_stack()`: the stack (English) with the fake ASR server configured, one
    `Clock` for the sandbox platform and the bridge (the transcriber's retries wait for it
    to move), the scheduler paused (the test runs the recordings poll)."""

    async def make(**bridge: Any) -> tuple[Stack, Clock]:
        clock = Clock(NOW)
        stack = await make_bot_stack(
            sandbox=SandboxPlatform(now=clock),
            clock=clock,
            bridge_overrides={"asr_url": asr.url, **bridge},
        )
        await ready(stack)
        return stack, clock

    return make


async def transcribed(stack: Stack, clock: Clock, by: timedelta = timedelta(hours=1)) -> None:
    """Let the transcriber try everything due, `by` on (past a retry's backoff)."""
    bridge = stack.bridge
    assert bridge is not None
    clock.advance(by)
    bridge.transcriber.wake()
    await asyncio.wait_for(bridge.transcriber.idle(), timeout=30)


def caption_edits(stack: Stack, chat: int) -> Counter[int]:
    """editMessageCaption calls the emulator took in `chat`, per message id."""
    return Counter(
        int(c.params["message_id"])
        for c in stack.emu.calls
        if c.method == "editMessageCaption" and c.status == 200 and int(c.params["chat_id"]) == chat
    )


def voices(msgs: list[EmuMessage]) -> list[EmuMessage]:
    return [m for m in msgs if m.kind in ("voice", "audio", "document")]


async def subscribed_chats(stack: Stack, n: int) -> list[int]:
    chats = [stack.add_group(GROUP_CHAT - i, f"Recordings {i}") for i in range(n)]
    for chat in chats:
        await stack.say("admin", "/subscribe recordings org 266", chat=chat)
    return chats


async def test_asr_down_voices_go_at_once_and_each_caption_is_completed_once_in_two_chats(
    make_stack: Any, asr: FakeAsr
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    chats = await subscribed_chats(stack, 2)
    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock)  # every attempt refused: retried later
    sent = {chat: voices(await delivered(stack, chat)) for chat in chats}
    assert sent[chats[0]] and len(sent[chats[0]]) == len(sent[chats[1]])
    assert all("📝" not in (m.caption or "") for v in sent.values() for m in v)
    assert not asr.transcriptions
    before = {(chat, m.message_id): m.caption for chat, v in sent.items() for m in v}

    await asr.up()
    await transcribed(stack, clock)
    for chat in chats:
        await delivered(stack, chat)
        edits = caption_edits(stack, chat)
        assert edits == Counter(m.message_id for m in sent[chat])  # each once
        for m in sent[chat]:
            now = stack.emu.message(chat, m.message_id)
            head, line = now.caption.split("\n")
            assert head == before[chat, m.message_id] and line in (f"📝 {ZH}", f"📝 {EN}")
    # Each recording transcribed once, for both chats.
    assert len(asr.transcriptions) == len(sent[chats[0]])

    # Later polls (with the sweep), a restart, more transcripts: none is edited again.
    await stack.restart_bridge()
    bridge = await ready(stack)
    await bridge.jobs.recordings.poll(clock.now)
    await transcribed(stack, clock)
    for chat in chats:
        await delivered(stack, chat)
        edits = caption_edits(stack, chat)
        assert all(edits[m.message_id] == 1 for m in sent[chat])
        assert set(edits.values()) == {1}


async def test_a_transcript_known_before_sending_is_in_the_caption_and_never_edited(
    make_stack: Any,
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    [chat] = await subscribed_chats(stack, 1)
    await stack.say("admin", "/mute 2h", chat=chat)  # the voices wait in the outbox
    assert await bridge.jobs.recordings.poll(NOW) == 0
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock)
    assert voices(await delivered(stack, chat)) == []
    await stack.say("admin", "/mute off", chat=chat)
    got = voices(await delivered(stack, chat))
    assert got and all(m.caption.split("\n")[1] in (f"📝 {ZH}", f"📝 {EN}") for m in got)
    assert caption_edits(stack, chat) == Counter()
    assert await bridge.repos.transcript_captions.count() == 0


async def test_play_in_recordings_gets_its_caption_completed(make_stack: Any, asr: FakeAsr) -> None:
    stack, clock = await make_stack()
    data = stack.platform.data
    supervisor = stack.people["supervisor"].id
    day = NOW.date()
    idx = next(i for i, r in enumerate(data.recordings(10001, day)[:10]) if not r.lost)
    begin = data.recordings(10001, day)[idx].begin_ms
    await asr.down()
    [listing] = await stack.say("supervisor", f"/recordings zhangsan01 {day}")
    out = await stack.press("supervisor", listing, f"▶ {idx + 1}")
    [voice] = [m for m in out if m.kind in ("voice", "audio")]
    caption = voice.caption
    assert caption and "📝" not in caption
    minute = timedelta(minutes=1)  # past the first retry's backoff
    await transcribed(stack, clock, minute)  # refused: tried again later
    await asr.up()
    await transcribed(stack, clock, minute)
    await delivered(stack, supervisor)
    assert caption_edits(stack, supervisor) == Counter({voice.message_id: 1})
    now = stack.emu.message(supervisor, voice.message_id)
    assert now.caption.split("\n")[0] == caption
    assert now.caption.split("\n")[1] in (f"📝 {ZH}", f"📝 {EN}")

    # ▶ again: the transcript is known, so it is in the caption at once.
    [listing] = await stack.say("supervisor", f"/recordings zhangsan01 {day}")
    idx = [r.begin_ms for r in data.recordings(10001, day)].index(begin)
    out = await stack.press("supervisor", listing, f"▶ {idx + 1}")
    [again] = [m for m in out if m.kind in ("voice", "audio")]
    assert again.caption == now.caption
    assert len(asr.transcriptions) == 1
    await delivered(stack, supervisor)
    assert caption_edits(stack, supervisor) == Counter({voice.message_id: 1})


async def test_a_long_transcript_gets_an_excerpt_and_the_whole_text_as_a_reply(
    make_stack: Any, asr: FakeAsr, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_zh = ZH + "".join(f"第{i}段，{ZH}" for i in range(60))  # ~1,500 characters
    for digest, text in list(fake_asr.KNOWN_TEXTS.items()):
        if text == ZH:
            monkeypatch.setitem(fake_asr.KNOWN_TEXTS, digest, long_zh)
    stack, clock = await make_stack()
    bridge = stack.bridge
    [chat] = await subscribed_chats(stack, 1)
    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock)
    sent = voices(await delivered(stack, chat))
    before = {m.message_id: m.caption for m in sent}
    await asr.up()
    await transcribed(stack, clock)
    after = await delivered(stack, chat)
    replies = {m.reply_to_message_id: m for m in after if m.kind == "text"}
    long_ones = 0
    for m in sent:
        now = stack.emu.message(chat, m.message_id)
        head, line = now.caption.split("\n")
        assert head == before[m.message_id]
        if line == f"📝 {EN}":
            assert m.message_id not in replies
            continue
        long_ones += 1
        assert line.startswith(f"📝 {ZH}第0段") and line.endswith(
            "(the whole text is in the reply)"
        )
        assert utf16_len(now.caption) <= CAPTION_LIMIT
        reply = replies[m.message_id]
        assert reply.plain_text() == f"📝 Transcript: {long_zh}"
    assert long_ones, "the sandbox has Mandarin recordings in this window"
    assert set(caption_edits(stack, chat).values()) == {1}


async def test_a_words_subscription_gets_only_recordings_that_say_them(
    make_stack: Any, asr: FakeAsr
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    fire, rescue, every = (stack.add_group(GROUP_CHAT - i, f"Words {i}") for i in range(3))
    for chat, words in ((fire, " words 火势 FIRE"), (rescue, " words 救援"), (every, "")):
        [ok] = await stack.say("admin", f"/subscribe recordings org 266{words}", chat=chat)
        assert "recordings" in ok.plain_text()
    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()  # the transcripts come later: the worded ones wait for them
    clock.now = LATER
    queued = await bridge.jobs.recordings.poll(LATER)
    await transcribed(stack, clock)
    everything = voices(await delivered(stack, every))
    assert queued and len(everything) <= queued
    assert await delivered(stack, fire) == []

    await asr.up()
    await transcribed(stack, clock)  # the listener sends what was held at once
    heard_fire = voices(await delivered(stack, fire))
    # Both fixtures speak of the fire (火势, fire): every recording with a file.
    assert [m.caption for m in heard_fire] == [
        stack.emu.message(every, m.message_id).caption for m in everything
    ]
    assert all(m.caption.split("\n")[1] in (f"📝 {ZH}", f"📝 {EN}") for m in heard_fire)
    assert caption_edits(stack, fire) == Counter()  # the transcript was known: no edit
    assert await delivered(stack, rescue) == []  # nobody said 救援
    assert await bridge.jobs.recordings.poll(clock.now) >= 0
    assert await delivered(stack, rescue) == []
    held = await bridge.repos.job_state.get("recordings-held-for-words")
    assert held == []


async def test_a_restart_between_the_voice_and_its_transcript_still_edits_once(
    make_stack: Any, asr: FakeAsr
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    [chat] = await subscribed_chats(stack, 1)
    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock)
    sent = voices(await delivered(stack, chat))
    assert sent and await bridge.repos.transcript_captions.count() == len(sent)

    await stack.restart_bridge()
    bridge = await ready(stack)
    await asr.up()
    await transcribed(stack, clock)
    await delivered(stack, chat)
    assert caption_edits(stack, chat) == Counter(m.message_id for m in sent)
    assert await bridge.repos.transcript_captions.count() == 0


async def test_a_transcript_stored_while_nobody_listened_is_added_by_the_sweep(
    make_stack: Any, asr: FakeAsr
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    [chat] = await subscribed_chats(stack, 1)
    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock)
    sent = voices(await delivered(stack, chat))
    keys = await bridge.repos.transcript_captions.keys()
    assert len(keys) == len(sent) >= 2
    # One transcript written as by a bridge that stopped before telling anyone; another
    # given up for good.
    await bridge.repos.transcripts.done(keys[0], "收到", clock.now)
    await bridge.repos.transcripts.failed(keys[1], "gone", None, clock.now)
    await bridge.jobs.recordings.poll(clock.now)
    await delivered(stack, chat)
    edits = caption_edits(stack, chat)
    assert len(edits) == 1 and set(edits.values()) == {1}
    [edited] = [stack.emu.message(chat, i) for i in edits]
    assert edited.caption.endswith("\n📝 收到")
    waiting = set(await bridge.repos.transcript_captions.keys())  # the poll sent more
    assert set(keys[2:]) <= waiting and not {keys[0], keys[1]} & waiting


async def test_recordings_of_followed_and_watched_users_are_transcribed_ahead(
    make_stack: Any, asr: FakeAsr
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    data = stack.platform.data
    chat = stack.add_group(GROUP_CHAT, "Patrol", admins=("admin", "supervisor"))
    await stack.say("supervisor", "/follow zhangsan01 2h", chat=chat)
    watched = bridge.directory.group(1003)
    assert watched is not None and 10001 not in watched.member_ids
    await stack.say("supervisor", "/watch 1003", chat=chat)
    assert await bridge.jobs.recordings.poll(NOW) == 0  # no subscription: nothing sent
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) == 0
    await transcribed(stack, clock, timedelta(seconds=1))
    since = int((NOW - LATE_MARGIN).timestamp() * 1000)
    users = {10001, *watched.member_ids}
    new = [
        (uid, r)
        for uid in users
        for r in data.recordings(uid, LATER.date())
        if since <= r.begin_ms <= int(LATER.timestamp() * 1000)
    ]
    old = [
        (uid, r) for uid in users for r in data.recordings(uid, NOW.date()) if r.begin_ms < since
    ]
    assert new and old, "the sandbox has recordings before and after the follow"
    rows = await bridge.db.fetchall(
        "SELECT recording_key, user_id, begin_at, state FROM transcripts"
    )
    got = {(r["user_id"], from_db_time(r["begin_at"])) for r in rows}
    assert {(uid, r.begin_ms) for uid, r in new} == {
        (uid, int(at.timestamp() * 1000)) for uid, at in got
    }
    done = [r for r in rows if r["state"] == "done"]
    assert len(done) == len([1 for _uid, r in new if not r.lost])
    assert len(asr.transcriptions) == len(done)

    # /recordings lists show them with their excerpt; nothing was sent to the chat.
    [listing] = await stack.say("supervisor", f"/recordings zhangsan01 {LATER.date()}")
    assert "📝" in listing.plain_text()
    assert voices(await delivered(stack, chat)) == []


async def test_with_asr_off_nothing_changes(make_stack: Any) -> None:
    stack, clock = await make_stack(asr_url="")
    bridge = stack.bridge
    assert not bridge.captions.enabled
    [chat] = await subscribed_chats(stack, 1)
    words = stack.add_group(GROUP_CHAT - 9, "Words")
    await bridge.repos.subscriptions.set(words, 0, "recordings", (266,), words=("火势",))
    assert await bridge.jobs.recordings.poll(NOW) == 0
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    got = voices(await delivered(stack, chat))
    assert got and all("📝" not in m.caption for m in got)
    rows = await bridge.db.fetchall("SELECT payload FROM outbox WHERE chat_id = ?", (chat,))
    assert rows and all('"recording_key":null' in r["payload"].replace(" ", "") for r in rows)
    assert await bridge.repos.transcript_captions.count() == 0
    assert await bridge.db.fetchall("SELECT id FROM transcripts") == []
    # A subscription with words cannot be served without transcripts: it gets nothing.
    assert await bridge.jobs.recordings.poll(LATER) == 0
    assert await delivered(stack, words) == []


async def test_a_failed_edit_is_retried_once_and_a_deleted_voice_is_let_be(
    make_stack: Any, asr: FakeAsr
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    flaky, gone = await subscribed_chats(stack, 2)
    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock)
    sent = {chat: voices(await delivered(stack, chat)) for chat in (flaky, gone)}
    # The first edit in one chat fails (a 500, then a lost answer: done, but not known to
    # be); in the other chat every voice message was deleted meanwhile.
    stack.emu.inject_fault("editMessageCaption", chat_id=flaky)
    stack.emu.inject_fault("editMessageCaption", chat_id=flaky, after=True)
    stack.emu.inject_fault(
        "editMessageCaption",
        error_code=400,
        description="Bad Request: message to edit not found",
        times=1000,
        chat_id=gone,
    )
    await asr.up()
    await transcribed(stack, clock)
    for _ in range(3):  # the retries' backoff, by the clock
        await delivered(stack, flaky)
        clock.advance(timedelta(minutes=1))
    edited = [stack.emu.message(flaky, m.message_id) for m in sent[flaky]]
    assert all(len(m.edits) == 1 and "\n📝 " in m.caption for m in edited)
    assert await delivered(stack, gone) == []  # no reply to a message that is gone
    assert (await bridge.repos.outbox.counts())["dead"] == 0
    rows = await bridge.db.fetchall(
        "SELECT state FROM outbox WHERE kind = 'transcripts' AND chat_id IN (?, ?)", (flaky, gone)
    )
    assert [r["state"] for r in rows] == ["sent"] * (len(sent[flaky]) + len(sent[gone]))


async def test_caption_completions_held_by_a_mute_are_not_summarised_as_held_messages(
    make_stack: Any, asr: FakeAsr
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    [chat] = await subscribed_chats(stack, 1)
    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock)
    sent = voices(await delivered(stack, chat))
    assert sent
    await stack.say("admin", "/mute 2h", chat=chat)
    await asr.up()
    await transcribed(stack, clock)  # the completions wait behind the mute
    assert caption_edits(stack, chat) == Counter()
    await stack.say("admin", "/mute off", chat=chat)
    after = await delivered(stack, chat)
    # Nothing new was held: no summary, only the captions completed, once each.
    assert [m for m in after if m.kind == "text" and m.message_id > sent[-1].message_id] == []
    assert caption_edits(stack, chat) == Counter({m.message_id: 1 for m in sent})


# -- the queue made visible: /status and /metrics ------------------------------------------


async def metric_samples(stack: Stack) -> dict[str, float]:
    """The transcript metrics on /metrics, by name with their labels."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.bridge_url + "/metrics") as resp,
    ):
        assert resp.status == 200
        text = await resp.text()
    return {
        m[1]: float(m[2])
        for line in text.splitlines()
        if (m := re.fullmatch(r"(pttbridge_transcripts\w*(?:\{[^}]*\})?) (\S+)", line))
    }


async def test_status_and_metrics_show_the_transcription_queue(
    make_stack: Any, asr: FakeAsr
) -> None:
    stack, clock = await make_stack()
    bridge = stack.bridge
    [chat] = await subscribed_chats(stack, 1)
    [status] = await stack.say("admin", "/status")
    assert "Transcripts: none waiting, 0 given up in the last 24 h" in status.plain_text()
    assert "Last transcription error" not in status.plain_text()

    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock, timedelta(minutes=5))  # each refused once
    pending = (await bridge.transcriber.health()).pending
    assert pending > 0
    [status] = await stack.say("admin", "/status")
    text = status.plain_text()
    assert f"Transcripts: {pending} waiting, the oldest queued 5 min ago" in text
    assert "Last transcription error: unreachable, just now" in text
    got = await metric_samples(stack)
    assert got["pttbridge_transcripts_pending"] == pending
    # Only the first files found it down; the others wait with the queue, untried.
    tried = min(pending, bridge.transcriber.concurrency)
    assert got['pttbridge_transcripts_total{result="retried"}'] == tried
    assert got['pttbridge_transcripts_total{result="done"}'] == 0

    await asr.up()
    await transcribed(stack, clock)
    await delivered(stack, chat)
    [status] = await stack.say("admin", "/status")
    text = status.plain_text()
    assert "Transcripts: none waiting, 0 given up" in text
    assert ZH not in text and EN not in text  # no transcript is ever shown there
    got = await metric_samples(stack)
    assert got["pttbridge_transcripts_pending"] == 0
    assert got['pttbridge_transcripts_total{result="done"}'] == pending
    assert got['pttbridge_transcripts_total{result="failed"}'] == 0


async def test_status_says_nothing_of_transcripts_without_a_server(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack = await make_bot_stack()
    [status] = await stack.say("admin", "/status")
    assert "Transcripts" not in status.plain_text()


# -- attacks on the caption edit ------------------------------------------------------------


async def test_a_deleted_voice_a_blocked_chat_and_an_emoji_transcript_over_the_limit(
    make_stack: Any, asr: FakeAsr, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A transcript of emoji and ZWJ sequences: over 1,024 UTF-16 units, fewer code points.
    emoji = "👨\u200d🚒🔥 <b>火</b> " * 120
    for digest in list(fake_asr.KNOWN_TEXTS):
        monkeypatch.setitem(fake_asr.KNOWN_TEXTS, digest, emoji)
    stack, clock = await make_stack()
    bridge = stack.bridge
    deleted, blocked, fine = await subscribed_chats(stack, 3)
    assert await bridge.jobs.recordings.poll(NOW) == 0
    await asr.down()
    clock.now = LATER
    assert await bridge.jobs.recordings.poll(LATER) > 0
    await transcribed(stack, clock)
    sent = {chat: voices(await delivered(stack, chat)) for chat in (deleted, blocked, fine)}
    assert all(sent.values())
    for m in sent[deleted]:  # a chat admin deleted them meanwhile
        stack.emu.message(deleted, m.message_id).deleted = True
    stack.emu.block(blocked)  # the bot was removed from that chat

    await asr.up()
    await transcribed(stack, clock)
    for _ in range(3):  # any retry's backoff, by the clock
        for chat in (deleted, blocked, fine):
            await delivered(stack, chat)
        clock.advance(timedelta(minutes=1))

    # The chat that is fine: each caption completed once, within the limit, escaped; the
    # whole text as one reply.
    for m in sent[fine]:
        now = stack.emu.message(fine, m.message_id)
        assert len(now.edits) == 1 and utf16_len(visible_text(now.caption)) <= CAPTION_LIMIT
        assert "\n📝 👨\u200d🚒🔥 <b>火</b>" in visible_text(now.caption)  # not markup
    replies = [m for m in stack.emu.history(fine) if m.reply_to_message_id]
    assert sorted(r.reply_to_message_id for r in replies) == sorted(
        m.message_id for m in sent[fine]
    )
    assert all(r.plain_text() == f"📝 Transcript: {emoji.strip()}" for r in replies)
    # The deleted voices: nothing edited, no reply to what is gone, nothing left to retry.
    assert caption_edits(stack, deleted) == Counter()
    assert not [m for m in stack.emu.history(deleted) if m.reply_to_message_id]
    # The blocked chat: tried once per message at most, then given up, nothing pending.
    tried = [c for c in stack.emu.calls if c.method == "editMessageCaption"]
    assert len([c for c in tried if int(c.params["chat_id"]) == blocked]) <= len(sent[blocked])
    rows = await bridge.db.fetchall("SELECT chat_id, state FROM outbox WHERE kind = 'transcripts'")
    assert {r["state"] for r in rows if r["chat_id"] != blocked} == {"sent"}
    assert {r["state"] for r in rows if r["chat_id"] == blocked} == {"dead"}  # chat gone
    assert await bridge.repos.transcript_captions.count() == 0
