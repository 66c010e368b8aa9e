"""/subscribe's ambiguous user and group names get pick buttons, end to end (the Telegram
emulator, the sandbox platform and the bridge): a tap finishes the command kept with the
buttons' message as if the id had been typed; another person's tap, a stale one, a chat
administrator no longer one, a forged id outside scope are refused in words."""

from __future__ import annotations

import json
from typing import Any

from bot.demo.stack import Stack
from bot.directory import Kind
from bot.sandbox.telegram import EmuMessage
from bot.telegram.callbacks import PickAction, PickCb

EXPIRED = "This button has expired. Please send the command again."
NOT_YOURS = "This button answers whoever asked for it: send the command yourself."


def labels(msg: EmuMessage) -> list[str]:
    return sorted(text for text, _ in msg.buttons())


def data_of(msg: EmuMessage, label: str) -> str:
    data = next(d for text, d in msg.buttons() if text == label)
    assert isinstance(data, str)
    return data


async def stored(stack: Stack, chat: int) -> list[tuple[Any, ...]]:
    """The chat's subscriptions, without the chat."""
    assert stack.bridge is not None
    subs = await stack.bridge.repos.subscriptions.for_chat(chat)
    return sorted(
        (s.thread_id, s.kind, s.orgs, s.levels, s.users, s.groups, s.scope_org, s.words)
        for s in subs
    )


async def audited(stack: Stack, action: str = "subscribe") -> list[tuple[int, str, Any, str]]:
    """(actor, target, args, result) of each audit entry of `action`, oldest first."""
    assert stack.bridge is not None
    rows = await stack.bridge.db.fetchall(
        "SELECT actor_id, target, args, result FROM audit WHERE action = ? ORDER BY id", (action,)
    )
    return [(r["actor_id"], r["target"], json.loads(r["args"]), r["result"]) for r in rows]


async def in_a_topic(stack: Stack, chat_id: int, user: str) -> tuple[int, int, EmuMessage]:
    """A new forum with a topic where the admin subscribes to recordings of `user` (and
    incidents, in org 266, with words): the chat, the topic, the answer."""
    forum = stack.add_group(chat_id, "Forum", forum=True)
    topic = stack.emu.add_topic(forum, "Recordings")
    text = f"/subscribe recordings incidents {user} org 266 words 火情"
    [reply] = await stack.say("admin", text, chat=forum, thread_id=topic)
    return forum, topic, reply


async def test_a_tap_finishes_subscribe_as_typing_the_id_would(bot_stack: Stack) -> None:
    stack = bot_stack
    admin = stack.people["admin"].id
    forum, topic, asked = await in_a_topic(stack, -100901, "user zs")
    assert asked.plain_text().startswith("“zs”: 3 matches — pick one")
    assert labels(asked) == [
        "👤 张三 (zhangsan01)",
        "👤 张山 (zhangshan02)",
        "👤 张珊 (zhangshan01)",
    ]
    assert await stored(stack, forum) == []  # nothing before the choice
    assert await audited(stack) == []

    [done] = await stack.press("admin", asked, "👤 张三 (zhangsan01)")
    typed_chat, typed_topic, typed = await in_a_topic(stack, -100902, "user 10001")
    # The same answer, in the same topic, the same subscriptions stored and audited.
    assert done.plain_text() == typed.plain_text()
    assert "recordings — by 张三 (zhangsan01) or by anyone in 消防一大队" in done.plain_text()
    assert done.thread_id == topic
    assert await stored(stack, forum) == [
        (topic, "incidents", (266,), (), (), (), None, ()),
        (topic, "recordings", (266,), (), (10001,), (), None, ("火情",)),
    ]
    assert [(t, *rest) for t, *rest in await stored(stack, typed_chat)] == [
        (typed_topic, *row[1:]) for row in await stored(stack, forum)
    ]
    picked, by_id = await audited(stack)
    assert picked[:2] == (admin, str(forum)) and by_id[:2] == (admin, str(typed_chat))
    assert picked[2]["users"] == [10001] and picked[2]["thread"] == topic
    assert {**picked[2], "thread": 0} == {**by_id[2], "thread": 0}
    assert picked[3] == by_id[3] == "ok"


async def test_several_ambiguous_names_are_asked_one_after_the_other_in_order(
    bot_stack: Stack,
) -> None:
    stack = bot_stack
    chat = stack.add_group(-100911, "Several")
    [first] = await stack.say(
        "admin",
        "/subscribe recordings presence user zs zhangsan01 zhangshan group 消防 1004",
        chat=chat,
    )
    assert first.plain_text().startswith("“zs”: 3 matches")
    [second] = await stack.press("admin", first, "👤 张珊 (zhangshan01)")
    assert second.plain_text().startswith("“zhangshan”: 2 matches")  # the third user word
    [third] = await stack.press("admin", second, "👤 张山 (zhangshan02)")
    assert third.plain_text().startswith("“消防”:")
    assert "👥 消防二大队主频" in labels(third)
    assert await stored(stack, chat) == []
    assert stack.bridge is not None
    assert await stack.bridge.jobs.watches.for_chat(chat) == []
    [done] = await stack.press("admin", third, "👥 消防二大队主频")
    text = done.plain_text()
    assert text.startswith("This chat now receives:")
    assert "Watching 消防二大队主频 here" in text and "Watching 特勤行动组 here" in text
    # Each as picked, the typed account among them (the audit in the order typed).
    assert await stored(stack, chat) == [
        (0, "recordings", (), (), (10001, 10002, 10003), (1003, 1004), None, ())
    ]
    watched = await stack.bridge.jobs.watches.for_chat(chat)
    assert sorted(w.group_id for w in watched) == [1003, 1004]
    [(_, _, args, result)] = await audited(stack)
    assert (args["users"], args["groups"], result) == ([10002, 10001, 10003], [1003, 1004], "ok")

    # Two names picked as the same one: kept once.
    [again] = await stack.say("admin", "/subscribe recordings user zs zhangshan", chat=chat)
    [then] = await stack.press("admin", again, "👤 张珊 (zhangshan01)")
    await stack.press("admin", then, "👤 张珊 (zhangshan01)")
    assert (0, "recordings", (), (), (10002,), (), None, ()) in await stored(stack, chat)
    # A name that fits nobody after a pick: told, nothing more stored.
    [odd] = await stack.say("admin", "/subscribe recordings user zs nobody", chat=chat)
    [told] = await stack.press("admin", odd, "👤 张珊 (zhangshan01)")
    assert told.plain_text() == "No user matches “nobody”."
    assert (0, "recordings", (), (), (10002,), (), None, ()) in await stored(stack, chat)


async def test_another_persons_tap_and_a_stale_one_are_refused_in_words(
    bot_stack: Stack,
) -> None:
    stack = bot_stack
    chat = stack.add_group(-100921, "Dispatch", admins=("admin", "supervisor"))
    [asked] = await stack.say("supervisor", "/subscribe recordings user zs", chat=chat)
    data = data_of(asked, "👤 张三 (zhangsan01)")
    assert await stack.press_data("admin", asked, data) == [NOT_YOURS]
    assert await stored(stack, chat) == []
    # A /subscribe pick on a message that holds no /subscribe command: expired.
    [other] = await stack.say("supervisor", "/help", chat=chat)
    assert await stack.press_data("supervisor", other, data) == [EXPIRED]
    [fence] = await stack.say("supervisor", "/where zs", chat=chat)
    assert await stack.press_data("supervisor", fence, data) == [EXPIRED]
    assert await stored(stack, chat) == []
    assert await audited(stack) == []
    # Its own button, after a restart, still finishes the command.
    await stack.restart_bridge()
    out = await stack.press_data("supervisor", asked, data)
    assert out[0].startswith("This chat now receives:")
    assert await stored(stack, chat) == [(0, "recordings", (), (), (10001,), (), None, ())]


async def test_only_an_administrator_of_the_group_with_the_role_finishes_it(
    bot_stack: Stack,
) -> None:
    stack = bot_stack
    chat = stack.add_group(-100931, "Admins", admins=("admin", "supervisor", "viewer"))
    refused = (
        "Only an administrator of this group who has the supervisor role can change what it "
        "receives."
    )
    [viewer] = await stack.say("viewer", "/subscribe recordings user zs", chat=chat)
    assert viewer.buttons() == [] and await stored(stack, chat) == []
    [asked] = await stack.say("supervisor", "/subscribe recordings user zs", chat=chat)
    # No longer an administrator of the group by the time of the tap: refused.
    stack.emu.chat(chat).admins.discard(stack.people["supervisor"].id)
    data = data_of(asked, "👤 张三 (zhangsan01)")
    assert await stack.press_data("supervisor", asked, data) == [refused]
    assert await stored(stack, chat) == []
    [typed] = await stack.say("supervisor", "/subscribe recordings user 10001", chat=chat)
    assert typed.plain_text() == refused
    # Made one again: the same button finishes it.
    stack.emu.chat(chat).admins.add(stack.people["supervisor"].id)
    out = await stack.press_data("supervisor", asked, data)
    assert out[0].startswith("This chat now receives:")
    assert await stored(stack, chat) == [(0, "recordings", (), (), (10001,), (), None, ())]


async def test_a_scoped_supervisor_picks_only_among_names_in_scope(bot_stack: Stack) -> None:
    stack = bot_stack
    me = stack.people["scoped"].id
    [asked] = await stack.say("scoped", "/subscribe recordings user zs")
    assert labels(asked) == ["👤 张三 (zhangsan01)", "👤 张珊 (zhangshan01)"]
    # A forged choice of 张山 (org 267), or of something else than a user: not found.
    for kind, id_, said in (
        (Kind.USER, 10003, "No user matches “10003”."),
        (Kind.GROUP, 1002, "No user matches “1002”."),
        (Kind.ORG, 266, "No user matches “266”."),
    ):
        forged = PickCb(action=PickAction.SUBSCRIBE, kind=kind, id=id_).pack()
        assert (await stack.press_data("scoped", asked, forged))[0] == said
    assert await stored(stack, me) == []
    [done] = await stack.press("scoped", asked, "👤 张珊 (zhangshan01)")
    assert "by 张珊 (zhangshan01)" in done.plain_text()
    assert await stored(stack, me) == [(0, "recordings", (), (), (10002,), (), 266, ())]

    # A group name: only the groups in scope are offered.
    [groups] = await stack.say("scoped", "/subscribe presence group 消防")
    assert all(g.startswith("👥") for g in labels(groups))
    assert "👥 消防二大队主频" not in labels(groups)


def test_the_kept_command_reads_back_with_the_pick_or_not_at_all() -> None:
    from handlers.subscriptions import Typed, parse_subscribe

    words = ("recordings", "user", "zs", "10001", "group", "消防")
    first = Typed(words, parse_subscribe(list(words)))
    kept = first.dump((Kind.USER, 0))
    json.dumps(kept)  # storable as it is
    loaded = Typed.load(kept, (Kind.USER, 10002))
    assert loaded is not None and loaded.args == first.args
    assert loaded.picks == {(Kind.USER, 0): (Kind.USER, 10002)}
    # The next question keeps the first answer.
    again = Typed.load(loaded.dump((Kind.GROUP, 0)), (Kind.GROUP, 1003))
    assert again is not None
    assert again.picks == {(Kind.USER, 0): (Kind.USER, 10002), (Kind.GROUP, 0): (Kind.GROUP, 1003)}
    for broken in (
        {**kept, "ask": ["user", 2]},  # no third user name
        {**kept, "ask": ["org", 0]},
        {**kept, "ask": ["user"]},
        {**kept, "words": ["nonsense"]},
        {**kept, "picks": [["user", 0, "user"]]},
        {**kept, "picks": 5},
        {"words": list(words)},
    ):
        assert Typed.load(broken, (Kind.USER, 10002)) is None, broken
