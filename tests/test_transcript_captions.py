"""Transcripts in voice messages' captions (issue #17, point 2): the caption renderer, the
store of messages waiting for a transcript, and — end to end over real HTTP with the fake
speech-recognition server — the recordings watch and ▶ completing captions once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.i18n import Translator
from bot.jobs.recordings import heard
from bot.relay.messages import CaptionEdit, VoiceMessage, read_message
from bot.render.text import CAPTION_LIMIT, split_html, visible_len, visible_text
from bot.render.transcripts import captioned, transcript_text
from storage.db import Database
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
