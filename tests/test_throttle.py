"""handlers/throttle.py: incoming commands limited per user; strangers cannot starve relays
(issue 12, point 14). Every clock is injected: the throttle's, the flood control's and the
emulator's stand still unless a test moves them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiogram.types import CallbackQuery, Chat, Message, User
from conftest import Clock

from bot.demo.stack import BOT_TOKEN, Stack
from bot.sandbox.telegram import TelegramEmulator
from handlers.throttle import CommandThrottle, Limit, Verdict, _counts

STRANGER = 1005  # the tour's member without a role
GROUP = -100900


# ------------------------------------------------------------------------------ the counting


def test_a_user_without_a_role_is_answered_a_few_times_told_once_then_ignored() -> None:
    clock = Clock()
    throttle = CommandThrottle(clock=clock)
    verdicts = [throttle.judge(7, has_role=False) for _ in range(40)]
    assert verdicts[:5] == [Verdict.ANSWER] * 5
    assert verdicts[5] is Verdict.TELL
    assert verdicts[6:] == [Verdict.IGNORE] * 34
    clock.advance(59)
    assert throttle.judge(7, has_role=False) is Verdict.IGNORE  # still quiet
    clock.advance(1)
    assert throttle.judge(7, has_role=False) is Verdict.ANSWER  # the quiet time is over
    assert throttle.judge(8, has_role=False) is Verdict.ANSWER  # per user


def test_the_window_slides_it_does_not_reset_on_the_minute() -> None:
    clock = Clock()
    throttle = CommandThrottle(stranger=Limit(5, 60.0), clock=clock)
    for _ in range(5):
        assert throttle.judge(7, has_role=False) is Verdict.ANSWER
        clock.advance(11)  # 0, 11, 22, 33, 44
    clock.advance(4)  # 59 s after the first
    assert throttle.judge(7, has_role=False) is Verdict.TELL


def test_users_with_a_role_have_a_generous_limit() -> None:
    clock = Clock()
    throttle = CommandThrottle(clock=clock)
    verdicts = [throttle.judge(7, has_role=True) for _ in range(121)]
    assert verdicts[:120] == [Verdict.ANSWER] * 120
    assert verdicts[120] is Verdict.TELL
    clock.advance(60)
    assert throttle.judge(7, has_role=True) is Verdict.ANSWER


def test_only_what_the_bot_answers_is_counted() -> None:
    user = User(id=7, is_bot=False, first_name="Zhou")
    now = datetime.now(UTC)

    def msg(chat: Chat, text: str | None = None, caption: str | None = None) -> Message:
        return Message(
            message_id=1, date=now, chat=chat, from_user=user, text=text, caption=caption
        )

    group = Chat(id=GROUP, type="supergroup", title="Team")
    private = Chat(id=7, type="private")
    assert _counts(msg(group, "/find zs"))
    assert _counts(msg(group, caption="/register"))
    assert not _counts(msg(group, "lunch at noon?"))  # chatter the bot sees as an admin
    assert _counts(msg(private, "hello"))  # answered in private
    assert _counts(CallbackQuery(id="1", from_user=user, chat_instance="c", data="x"))


# ------------------------------------------------------------------------------ the real stack


async def frozen_stack(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> tuple[Stack, Clock]:
    """The whole bridge with flood limits on both sides (20 to a group in any minute) and
    one standing clock for the emulator, the flood control and the throttle: a group's
    minute only frees when the test moves the clock, however slow this machine is."""
    clock = Clock()
    emu = TelegramEmulator(BOT_TOKEN, flood_limits=True, clock=clock, global_per_s=1000)
    stack = await make_bot_stack(flood_limits=True, rates=(1000.0, 1000.0, 20.0), emulator=emu)
    assert stack.bridge is not None
    stack.bridge.flood.use_clock(clock, clock.sleep)
    stack.bridge.throttle.clock = clock
    return stack, clock


async def subscribed_group(stack: Stack, extra: list[int] = []) -> None:  # noqa: B006
    assert stack.bridge is not None
    people = list(stack.people.values())
    stack.emu.add_group(GROUP, "Night shift", admins=[people[0]], members=people + extra)
    await stack.bridge.repos.subscriptions.set(GROUP, 0, "incidents")


def is_incident(text: str) -> bool:
    return re.search(r"Incident SJ\d+", text) is not None


async def test_forty_commands_from_a_stranger_leave_an_incident_a_bound_of_sends_away(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack, _clock = await frozen_stack(make_bot_stack)
    await subscribed_group(stack)
    updates = [
        await stack.emu.send_message(STRANGER, f"/find zs{i}", chat=GROUP) for i in range(40)
    ]
    status, _answer = await stack.platform_event("report", stack.platform.make_report(urls=[]))
    assert status == 200
    for u in updates:
        await stack.wait_handled(int(u["update_id"]))
    await stack.emu.wait_for(
        lambda: any(is_incident(m.plain_text()) for m in stack.emu.messages(GROUP)), 20
    )

    texts = [m.plain_text() for m in stack.emu.messages(GROUP)]
    replies = [t for t in texts if "Your Telegram id is 1005" in t]
    told = [t for t in texts if "Too many commands too fast" in t]
    assert len(replies) == 5  # a few answers…
    assert len(told) == 1  # …one "slow down"…
    assert len(texts) == 7  # …and nothing else for the other 34, but the incident
    # The incident is not behind the stranger's traffic: the group's minute (20) had
    # room for it, whatever the order the sends took.
    assert [c for c in stack.emu.calls if c.status == 429] == []


async def test_strangers_under_their_limits_still_leave_an_incident_its_place(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    # Eight members without a role, four commands each: each is under their own limit,
    # together they ask for 32 replies of the group's 20 a minute. Their replies take at
    # most 15: the incident goes in the minute, before the rest of them.
    stack, clock = await frozen_stack(make_bot_stack)
    strangers = [stack.emu.add_user(3000 + i, f"Guest {i}", language_code="en") for i in range(8)]
    await subscribed_group(stack, [s.id for s in strangers])
    updates = [
        await stack.emu.send_message(s, f"/online {i}", chat=GROUP)
        for i in range(4)
        for s in strangers
    ]
    await stack.emu.wait_for(lambda: len(stack.emu.messages(GROUP)) >= 15, 20)
    status, _answer = await stack.platform_event("report", stack.platform.make_report(urls=[]))
    assert status == 200
    await stack.emu.wait_for(
        lambda: any(is_incident(m.plain_text()) for m in stack.emu.messages(GROUP)), 20
    )
    texts = [m.plain_text() for m in stack.emu.messages(GROUP)]
    assert sum(1 for t in texts if "Your Telegram id is" in t) == 15
    assert is_incident(texts[15])

    clock.advance(60)  # the next minute: 15 more replies, and the last two a minute later
    await stack.emu.wait_for(lambda: len(stack.emu.messages(GROUP)) >= 31, 20)
    clock.advance(60)
    for u in updates:
        await stack.wait_handled(int(u["update_id"]))
    assert len(stack.emu.messages(GROUP)) == 33  # every reply sent in the end, once
    assert [c for c in stack.emu.calls if c.status == 429] == []


async def test_a_stranger_over_the_limit_pressing_buttons_is_answered_without_a_message(
    make_bot_stack: Callable[..., Awaitable[Stack]],
) -> None:
    stack, _clock = await frozen_stack(make_bot_stack)
    await subscribed_group(stack)
    [menu] = await stack.say("admin", "/groups", chat=GROUP)
    assert menu.buttons()
    before = len(stack.emu.messages(GROUP))
    for _ in range(8):
        await stack.press("stranger", menu, 0)
    alerts = [a.text or "" for a in stack.emu.callback_answers]
    assert sum(1 for a in alerts if "Too many commands too fast" in a) == 1
    assert len(stack.emu.callback_answers) == 8  # every press answered (no spinner left)
    assert len(stack.emu.messages(GROUP)) == before  # and none cost the group a message


def test_a_user_who_loses_their_role_is_not_judged_by_what_they_sent_with_it() -> None:
    clock = Clock()
    throttle = CommandThrottle(clock=clock)
    for _ in range(10):
        assert throttle.judge(7, has_role=True) is Verdict.ANSWER
    assert [throttle.judge(7, has_role=False) for _ in range(6)] == [Verdict.ANSWER] * 5 + [
        Verdict.TELL
    ]


def test_idle_users_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    import handlers.throttle as throttle_module

    monkeypatch.setattr(throttle_module, "FORGET_AFTER", 3)
    clock = Clock()
    throttle = CommandThrottle(clock=clock)
    for user in (1, 2, 3):
        throttle.judge(user, has_role=False)
    clock.advance(61)
    throttle.judge(4, has_role=False)
    assert len(throttle._seen) == 1
