"""/heard (issue #17 point 3), the words of a recordings subscription, and the excerpts of
/recordings lists: end to end through the Telegram emulator and the sandbox platform, with
transcripts put in the database directly (no speech-recognition server is needed to search).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.demo.stack import Stack

MakeStack = Callable[..., Awaitable[Stack]]
GROUP_CHAT = -100_777
ASR_ON = {"asr_url": "http://127.0.0.1:9/v1"}  # never called: the tests store transcripts


@pytest.fixture
def make_stack(make_bot_stack: MakeStack) -> MakeStack:
    async def make(*, asr: bool = True, **kw: Any) -> Stack:
        return await make_bot_stack(bridge_overrides=ASR_ON if asr else {}, **kw)

    return make


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
