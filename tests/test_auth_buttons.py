"""Buttons and what a chat receives, attacked (issue 12, points 3, 4 and 5).

A button press is judged by who pressed it and which message it came from, never by its
callback data alone; every command that changes what a chat receives needs, in a group,
an administrator of that group with the role (a bridge admin always may), and a scoped
person may not replace or remove a setting made with a wider scope than theirs.

People (`bot.demo.stack.PEOPLE`): admin 1001 (BRIDGE_ADMIN_IDS), supervisor 1002,
viewer 1003, scoped 1004 (supervisor of org 266: orgs 266 and 268), stranger 1005 (no
role). Orgs: 103 the root; 266 and 267 below it; 268 below 266; 269 below 267.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.filters.callback_data import CallbackData

from bot.demo.stack import Stack
from bot.directory import Kind
from bot.sandbox.telegram import CallbackAnswer, EmuMessage
from bot.telegram.callbacks import (
    AckCb,
    ConfirmAction,
    ConfirmCb,
    GroupsCb,
    OnlineCb,
    PickAction,
    PickCb,
    RecPageCb,
    RecPlayCb,
    WhereCb,
)
from storage.roles import Role

OK = {"status": 200, "message": "成功", "data": None}


@pytest.fixture
async def stack(make_bot_stack: Any) -> Stack:
    return await make_bot_stack()


def texts(msgs: list[EmuMessage]) -> str:
    return "\n".join(m.plain_text() for m in msgs)


async def forge(stack: Stack, who: str, msg: EmuMessage, data: str) -> list[EmuMessage]:
    """`who` presses `data` on `msg` whether or not it has such a button (a forged client);
    returns the bot's new messages in that chat, plus `msg` if it was edited."""
    stack.emu.mark(msg.chat_id)
    before = len(stack.emu.message(msg.chat_id, msg.message_id).edits)
    update = await stack.emu.press_button(stack.people[who], msg, data, strict=False)
    await stack.wait_handled(int(update["update_id"]))
    out = stack.emu.pending_messages(msg.chat_id)
    stack.emu.mark(msg.chat_id)
    current = stack.emu.message(msg.chat_id, msg.message_id)
    if len(current.edits) > before:
        out.insert(0, current)
    return out


def last_answer(stack: Stack, who: str) -> CallbackAnswer:
    answer = stack.emu.callback_answers[-1]
    assert answer.user_id == stack.people[who].id
    return answer


# ------------------------------------------------------------------------------ acknowledge


async def _incident_in(stack: Stack, chat: int, org: int, reporter: int) -> tuple[int, EmuMessage]:
    """An incident addressed to `org`, filed by `reporter`, as relayed to `chat`; its id."""
    body = stack.platform.make_report(
        to={"id": str(org), "name": "org"},
        urls=[],
        **{"from": {"id": reporter, "account": "r", "name": "r"}},
    )
    assert await stack.platform_event("report", body) == (200, OK)
    [msg] = await stack.emu.wait_for_messages(chat, 1)
    stack.emu.mark(chat)
    assert stack.bridge is not None
    row = await stack.bridge.db.fetchone(
        "SELECT id FROM incidents WHERE dedupe_key = ?", (f"report:{body['id']}:{body['code']}",)
    )
    assert row is not None
    return int(row["id"]), msg


async def _acked_by(stack: Stack, incident_id: int) -> int | None:
    assert stack.bridge is not None
    incident = await stack.bridge.repos.incidents.get(incident_id)
    assert incident is not None
    return incident.acked_by


async def test_a_forged_or_foreign_acknowledge_is_refused_and_changes_nothing(
    stack: Stack,
) -> None:
    hq = stack.add_group(-100_3001, "HQ")  # every person of the tour is a member
    other = stack.add_group(-100_3002, "Fire team 1")
    assert "incidents" in texts(await stack.say("admin", "/subscribe incidents", chat=hq))
    await stack.say("admin", "/subscribe incidents org 266", chat=other)
    # To org 267 by 张山 (267): only HQ gets it, and the supervisor scoped to 266 may not see it.
    hq_only, in_hq = await _incident_in(stack, hq, 267, 10003)
    ack = AckCb(incident=hq_only).pack()

    # An outsider: scoped to another org, pressing the real button in HQ.
    assert await forge(stack, "scoped", in_hq, ack) == []
    refused = last_answer(stack, "scoped")
    assert refused.text == "You cannot acknowledge this incident here." and refused.show_alert

    # The wrong chat: the button's data crafted onto a message of a chat the incident never
    # reached (the scoped supervisor's own private chat, and a group of their org).
    [own] = await stack.say("scoped", "/help")
    assert await forge(stack, "scoped", own, ack) == []
    assert last_answer(stack, "scoped").text == "You cannot acknowledge this incident here."
    in_other, theirs = await _incident_in(stack, other, 266, 10001)  # in HQ too
    await stack.emu.wait_for_messages(hq, 1)
    stack.emu.mark(hq)
    assert await forge(stack, "scoped", theirs, ack) == []  # another incident's message
    assert last_answer(stack, "scoped").text == "You cannot acknowledge this incident here."

    # Someone without a role, in the chat the incident was delivered to.
    assert await forge(stack, "stranger", in_hq, ack) == []
    assert last_answer(stack, "stranger").text == "This button needs a role you do not have."

    # Nothing was recorded, queued or edited.
    assert await _acked_by(stack, hq_only) is None
    assert stack.bridge is not None
    edits = await stack.bridge.db.fetchone(
        "SELECT count(*) AS n FROM outbox WHERE kind = 'ack-edit'"
    )
    assert edits is not None and edits["n"] == 0
    assert stack.emu.message(hq, in_hq.message_id).edits == []

    # The same presses by whom they concern do work: the scoped supervisor on their org's
    # incident in their group, and a viewer (unscoped) on the HQ one.
    await forge(stack, "scoped", theirs, AckCb(incident=in_other).pack())
    assert last_answer(stack, "scoped").text == "Acknowledged. Every copy now shows it."
    assert await _acked_by(stack, in_other) == 1004
    await forge(stack, "viewer", in_hq, ack)
    assert last_answer(stack, "viewer").text == "Acknowledged. Every copy now shows it."
    assert await _acked_by(stack, hq_only) == 1003

    def shown() -> str:
        return stack.emu.message(hq, in_hq.message_id).plain_text()

    await stack.emu.wait_for(lambda: "Acknowledged by Viewer Wang" in shown())


# ------------------------------------------------------------------------------ chat admins

ONLY_ADMINS = (
    "Only an administrator of this group who has the supervisor role can change what it receives."
)


async def _settings_of(stack: Stack, chat: int) -> dict[str, Any]:
    """What the chat receives, as stored: subscriptions, watches, digest, mute."""
    bridge = stack.bridge
    assert bridge is not None
    report = await bridge.jobs.reports.reports.get(chat, 0)
    return {
        "subs": sorted(
            (s.kind, s.orgs)
            for s in await bridge.repos.subscriptions.for_chat(chat)
            if s.thread_id == 0
        ),
        "watches": sorted(
            (w.group_id, w.scope_org) for w in await bridge.jobs.watches.for_chat(chat)
        ),
        "digest": None if report is None else (report.at_time, report.org_id),
        "mute": await bridge.mutes.get(chat),
    }


CHANGES = (
    "/subscribe incidents",
    "/subscribe attendance at 07:00",
    "/unsubscribe attendance",
    "/unsubscribe all",
    "/watch 1003",
    "/unwatch 1002",
    "/report daily 09:15",
    "/report off",
)


async def test_a_group_member_who_is_not_its_administrator_changes_nothing(stack: Stack) -> None:
    chat = stack.add_group(-100_3101, "Duty room", admins=("admin",))
    for command in ("/subscribe incidents", "/watch 1002", "/report daily 08:30"):
        await stack.say("admin", command, chat=chat)
    before = await _settings_of(stack, chat)
    assert before["subs"] and before["watches"] and before["digest"] == ("08:30", None)

    for command in (*CHANGES, "/subscriptions"):
        [reply] = await stack.say("supervisor", command, chat=chat)
        assert reply.plain_text() == ONLY_ADMINS, command
    [muted] = await stack.say("viewer", "/mute 2h", chat=chat)
    assert muted.plain_text() == (
        "Only an administrator of this group who has the viewer role can change what it receives."
    )
    # The buttons that finish a /watch or /unwatch are refused the same way.
    [anchor] = await stack.say("supervisor", "/report", chat=chat)  # showing is for anyone
    assert "every day at 08:30" in anchor.plain_text()
    for action in (PickAction.WATCH, PickAction.UNWATCH):
        data = PickCb(action=action, kind=Kind.GROUP, id=1002).pack()
        assert await forge(stack, "supervisor", anchor, data) == []
        assert last_answer(stack, "supervisor").text == ONLY_ADMINS
    assert await _settings_of(stack, chat) == before

    # Someone without the role is told which role, administrator or not.
    [denied] = await stack.say("viewer", "/watch 1002", chat=chat)
    assert denied.plain_text() == "This needs the supervisor role."


async def test_a_group_administrator_with_the_role_and_a_bridge_admin_may(stack: Stack) -> None:
    # The bridge admin does not administer this group: they may all the same.
    chat = stack.add_group(-100_3102, "Duty room", admins=("supervisor", "viewer"))
    [sub] = await stack.say("admin", "/subscribe incidents attendance", chat=chat)
    assert "incidents" in sub.plain_text()
    replies = {c: texts(await stack.say("supervisor", c, chat=chat)) for c in CHANGES}
    assert "This chat now receives" in replies["/subscribe incidents"]
    assert "Every day at 07:00" in replies["/subscribe attendance at 07:00"]
    assert replies["/unsubscribe attendance"] == "One subscription removed."
    assert replies["/unsubscribe all"] == "One subscription removed."
    assert "Watching 消防二大队主频" in replies["/watch 1003"]
    assert "does not watch 消防一大队主频" in replies["/unwatch 1002"]
    assert "Every day at 09:15" in replies["/report daily 09:15"]
    assert replies["/report off"] == "Daily attendance digest stopped."
    assert "Muted until" in texts(await stack.say("viewer", "/mute 30m", chat=chat))
    assert await _settings_of(stack, chat) == {
        "subs": [],
        "watches": [(1003, None)],
        "digest": None,
        "mute": (await _settings_of(stack, chat))["mute"],
    }
    # In a private chat, the person is the chat's administrator.
    assert "Every day at 10:00" in texts(await stack.say("supervisor", "/report daily 10:00"))


# ------------------------------------------------------------------------------ scope


async def test_a_scoped_supervisor_may_not_replace_or_remove_a_wider_setting(
    stack: Stack,
) -> None:
    chat = stack.add_group(-100_3201, "HQ", admins=("admin", "scoped"))
    for command in ("/subscribe incidents", "/watch 1004", "/report daily 08:30"):
        await stack.say("admin", command, chat=chat)
    before = await _settings_of(stack, chat)
    assert before == {
        "subs": [("incidents", ())],
        "watches": [(1004, None)],
        "digest": ("08:30", None),
        "mute": None,
    }
    refusals = {
        "/report daily 09:00": "attendance",
        "/report off": "attendance",
        "/subscribe attendance": "attendance",
        "/unsubscribe attendance": "attendance",
        "/subscribe incidents": "incidents",
        "/unsubscribe incidents": "incidents",
        "/watch 1004": "watch of 特勤行动组",
        "/unwatch 1004": "watch of 特勤行动组",
        "/unsubscribe presence": "watch of 特勤行动组",
    }
    for command, what in refusals.items():
        [reply] = await stack.say("scoped", command, chat=chat)
        assert reply.plain_text() == (
            f"This chat's {what} reaches beyond your orgs (it was set by someone with a wider "
            "reach): only someone whose reach covers it can change it."
        ), command
    [everything] = await stack.say("scoped", "/unsubscribe all", chat=chat)
    assert everything.plain_text().count("reaches beyond your orgs") == 3
    assert await _settings_of(stack, chat) == before

    # Settings inside their subtree are theirs to change; an unscoped admin's of 268 too.
    await stack.say("admin", "/report daily 08:30 268", chat=chat)
    await stack.say("admin", "/subscribe incidents org 266", chat=chat)
    assert "Every day at 09:00" in texts(
        await stack.say("scoped", "/report daily 09:00", chat=chat)
    )
    [removed] = await stack.say("scoped", "/unsubscribe incidents", chat=chat)
    assert removed.plain_text() == "One subscription removed."
    after = await _settings_of(stack, chat)
    assert after["digest"] == ("09:00", 266) and after["subs"] == []
    # And an unscoped supervisor may replace the scoped one's.
    await stack.say("admin", "/report daily 07:00", chat=chat)
    assert (await _settings_of(stack, chat))["digest"] == ("07:00", None)


async def test_listings_name_only_what_is_inside_the_readers_scope(stack: Stack) -> None:
    chat = stack.add_group(-100_3301, "HQ", admins=("admin", "scoped"))
    for command in (
        # 张三 (266) and tricky/李<b>&四 (267); 特勤行动组 (268) and 消防二大队主频 (267).
        "/subscribe recordings user zhangsan01 tricky group 1004 1003 org 268 267",
        "/subscribe incidents org 266 267",
        "/watch 1003",
        "/watch 1004",
        "/report daily 08:30 267",
    ):
        await stack.say("admin", command, chat=chat)
    outside = ("tricky", "李", "消防二大队", "267", "1003", "巡逻")

    full = texts(await stack.say("admin", "/subscriptions", chat=chat))
    assert all(word in full for word in ("tricky", "消防二大队主频", "消防二大队")), full
    assert "outside your scope" not in full

    listed = texts(await stack.say("scoped", "/subscriptions", chat=chat))
    assert not [w for w in outside if w in listed], listed
    lines = listed.splitlines()
    assert (
        "• recordings — by 张三 (zhangsan01)、one more outside your scope or by members of "
        "特勤行动组、one more outside your scope or by anyone in 特勤中队、one more outside "
        "your scope and below"
    ) in lines, lines
    assert "• incidents — only 消防一大队、one more outside your scope and below" in lines
    assert "• 👀 presence of 特勤行动组 (/watch)" in lines
    assert "• 👀 presence of one group outside your scope (/watch)" in lines
    assert any(
        "attendance digest of an org outside your scope every day at 08:30" in x for x in lines
    )
    [shown] = await stack.say("scoped", "/report", chat=chat)
    assert "digest of an org outside your scope every day at 08:30" in shown.plain_text()
    assert not [w for w in outside if w in shown.plain_text()]


# ------------------------------------------------------------------------------ button families

# Everything about orgs 267 and 269, which the supervisor scoped to 266 may not see.
OUTSIDE_266 = ("消防二大队", "巡逻", "张山", "zhangshan02", "tricky", "李", "10003", "1005")


def _forged_out_of_scope() -> list[tuple[str, CallbackData, str]]:
    """(family, a button with an id outside org 266's subtree, what the presser is told)."""
    no_user = "No user matches “10003”."
    no_group = "No group matches “1003”."
    no_org = "No org matches “267”."
    pick = [
        (PickAction.ONLINE, Kind.GROUP, 1003, no_group),
        (PickAction.USER, Kind.USER, 10003, no_user),
        (PickAction.ORG, Kind.ORG, 267, no_org),
        (PickAction.WHERE, Kind.USER, 10003, no_user),
        (PickAction.WHERE, Kind.GROUP, 1003, no_group),
        (PickAction.TRACK, Kind.USER, 10003, no_user),
        (PickAction.RECORDINGS, Kind.USER, 10003, no_user),
        (PickAction.WATCH, Kind.GROUP, 1003, no_group),
        (PickAction.UNWATCH, Kind.GROUP, 1003, no_group),
        (PickAction.ATTENDANCE, Kind.ORG, 267, no_org),
        (PickAction.SIGNINS, Kind.ORG, 267, no_org),
    ]
    return [
        *[(f"PickCb {a.name}", PickCb(action=a, kind=k, id=i), said) for a, k, i, said in pick],
        ("OnlineCb", OnlineCb(gid=1003), no_group),
        ("OnlineCb refresh", OnlineCb(gid=1003, refresh=True), no_group),
        ("WhereCb", WhereCb(uid=10003), no_user),
        ("RecPageCb", RecPageCb(uid=10003, day=20261128, page=2), no_user),
        ("RecPlayCb", RecPlayCb(uid=10003, day=20261128, page=1, idx=0), no_user),
        # Only the groups of their subtree, whatever page is asked for.
        ("GroupsCb", GroupsCb(page=5), "Talk groups (2)"),
        # Not theirs: an administrator's buttons (the role comes from the store, never
        # from the button), and an Acknowledge of an incident never sent here.
        ("ConfirmCb", ConfirmCb(action=ConfirmAction.DELETE_USERS, ok=True), "has expired"),
        ("ConfirmCb", ConfirmCb(action=ConfirmAction.BROADCAST, ok=True), "has expired"),
        ("AckCb", AckCb(incident=1), "You cannot acknowledge this incident here."),
    ]


@pytest.mark.parametrize(
    "family,button,said",
    _forged_out_of_scope(),
    ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(_forged_out_of_scope())],
)
async def test_a_forged_button_outside_the_pressers_scope_is_refused(
    stack: Stack, family: str, button: CallbackData, said: str
) -> None:
    [anchor] = await stack.say("scoped", "/help")
    calls = len(stack.platform.requests)
    out = await forge(stack, "scoped", anchor, button.pack())
    answer = last_answer(stack, "scoped").text or ""
    told = "\n".join([answer, *(m.plain_text() for m in out)])
    assert said in told, (family, told)
    # "Not found" echoes only the id they forged themselves.
    assert not [w for w in OUTSIDE_266 if w in told.replace(said, "")], (family, told)
    # Nothing was asked of the platform about them, and nothing was set for this chat.
    asked = [
        r
        for r in stack.platform.requests[calls:]
        if "10003" in str(r.json) or "1003" in str(r.json)
    ]
    assert asked == [], family
    assert await _settings_of(stack, 1004) == {
        "subs": [],
        "watches": [],
        "digest": None,
        "mute": None,
    }


NOT_YOURS = "This button answers whoever asked for it: send the command yourself."


async def test_a_requests_buttons_in_a_group_answer_only_whoever_asked(stack: Stack) -> None:
    """One request per button family, made by the supervisor in a group; the bridge admin
    (who may do anything, but did not ask) presses its buttons: refused, nothing done."""
    chat = stack.add_group(-100_3401, "Duty room", admins=("admin", "supervisor"))
    data = stack.platform.data
    day = next(d for d in reversed(data.history_days()) if data.recordings(10001, d))
    requests = {
        "PickCb WHERE": "/where zs",
        "PickCb USER": "/user zs",
        "PickCb TRACK": "/track zs",
        "PickCb RECORDINGS": "/recordings zs",
        "PickCb WATCH": "/watch 主频",
        "PickCb ATTENDANCE": "/attendance 消防",
        "PickCb USER (a /find result)": "/find zs",
        "OnlineCb (a /groups button)": "/groups",
        "OnlineCb (Refresh)": "/online 1002",
        "WhereCb": "/where 1002",
        "RecPlayCb": f"/recordings zhangsan01 {day}",
    }
    forged = {
        "GroupsCb": ("/groups", GroupsCb(page=0).pack()),
        "RecPageCb": (
            f"/recordings zhangsan01 {day}",
            RecPageCb(uid=10001, day=int(day.strftime("%Y%m%d")), page=1).pack(),
        ),
    }
    cases = [(family, command, None) for family, command in requests.items()]
    cases += [(family, command, button) for family, (command, button) in forged.items()]
    wrong: list[str] = []
    for family, command, button in cases:
        msgs = await stack.say("supervisor", command, chat=chat)
        asked = next(m for m in reversed(msgs) if m.buttons())
        pressed = button or str(asked.buttons()[0][1])
        calls = len(stack.platform.requests)
        out = await forge(stack, "admin", asked, pressed)
        told = last_answer(stack, "admin").text
        if out or told != NOT_YOURS or len(stack.platform.requests) != calls:
            wrong.append(f"{family}: {told!r}, {texts(out)!r}")
        # Whoever asked may press it.
        await forge(stack, "supervisor", asked, pressed)
        if last_answer(stack, "supervisor").text == NOT_YOURS:
            wrong.append(f"{family}: refused to whoever asked")
    assert wrong == [], "\n".join(w[:120] for w in wrong)
    assert await _settings_of(stack, chat) == {
        "subs": [],
        "watches": [(1002, None)],  # the supervisor's own press
        "digest": None,
        "mute": None,
    }


async def test_a_dialogs_confirm_button_does_nothing_for_another_admin(stack: Stack) -> None:
    """ConfirmCb (handlers/admin.py): what it confirms is in the asker's own dialog data."""
    assert stack.bridge is not None
    await stack.bridge.roles.set(1003, Role.ADMIN, None, None)  # a second admin
    chat = stack.add_group(-100_3402, "Admins", admins=("admin", "viewer"))
    [ask] = await stack.say("admin", "/deluser zhangsan01", chat=chat)
    assert [text for text, _ in ask.buttons()] == ["✅ Confirm", "Cancel"]
    out = await forge(
        stack, "viewer", ask, ConfirmCb(action=ConfirmAction.DELETE_USERS, ok=True).pack()
    )
    assert out == []
    assert last_answer(stack, "viewer").text == "Nothing is waiting for confirmation."
    assert 10001 in stack.platform.data.users


async def test_a_broadcast_draft_is_moved_only_by_the_admin_who_writes_it(stack: Stack) -> None:
    """BcCb (handlers/broadcast.py): each step acts on the presser's own draft."""
    from bot.telegram.callbacks import BcAction, BcCb

    assert stack.bridge is not None
    await stack.bridge.roles.set(1003, Role.ADMIN, None, None)  # a second admin
    chat = stack.add_group(-100_3403, "Admins", admins=("admin", "viewer"))
    msgs = await stack.say("admin", "/broadcast", chat=chat)
    draft = next(m for m in reversed(msgs) if m.buttons())
    for action in (BcAction.CANCEL, BcAction.NEXT, BcAction.CONFIRM):
        assert await forge(stack, "viewer", draft, BcCb(action=action).pack()) == []
        assert last_answer(stack, "viewer").text in (
            "This notice is no longer being edited. Start again with /broadcast.",
            "Already sent.",
        )
    # The writer's draft is untouched: their Cancel still finds it.
    out = await forge(stack, "admin", draft, BcCb(action=BcAction.CANCEL).pack())
    assert "Cancelled" in texts(out), texts(out)
    assert stack.platform.data.notices == []


async def test_a_command_sent_as_the_group_is_answered_in_words_and_not_handled(
    stack: Stack,
) -> None:
    # An anonymous group admin's message comes "from" GroupAnonymousBot with the group as
    # sender_chat: no person, so no role; it must neither run nor reach the error handler.
    from aiogram.types import Update

    assert stack.bridge is not None
    chat_id = stack.add_group(-100_3901, "Anonymous admins")
    stack.emu.mark(chat_id)
    group = {"id": chat_id, "type": "supergroup", "title": "Anonymous admins"}
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    for n, text in enumerate(["/role 1005 admin", "hello"]):
        update = Update.model_validate(
            {
                "update_id": 990_000 + n,
                "message": {
                    "message_id": 90 + n,
                    "date": 1_764_000_000,
                    "chat": group,
                    "from": anonymous,
                    "sender_chat": group,
                    "text": text,
                },
            }
        )
        await stack.bridge.dp.feed_update(stack.bridge.bot, update)
    sent = stack.emu.pending_messages(chat_id)
    assert len(sent) == 1  # the command is told why; the chatter is ignored
    assert "anonymous" in sent[0].plain_text().lower()
    grant = await stack.bridge.roles.get(1005)
    assert grant is None or grant.role is not Role.ADMIN
