"""Buttons and what a chat receives, attacked (issue 12, points 3, 4 and 5).

A button press is judged by who pressed it and which message it came from, never by its
callback data alone; every command that changes what a chat receives needs, in a group,
an administrator of that group with the role (a bridge admin always may), and a scoped
person may not replace or remove a setting made with a wider scope than theirs.

People (`bot.sandbox.stack.PEOPLE`): admin 1001 (BRIDGE_ADMIN_IDS), supervisor 1002,
viewer 1003, scoped 1004 (supervisor of org 266: orgs 266 and 268), stranger 1005 (no
role). Orgs: 103 the root; 266 and 267 below it; 268 below 266; 269 below 267.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.callbacks import AckCb
from bot.sandbox.stack import Stack
from bot.sandbox.telegram import CallbackAnswer, EmuMessage

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
    row = await stack.bridge.relay.db.fetchone(
        "SELECT id FROM incidents WHERE dedupe_key = ?", (f"report:{body['id']}:{body['code']}",)
    )
    assert row is not None
    return int(row["id"]), msg


async def _acked_by(stack: Stack, incident_id: int) -> int | None:
    assert stack.bridge is not None
    incident = await stack.bridge.relay.incidents.get(incident_id)
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
    edits = await stack.bridge.relay.db.fetchone(
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
