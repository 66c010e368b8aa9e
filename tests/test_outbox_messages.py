"""Outbox messages are typed (issue 13 point 5): one variant per shape, chosen by `type`;
rows written before the variants had a `type` are still read as what they meant, and a
bridge upgraded with such rows queued sends them as the old one would have.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from bot.demo.stack import Stack
from bot.relay.messages import (
    AckEdit,
    Attachment,
    Document,
    DocumentMessage,
    IncidentMessage,
    LegacyIncident,
    TextMessage,
    VoiceMessage,
    read_message,
)
from storage.db import to_db_time

# ------------------------------------------------------------------ rows in the old format

OLD_SHAPES: list[tuple[dict[str, Any], int | None, Any]] = [
    ({"text": "<b>hi</b>"}, None, TextMessage(text="<b>hi</b>")),
    ({}, None, TextMessage(text="")),
    (
        {"text": "🎙 rec", "voice_url": "https://p/r.mp3", "duration": 7},
        None,
        VoiceMessage(text="🎙 rec", voice_url="https://p/r.mp3", duration=7),
    ),
    (
        {"text": "🎙 rec", "voice_url": "https://p/r.mp3"},
        None,
        VoiceMessage(text="🎙 rec", voice_url="https://p/r.mp3"),
    ),
    (
        {"text": "digest", "document": {"name": "a.csv", "data_b64": "YQ==", "caption": "c"}},
        None,
        DocumentMessage(
            text="digest", document=Document(name="a.csv", data_b64="YQ==", caption="c")
        ),
    ),
    (
        {"edit": {"message_id": 5, "text": "acked", "ack": 9, "ack_label": "✅ OK"}},
        None,
        AckEdit(message_id=5, text="acked", ack=9, ack_label="✅ OK"),
    ),
    (
        {
            "text": "head",
            "more": ["tail"],
            "ack": 9,
            "ack_label": "✅ OK",
            "attachments": [{"url": "https://p/a.jpg", "kind": "photo", "name": "a.jpg"}],
            "caption": "cap",
        },
        9,
        IncidentMessage(
            text="head",
            more=["tail"],
            ack_label="✅ OK",
            attachments=[Attachment(url="https://p/a.jpg", kind="photo", name="a.jpg")],
            caption="cap",
        ),
    ),
    ({}, 9, LegacyIncident()),
]


@pytest.mark.parametrize(("payload", "incident_id", "expected"), OLD_SHAPES)
def test_old_untyped_rows_are_read_as_the_variant_they_meant(
    payload: dict[str, Any], incident_id: int | None, expected: Any
) -> None:
    # As stored: through JSON text, like the outbox column.
    assert read_message(json.loads(json.dumps(payload)), incident_id) == expected


@pytest.mark.parametrize("message", [m for _p, _i, m in OLD_SHAPES])
def test_every_variant_round_trips_through_its_row_payload(message: Any) -> None:
    payload = json.loads(json.dumps(message.to_payload()))
    assert payload["type"] == message.type
    assert read_message(payload, 9) == message


def test_an_unknown_type_or_a_missing_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        read_message({"type": "sticker", "text": "x"})
    with pytest.raises(ValidationError):
        read_message({"type": "voice", "text": "no url"})


# ------------------------------------------------------------- an upgrade with rows queued


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = Stack()
    await s.start()
    yield s
    await s.stop()


async def test_rows_queued_by_an_older_version_are_sent_after_the_upgrade(stack: Stack) -> None:
    """Rows the previous version wrote (incidents as `{}`, rendered when sent; texts, a
    digest with its CSV as untyped dicts) wait in the database across the restart and go
    out as they would have: the incident rendered, with its Acknowledge button."""
    group = -100931
    stack.add_group(group, "Team old rows")
    reply = await stack.say("admin", "/subscribe incidents notices attendance", chat=group)
    assert "This chat now receives" in reply[0].plain_text(), reply[0].render()
    body = stack.platform.make_report(urls=[], content="old smoke")
    await stack.stop_bridge()

    now = to_db_time(datetime.now(UTC))
    csv = base64.b64encode(b"a,b\n1,2\n").decode("ascii")
    rows: list[tuple[str, dict[str, Any], bool]] = [
        ("notices", {"text": "📢 <b>old notice</b>"}, False),
        ("incidents", {}, True),
        (
            "attendance",
            {"text": "old digest", "document": {"name": "old.csv", "data_b64": csv}},
            False,
        ),
    ]
    with sqlite3.connect(stack.workdir / "pttbridge.db") as conn:
        cursor = conn.execute(
            "INSERT INTO incidents (dedupe_key, body, received_at) VALUES (?, ?, ?)",
            (f"report:{body['id']}:{body['code']}", json.dumps(body, ensure_ascii=False), now),
        )
        incident_id = cursor.lastrowid
        for kind, payload, is_incident in rows:
            cursor = conn.execute(
                """
                INSERT INTO outbox (chat_id, thread_id, kind, payload, sort_key, next_at,
                                    created_at, incident_id)
                VALUES (?, 0, ?, ?, 0, ?, ?, ?)
                """,
                (group, kind, json.dumps(payload), now, now, incident_id if is_incident else None),
            )
            conn.execute("UPDATE outbox SET sort_key = id WHERE id = ?", (cursor.lastrowid,))

    await stack.start_bridge()
    notice, incident, digest, document = await stack.emu.wait_for_messages(group, 4)
    assert notice.plain_text() == "📢 old notice"
    assert "old smoke" in incident.plain_text()
    assert incident.buttons()[0][0] == "✅ Acknowledge"
    assert digest.plain_text() == "old digest"
    assert document.kind == "document" and document.file is not None
    assert document.file.data == b"a,b\n1,2\n"
    assert stack.bridge is not None
    assert (await stack.bridge.repos.outbox.counts())["dead"] == 0


async def test_a_copy_sent_after_the_acknowledgement_shows_it(stack: Stack) -> None:
    """Incidents are rendered when queued: a copy still waiting (here, held by a mute) when
    someone acknowledges is rendered again, and goes out showing who and when, without the
    Acknowledge button."""
    chats = []
    for chat in (-100941, -100942):
        stack.add_group(chat, f"Team {chat}")
        reply = await stack.say("admin", "/subscribe incidents", chat=chat)
        assert "This chat now receives" in reply[0].plain_text(), reply[0].render()
        chats.append(chat)
    shown, held = chats
    [muted] = await stack.say("admin", "/mute 30m", chat=held)
    assert "Muted until" in muted.plain_text()
    before = len(stack.emu.messages(held))
    body = stack.platform.make_report(urls=[])
    status, _answer = await stack.platform_event("report", body)
    assert status == 200
    [copy] = await stack.emu.wait_for_messages(shown, 1)
    await stack.press("supervisor", copy, 0)
    assert stack.emu.callback_answers[-1].text == "Acknowledged. Every copy now shows it."

    await stack.say("admin", "/mute off", chat=held)
    await stack.emu.wait_for(
        lambda: any(body["code"] in m.plain_text() for m in stack.emu.messages(held)[before:])
    )
    [late] = [m for m in stack.emu.messages(held)[before:] if body["code"] in m.plain_text()]
    assert "Acknowledged by Supervisor Sun at" in late.plain_text()
    assert late.buttons() == []  # nothing left to acknowledge
