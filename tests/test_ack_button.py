"""An acknowledged incident loses its Acknowledge button in every chat it reached (#14
point 6): the sandbox platform POSTs an incident to the real listener, the bridge relays it
to two subscribed groups of the Telegram emulator, a supervisor presses Acknowledge in one.
"""

from __future__ import annotations

from bot.demo.stack import Stack
from bot.telegram.callbacks import AckCb

OK = {"status": 200, "message": "成功", "data": None}


async def test_the_acknowledged_incident_keeps_no_button_in_any_chat(bot_stack: Stack) -> None:
    stack = bot_stack
    chats = (-100_7001, -100_7002)
    for chat in chats:
        stack.add_group(chat, f"Team {chat}")
        reply = await stack.say("admin", "/subscribe incidents", chat=chat)
        assert "This chat now receives" in reply[0].plain_text()
    body = stack.platform.make_report(urls=[])
    assert await stack.platform_event("report", body) == (200, OK)
    [in_a] = await stack.emu.wait_for_messages(chats[0], 1)
    [in_b] = await stack.emu.wait_for_messages(chats[1], 1)
    assert [label for label, _ in in_a.buttons()] == ["✅ Acknowledge"]
    assert [label for label, _ in in_b.buttons()] == ["✅ Acknowledge"]
    [(_, ack_data)] = in_b.buttons()
    assert AckCb.unpack(ack_data).incident > 0

    await stack.press("supervisor", in_a, "✅ Acknowledge")
    assert stack.emu.callback_answers[-1].text == "Acknowledged. Every copy now shows it."

    def shown(chat: int, message_id: int) -> bool:
        now = stack.emu.message(chat, message_id)
        return "Acknowledged by Supervisor Sun at" in now.plain_text()

    await stack.emu.wait_for(
        lambda: shown(chats[0], in_a.message_id) and shown(chats[1], in_b.message_id)
    )
    for chat, msg in ((chats[0], in_a), (chats[1], in_b)):
        now = stack.emu.message(chat, msg.message_id)
        assert body["code"] in now.plain_text()
        assert now.buttons() == [], (chat, now.buttons())

    # A client that still shows the old keyboard (two people pressing at once) is told who
    # was first, and nothing is edited again.
    edits = len(stack.emu.message(chats[1], in_b.message_id).edits)
    update = await stack.emu.press_button(stack.people["viewer"], in_b, ack_data, strict=False)
    await stack.wait_handled(int(update["update_id"]))
    assert stack.emu.callback_answers[-1].show_alert
    assert (stack.emu.callback_answers[-1].text or "").startswith(
        "Already acknowledged by Supervisor Sun at"
    )
    assert len(stack.emu.message(chats[1], in_b.message_id).edits) == edits


async def test_a_copy_sent_after_the_acknowledgement_has_no_button(bot_stack: Stack) -> None:
    # A copy still queued when someone acknowledges (a slow or rate-limited chat) is sent
    # showing the acknowledgement, and without a button left to press.
    stack = bot_stack
    stack.add_group(-100_7003, "Team late")
    await stack.say("admin", "/subscribe incidents", chat=-100_7003)
    body = stack.platform.make_report(urls=[])
    assert await stack.platform_event("report", body) == (200, OK)
    [first] = await stack.emu.wait_for_messages(-100_7003, 1)
    [(_, ack_data)] = first.buttons()
    await stack.press("supervisor", first, "✅ Acknowledge")
    incident = await stack.bridge.repos.incidents.get(AckCb.unpack(ack_data).incident)
    assert incident is not None and incident.acked_at is not None
    late = stack.bridge.relay.acks.render_incident(incident)
    assert late.ack_label == "" and "Acknowledged by Supervisor Sun" in late.text
    # Delivered as such: the sender puts no keyboard under it.
    await stack.bridge.repos.outbox.enqueue(
        -100_7003, 0, "incident", late.to_payload(), stack.bridge.clock(), incident_id=incident.id
    )
    stack.bridge.relay.wake()
    [again] = await stack.emu.wait_for_messages(-100_7003, 1)
    assert "Acknowledged by Supervisor Sun" in again.plain_text()
    assert again.buttons() == []
