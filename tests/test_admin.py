"""Admin chores from the chat, end to end: /broadcast, /register, /deluser, /mkgroup,
/bind, /device, /audit — the Telegram emulator (real HTTP, aiogram's AiohttpSession)
and the sandbox platform on 127.0.0.1, with the whole bridge between.

People (`bot.demo.stack.PEOPLE`): admin 1001 (BRIDGE_ADMIN_IDS), supervisor 1002,
viewer 1003, scoped 1004 (supervisor of org 266), stranger 1005 (no role).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import struct
import zlib
from collections.abc import Iterable
from typing import Any

import httpx
import pytest

from bot.demo.stack import Stack
from bot.sandbox.telegram import EmuMessage

ADMIN_ID = 1001
NEEDS_ADMIN = "This needs the administrator role."
STRANGER_TEXT = (
    "Hello! I bring the dispatch platform into Telegram.\n"
    "Your Telegram id is 1005. Give it to an administrator to get access."
)
ADMIN_COMMANDS = ("broadcast", "register", "deluser", "mkgroup", "bind", "device", "audit")

# ------------------------------------------------------------------------------ helpers


def text_of(msgs: Iterable[EmuMessage]) -> str:
    return "\n".join(m.plain_text() for m in msgs)


def one(msgs: list[EmuMessage]) -> EmuMessage:
    assert len(msgs) == 1, [m.render() for m in msgs]
    return msgs[0]


def last(msgs: list[EmuMessage]) -> EmuMessage:
    assert msgs, "no bot message"
    return msgs[-1]


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (tiny, grey) PNG image."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def send_photo(stack: Stack, who: str, data: bytes) -> list[EmuMessage]:
    """`who` sends a photo (the emulator's driver API has documents only, so the
    photo message is built from its parts, as Telegram would send it)."""
    from bot.sandbox import telegram as tg

    emu = stack.emu
    user = stack.people[who]
    chat = emu._driver_chat(user, None)
    stored = emu._store_file("photo", data, None, "image/png")
    msg = emu._new_message(
        chat,
        from_bot=False,
        sender=user,
        kind="photo",
        file=stored,
        media={"photo": tg._photo_sizes(stored)},
    )
    emu.mark(user.id)
    update = emu._enqueue_message(msg)
    await stack.wait_handled(int(update["update_id"]))
    out = emu.pending_messages(user.id)
    emu.mark(user.id)
    return out


def button_data(msg: EmuMessage, text: str) -> str:
    """The callback data of the button whose text ends with `text`."""
    found = [d for label, d in msg.buttons() if label.endswith(text)]
    assert len(found) == 1, (text, msg.buttons())
    assert found[0] is not None
    return found[0]


def every_bot_text(stack: Stack) -> list[str]:
    """Every parameter of every Bot API call the bridge made (texts, captions, edits,
    keyboards), as text."""
    out: list[str] = []
    for call in stack.emu.calls:
        for value in call.params.values():
            out.append(value if isinstance(value, str) else repr(value))
    return out


async def forge_press(stack: Stack, who: str, msg: EmuMessage, data: str) -> None:
    """Press `data` on `msg` even if the message no longer has that button (a stale
    client, a forged query); returns once the bridge has handled it."""
    update = await stack.emu.press_button(stack.people[who], msg, data, strict=False)
    await stack.wait_handled(int(update["update_id"]))


async def audit_rows(stack: Stack) -> list[Any]:
    assert stack.bridge is not None
    return await stack.bridge.audit.latest(1000)


# ------------------------------------------------------------------------------ /broadcast


async def open_broadcast(stack: Stack) -> EmuMessage:
    targets = one(await stack.say("admin", "/broadcast"))
    assert targets.plain_text().startswith("📢 New notice — who receives it?")
    assert "Now: nobody yet" in targets.plain_text()
    return targets


def subtree(stack: Stack, org_id: int) -> set[int]:
    orgs = stack.platform.data.orgs
    out = {org_id}
    grew = True
    while grew:
        more = {o.id for o in orgs.values() if o.parent_id in out} - out
        out |= more
        grew = bool(more)
    return out


def reach(stack: Stack, org_ids: Iterable[int], user_ids: Iterable[int]) -> int:
    orgs: set[int] = set()
    for oid in org_ids:
        orgs |= subtree(stack, oid)
    users = stack.platform.data.users.values()
    return len({u.id for u in users if u.org_id in orgs} | set(user_ids))


async def to_preview(
    stack: Stack, title: str = "Drill", text: str = "Drill at 15:00."
) -> EmuMessage:
    """/broadcast to org 266, `title`, `text`, no attachments: the preview message."""
    targets = await open_broadcast(stack)
    chosen = one(await stack.press("admin", targets, "bc1:o:266"))
    out = await stack.press("admin", chosen, "Next ▶")
    assert last(out).plain_text() == "Send the title (at most 100 characters)."
    assert one(await stack.say("admin", title)).plain_text().startswith("Send the text")
    files = one(await stack.say("admin", text))
    preview = last(await stack.press("admin", files, "Done ▶"))
    assert preview.plain_text().startswith("Preview — terminals and chats will see:")
    return preview


def notices_sent(stack: Stack) -> list[Any]:
    return [r.json for r in stack.platform.requests_to("/accept/event")]


async def test_broadcast_end_to_end_restart_edit_photo_and_double_confirm(
    bot_stack: Stack,
) -> None:
    stack = bot_stack
    group = stack.add_group(-100777, "Fire team 1")
    subscribed = text_of(await stack.say("admin", "/subscribe notices org 266", chat=group))
    assert "notices" in subscribed

    # Targets: an org by its button, a user by name (an unknown name is said, not added).
    targets = await open_broadcast(stack)
    assert ("· 消防一大队", "bc1:o:266") in targets.buttons()
    chosen = one(await stack.press("admin", targets, "bc1:o:266"))
    assert chosen.message_id == targets.message_id  # the same message, edited
    assert "Now: orgs 消防一大队" in chosen.plain_text()
    assert ("· ✅ 消防一大队", "bc1:o:266") in chosen.buttons()
    named = one(await stack.say("admin", "zhangsan01 nosuchuser"))
    assert named.plain_text().startswith("Added: 张三 (zhangsan01)\nNo user matches “nosuchuser”.")
    assert "Now: orgs 消防一大队; users 张三" in named.plain_text()
    out = await stack.press("admin", named, "Next ▶")
    assert last(out).plain_text() == "Send the title (at most 100 characters)."

    # A title too long is refused with the limit named; the step stays.
    too_long = one(await stack.say("admin", "T" * 101))
    assert too_long.plain_text() == (
        "That is 101 characters; the limit is 100. Please send it again, shorter."
    )

    # The bridge restarts in the middle: the dialog goes on where it was.
    await stack.restart_bridge()
    asked = one(await stack.say("admin", "Drill 演练"))
    assert asked.plain_text() == "Send the text (at most 3000 characters)."
    too_long = one(await stack.say("admin", "x" * 3001))
    assert too_long.plain_text() == (
        "That is 3001 characters; the limit is 3000. Please send it again, shorter."
    )
    text = "All units: drill at 15:00 <east yard> & go."
    files_prompt = one(await stack.say("admin", text))
    assert files_prompt.plain_text().startswith("Send photos or files, or paste links")

    # Attachments: a photo (served by the bridge), a pasted link; not-a-link is refused.
    image = png()
    added = one(await send_photo(stack, "admin", image))
    photo_name = added.plain_text().removeprefix("📎 ").removesuffix(" attached (1).")
    assert photo_name.startswith("photo-") and photo_name.endswith(".jpg"), added.plain_text()
    link = "https://example.org/docs/plan.pdf"
    assert one(await stack.say("admin", link)).plain_text() == "📎 plan.pdf attached (2)."
    nope = one(await stack.say("admin", "not a link"))
    assert nope.plain_text() == "Send a photo, a file or an http(s) link — or press Done."

    preview = last(await stack.press("admin", nope, "Done ▶"))
    users = reach(stack, [266], [10001])
    assert preview.plain_text() == (
        "Preview — terminals and chats will see:\n\n"
        f"📢 Drill 演练\n{text}\n📎 {photo_name}\n📎 plan.pdf\n— Admin Ada\n\n"
        f"Reaches about {users} users in terminals (orgs 消防一大队; users 张三) "
        "and 1 subscribed chat."
    )
    assert [label for label, _ in preview.buttons()] == ["✅ Confirm", "✏️ Edit", "Cancel"]

    # Edit: change the title from the preview; a new preview shows it.
    menu = one(await stack.press("admin", preview, "✏️ Edit"))
    assert [label for label, _ in menu.buttons()] == ["Recipients", "Title", "Text", "Attachments"]
    out = await stack.press("admin", menu, "Title")
    assert last(out).plain_text() == "Send the title (at most 100 characters)."
    preview2 = one(await stack.say("admin", "Drill moved 演练改期"))
    assert preview2.plain_text().startswith(
        "Preview — terminals and chats will see:\n\n📢 Drill moved 演练改期\n" + text
    )
    assert "Drill 演练" not in preview2.plain_text()
    assert notices_sent(stack) == []  # nothing left before Confirm

    # Confirm tapped twice at once, and once more afterwards: 2.15 exactly once.
    await asyncio.gather(
        stack.press("admin", preview2, "✅ Confirm"), stack.press("admin", preview2, "✅ Confirm")
    )
    assert stack.emu.message(ADMIN_ID, preview2.message_id).buttons() == []
    with pytest.raises(ValueError, match="no button"):
        await stack.press("admin", preview2, "✅ Confirm")  # the keyboard is gone
    await forge_press(stack, "admin", preview2, "bc1:c:0")
    sent = notices_sent(stack)
    assert len(sent) == 1
    expected = {
        "from": {"id": ADMIN_ID, "name": "Admin Ada"},
        "to": {"orgIds": [266], "userIds": [10001]},
        "title": "Drill moved 演练改期",
        "content": text,
        "accessory": [
            {"name": photo_name, "url": sent[0]["accessory"][0]["url"]},
            {"name": "plan.pdf", "url": link},
        ],
    }
    assert sent[0] == expected
    assert [n.body for n in stack.platform.data.notices] == [expected]
    answers = [a.text for a in stack.emu.callback_answers if a.data == "bc1:c:0"]
    assert sorted(answers) == ["Already sent.", "Already sent.", "Sending…"]
    outcome = [m for m in stack.emu.messages(ADMIN_ID) if "Notice sent" in m.plain_text()]
    assert [m.plain_text() for m in outcome] == [
        "📢 Notice sent\n✅ Terminals: the platform accepted it.\n💬 Chats: queued to one chat."
    ]

    # The photo's URL is the bridge's own listener and serves the same bytes.
    url = expected["accessory"][0]["url"]
    assert url.startswith(f"{stack.bridge_url}/files/") and url.endswith("/" + photo_name)
    async with httpx.AsyncClient() as http:
        got = await http.get(url)
        assert got.status_code == 200 and got.content == image
        wrong_token = url.rsplit("/", 2)[0] + "/not-the-token/" + photo_name
        assert (await http.get(wrong_token)).status_code == 404

    # The chat subscribed to notices gets it as terminals do.
    chat_notice = one(await stack.emu.wait_for_messages(group, 1))
    assert chat_notice.plain_text() == (
        f"📢 Drill moved 演练改期\n{text}\n📎 {photo_name}\n📎 plan.pdf\n— Admin Ada"
    )
    entry = next(e for e in await audit_rows(stack) if e.action == "broadcast")
    assert entry.actor_id == ADMIN_ID and entry.result == "platform ok, 1 chats"
    assert entry.args["title"] == "Drill moved 演练改期" and entry.args["files"] == 2


async def test_broadcast_edit_recipients_returns_to_the_preview(bot_stack: Stack) -> None:
    stack = bot_stack
    preview = await to_preview(stack, "Roll call", "Report in by 18:00.")
    menu = one(await stack.press("admin", preview, "✏️ Edit"))
    targets = last(await stack.press("admin", menu, "Recipients"))
    assert "Now: orgs 消防一大队" in targets.plain_text()
    both = one(await stack.press("admin", targets, "bc1:o:267"))
    assert "Now: orgs 消防一大队、消防二大队" in both.plain_text()
    # Next goes back to the preview: title and text are kept, not asked again.
    preview2 = last(await stack.press("admin", both, "Next ▶"))
    assert preview2.plain_text() == (
        "Preview — terminals and chats will see:\n\n"
        "📢 Roll call\nReport in by 18:00.\n— Admin Ada\n\n"
        f"Reaches about {reach(stack, [266, 267], [])} users in terminals "
        "(orgs 消防一大队、消防二大队) and 0 subscribed chats."
    )
    await stack.press("admin", preview2, "✅ Confirm")
    # No attachments: no accessory key at all.
    assert notices_sent(stack) == [
        {
            "from": {"id": ADMIN_ID, "name": "Admin Ada"},
            "to": {"orgIds": [266, 267]},
            "title": "Roll call",
            "content": "Report in by 18:00.",
        }
    ]


async def test_broadcast_cancel_button_and_cancel_command(bot_stack: Stack) -> None:
    stack = bot_stack
    # Cancel on the first step; the old dialog's buttons are dead afterwards.
    targets = await open_broadcast(stack)
    cancelled = one(await stack.press("admin", targets, "Cancel"))
    assert cancelled.plain_text() == "Cancelled." and cancelled.buttons() == []
    await forge_press(stack, "admin", targets, "bc1:o:266")
    alert = stack.emu.callback_answers[-1]
    assert alert.text == "This notice is no longer being edited. Start again with /broadcast."

    # Next without a target is refused.
    targets = await open_broadcast(stack)
    out = await stack.press("admin", targets, "Next ▶")
    assert last(out).plain_text() == "Choose at least one org or user first."

    # /cancel leaves the dialog: the next text is not taken as the title.
    chosen = one(await stack.press("admin", targets, "bc1:o:266"))
    await stack.press("admin", chosen, "Next ▶")
    assert one(await stack.say("admin", "/cancel")).plain_text() == "Cancelled."
    assert one(await stack.say("admin", "Drill")).plain_text() == "Send /help to see what I can do."
    assert one(await stack.say("admin", "/cancel")).plain_text() == "Nothing to cancel."

    # Cancel on the preview: nothing is sent, and Confirm is gone with it.
    preview = await to_preview(stack)
    gone = one(await stack.press("admin", preview, "Cancel"))
    assert gone.plain_text() == "Cancelled." and gone.buttons() == []
    await forge_press(stack, "admin", preview, "bc1:c:0")
    assert notices_sent(stack) == []
    assert stack.platform.data.notices == []
    assert not [e for e in await audit_rows(stack) if e.action == "broadcast"]


async def test_broadcast_confirm_counts_only_on_the_latest_preview(bot_stack: Stack) -> None:
    stack = bot_stack
    first = await to_preview(stack, "First draft", "Old text.")
    second = await to_preview(stack, "Second draft", "New text.")
    # The older preview still has its buttons, but it shows another draft.
    await forge_press(stack, "admin", first, "bc1:c:0")
    assert stack.emu.callback_answers[-1].text == (
        "This notice is no longer being edited. Start again with /broadcast."
    )
    assert notices_sent(stack) == []
    await stack.press("admin", second, "✅ Confirm")
    assert [b["title"] for b in notices_sent(stack)] == ["Second draft"]


async def test_broadcast_platform_refusal_is_told_per_side(bot_stack: Stack) -> None:
    stack = bot_stack
    preview = await to_preview(stack)
    stack.platform.fail_next("/accept/event", "status", status=509)
    out = text_of(await stack.press("admin", preview, "✅ Confirm"))
    assert "📢 Notice sent\n❌ Terminals: the platform refused it (" in out
    assert "509" in out and "the organization does not exist" in out
    assert "💬 Chats: queued to 0 chats." in out
    assert len(notices_sent(stack)) == 1  # refused once, never resent blindly
    await stack.say("admin", "/help")
    assert len(notices_sent(stack)) == 1
    entry = next(e for e in await audit_rows(stack) if e.action == "broadcast")
    assert "509" in entry.result


# ------------------------------------------------------------------------------ /register

PASSWORD = "Pa55-word-Secret"
EXISTING = {10: ("zhangsan01", "张三"), 260: ("wangwu01", "王五"), 499: ("chenbo01", "陈波")}


def five_hundred_rows() -> list[tuple[str, str]]:
    rows = [(f"user{i:03d}", f"用户{i}号") for i in range(500)]
    for i, row in EXISTING.items():
        rows[i] = row
    return rows


def gbk_csv(lines: list[str]) -> bytes:
    """A CSV file as Excel on a Chinese Windows saves it: GBK, CRLF, a header line."""
    return ("账号,姓名\r\n" + "\r\n".join(lines) + "\r\n").encode("gbk")


def sent_text(stack: Stack, msg: EmuMessage) -> str:
    """The text `msg` had when it was sent (`msg.text` is the text after its edits)."""
    return next(
        c.params["text"]
        for c in stack.emu.calls_to("sendMessage")
        if c.ok and c.result["message_id"] == msg.message_id and c.params["chat_id"] == msg.chat_id
    )


def progress_numbers(stack: Stack, msg: EmuMessage) -> list[int]:
    """The counts the progress message showed: when sent, then after each edit."""
    texts = [sent_text(stack, msg)] + [e.text or "" for e in msg.edits]
    numbers = []
    for text in texts:
        assert text.startswith("⏳ Registering… ") and text.endswith("/500"), text
        numbers.append(int(text.removeprefix("⏳ Registering… ").removesuffix("/500")))
    return numbers


async def test_register_500_rows_from_a_gbk_file(
    bot_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = bot_stack
    data = stack.platform.data
    users_before = len(data.users)
    rows = five_hundred_rows()
    lines = [f"{a},{n}" for a, n in rows]

    # Bad rows: every one reported by its line (the header is line 1), nothing sent.
    bad = list(lines)
    bad[5] = "bad account!,坏账号"
    bad[7] = "user000,重复"
    bad[9] = "user009,"
    bad[11] = "user011,名字,多余"
    bad[30] = "user030,<b>王</b>"
    reply = one(
        await stack.send_file("admin", "accounts.csv", gbk_csv(bad), "text/csv", "/register")
    )
    assert reply.plain_text() == (
        "5 rows are wrong; nothing was sent. Fix them and send the batch again:\n"
        "line 7: bad account!,坏账号 — "
        "the account may hold only letters, digits and _ . @ - (2–32)\n"
        "line 9: user000,重复 — this account appears twice in the batch\n"
        "line 11: user009, — account or name is empty\n"
        "line 13: user011,名字,多余 — expected two columns: account,name\n"
        "line 32: user030,<b>王</b> — the name is too long or holds < > & or quotes"
    )
    assert stack.platform.requests_to("/user/register") == []
    # ...and the dialog is over: a password now is not taken for that batch.
    assert (
        one(await stack.say("admin", PASSWORD)).plain_text() == "Send /help to see what I can do."
    )

    # The corrected file, three of its accounts already on the platform.
    ready = one(
        await stack.send_file("admin", "accounts.csv", gbk_csv(lines), "text/csv", "/register")
    )
    assert ready.plain_text().startswith("500 accounts are ready. Now send the password")
    assert stack.platform.requests_to("/user/register") == []

    out = await stack.say("admin", PASSWORD)
    progress, summary, document = out
    # The password message is deleted at once.
    mine = [m for m in stack.emu.history(ADMIN_ID) if not m.from_bot and m.text == PASSWORD]
    assert len(mine) == 2 and mine[-1].deleted and not mine[0].deleted
    assert [c.params for c in stack.emu.calls_to("deleteMessage")] == [
        {"chat_id": ADMIN_ID, "message_id": mine[-1].message_id}
    ]

    # Progress: one message, edited after each call, counting up to 500/500.
    numbers = progress_numbers(stack, progress)
    assert numbers[0] == 0 and numbers[-1] == 500
    assert len(numbers) > 10 and numbers == sorted(numbers)
    assert 100 in numbers and 250 in numbers  # whole batches of 50 before the first refusal

    # The platform: batches well under 510's limit, each new account created once.
    calls = stack.platform.requests_to("/user/register")
    assert all(len(c.json["account"]) <= 50 and c.json["password"] == PASSWORD for c in calls)
    assert len(data.users) == users_before + 497
    new_ids = {}
    for account, name in rows:
        user = data.user_by_account(account)
        assert user is not None, account
        new_ids[account] = user.id
        if (account, name) not in EXISTING.values():
            assert user.name == name

    # The reply: counts and every row that was not created.
    assert summary.plain_text() == (
        "Done: 497 created, 3 already existed, 0 failed.\n"
        "• zhangsan01 张三: the account already exists\n"
        "• wangwu01 王五: the account already exists\n"
        "• chenbo01 陈波: the account already exists"
    )
    # The CSV: UTF-8 with BOM, one row per input line, in order, with ids.
    assert document.kind == "document" and document.file is not None
    assert document.file.filename == "register-result.csv"
    raw = document.file.data or b""
    assert raw.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0] == ["line", "account", "name", "result", "id", "reason"]
    assert len(table) == 501
    existing = {a for a, _ in EXISTING.values()}
    for i, ((account, name), row) in enumerate(zip(rows, table[1:], strict=True)):
        if account in existing:
            expected = [str(i + 2), account, name, "exists", "", "the account already exists"]
        else:
            expected = [str(i + 2), account, name, "created", str(new_ids[account]), ""]
        assert row == expected
    assert document.plain_text() == "Done: 497 created, 3 already existed, 0 failed."

    # The password is nowhere: not in a message, edit or caption, not in the log, not
    # in the audit trail.
    for text in every_bot_text(stack):
        assert PASSWORD not in text
    for msg in stack.emu.messages(ADMIN_ID):
        for text in [msg.text, msg.caption, *(e.text for e in msg.edits)]:
            assert PASSWORD not in (text or "")
        if msg.file is not None and msg.file.data is not None:
            assert PASSWORD.encode() not in msg.file.data
    assert caplog.records, "the log was captured"
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)
    entries = await audit_rows(stack)
    register = [e for e in entries if e.action == "register"]
    assert len(register) == 1
    assert register[0].args["rows"] == 500 and register[0].result == (
        "created 497, exists 3, failed 0"
    )
    assert all(PASSWORD not in repr(e) for e in entries)
    # /audit csv carries no password either.
    audit_csv = last(await stack.say("admin", "/audit csv"))
    assert audit_csv.file is not None and PASSWORD.encode() not in (audit_csv.file.data or b"")

    # /find sees the new accounts at once.
    found = one(await stack.say("admin", "/find user498"))
    assert f"用户498号 (user498) {new_ids['user498']}" in found.plain_text()


async def test_register_lines_in_the_message_and_the_password_step(bot_stack: Stack) -> None:
    stack = bot_stack
    usage = one(await stack.say("admin", "/register"))
    assert usage.plain_text().startswith("Usage: /register followed by lines account,name")
    # The lines may come in the next message (Chinese comma and tab too).
    ready = one(await stack.say("admin", "lisi01，李四\nwangqiang01\t王强"))
    assert ready.plain_text().startswith("2 accounts are ready.")
    # /cancel at the password step: nothing sent.
    assert one(await stack.say("admin", "/cancel")).plain_text() == "Cancelled."
    assert stack.platform.requests_to("/user/register") == []

    one(await stack.say("admin", "/register\nlisi01,李四"))
    short = one(await stack.say("admin", "abc"))
    assert short.plain_text() == (
        "That password is too short (at least 6 characters). Send /register again."
    )
    assert stack.emu.history(ADMIN_ID)[-2].deleted  # even a refused password is deleted
    assert stack.platform.requests_to("/user/register") == []

    # Not UTF-8, not GBK: said so, nothing sent.
    unreadable = one(
        await stack.send_file("admin", "x.csv", b"\xff\xfe\xff,\xff\n", "text/csv", "/register")
    )
    assert unreadable.plain_text() == (
        "I can't read that file: save it as UTF-8 or GBK text (CSV or TXT)."
    )
    # UTF-8 with a BOM and no header works too.
    ready = one(
        await stack.send_file(
            "admin", "a.txt", "\ufefflisi01,李四\n".encode(), "text/plain", "/register"
        )
    )
    assert ready.plain_text().startswith("One account is ready.")
    out = await stack.say("admin", "Another-Secret-1")
    assert "Done: 1 created, 0 already existed, 0 failed." in text_of(out)
    assert stack.platform.data.user_by_account("lisi01") is not None


async def test_register_password_starting_with_a_slash_is_never_echoed(bot_stack: Stack) -> None:
    stack = bot_stack
    await stack.say("admin", "/register\nlisi01,李四")
    secret = "/Sl4sh-secret"
    out = await stack.say("admin", secret)
    assert all(secret[1:] not in m.plain_text() for m in out)
    mine = [m for m in stack.emu.history(ADMIN_ID) if not m.from_bot and m.text == secret]
    assert mine[0].deleted
    # It was the password, like any other answer at that step.
    assert "Done: 1 created, 0 already existed, 0 failed." in text_of(out)
    (call,) = stack.platform.requests_to("/user/register")
    assert call.json["password"] == secret
    assert all(secret[1:] not in text for text in every_bot_text(stack))

    # A command of this bot is still a command at the password step: /help answers, the
    # step waits, and /cancel ends it with nothing sent.
    await stack.say("admin", "/register\nlisi02,李四")
    assert "/register" in text_of(await stack.say("admin", "/help"))
    assert one(await stack.say("admin", "/cancel")).plain_text() == "Cancelled."
    assert len(stack.platform.requests_to("/user/register")) == 1

    # At the rows step too, a text starting with "/" that is no command is an answer
    # (here a bad row), not an unknown command.
    await stack.say("admin", "/register")
    bad = one(await stack.say("admin", "/lisi03,李四")).plain_text()
    assert bad.startswith("One row is wrong") and "line 1: /lisi03,李四" in bad


# ------------------------------------------------------------------------------ /deluser


async def test_deluser_shows_who_and_deletes_only_after_confirm(bot_stack: Stack) -> None:
    stack = bot_stack
    data = stack.platform.data
    usage = one(await stack.say("admin", "/deluser"))
    assert usage.plain_text() == "Usage: /deluser <user…>\nExample: /deluser zs001 ls002"
    ambiguous = one(await stack.say("admin", "/deluser zhang"))
    assert ambiguous.plain_text() == (
        "“zhang” fits several: 张三 (zhangsan01), 张珊 (zhangshan01), 张山 (zhangshan02). "
        "Use the id or the exact account."
    )
    assert ambiguous.buttons() == []
    missing = one(await stack.say("admin", "/deluser zhangsan01 nosuch"))
    assert missing.plain_text() == "No user matches “nosuch”." and missing.buttons() == []

    ask = one(await stack.say("admin", "/deluser zhangsan01 10005"))
    assert ask.plain_text() == (
        "Delete these 2 users from the platform?\n"
        "• 张三 (zhangsan01) 10001\n• 王五 (wangwu01) 10005"
    )
    assert [label for label, _ in ask.buttons()] == ["✅ Confirm", "Cancel"]
    assert stack.platform.requests_to("/user/delete") == []
    cancelled = one(await stack.press("admin", ask, "Cancel"))
    assert cancelled.plain_text() == "Cancelled." and cancelled.buttons() == []
    await forge_press(stack, "admin", ask, "cf1:du:1")  # Confirm after Cancel
    assert stack.emu.callback_answers[-1].text == "Nothing is waiting for confirmation."
    assert stack.platform.requests_to("/user/delete") == []
    assert 10001 in data.users and 10005 in data.users

    # Confirm, tapped twice at once: 2.8 once, with exactly the users shown.
    ask = one(await stack.say("admin", "/deluser zhangsan01 10005"))
    await asyncio.gather(
        stack.press("admin", ask, "✅ Confirm"), stack.press("admin", ask, "✅ Confirm")
    )
    assert [r.json for r in stack.platform.requests_to("/user/delete")] == [
        {"pttIds": [10001, 10005]}
    ]
    done = stack.emu.message(ADMIN_ID, ask.message_id)
    assert done.plain_text() == "Deleted: 张三、王五" and done.buttons() == []
    assert 10001 not in data.users and 10005 not in data.users
    answers = [str(a.text) for a in stack.emu.callback_answers[-2:]]
    assert sorted(answers) == ["None", "Nothing is waiting for confirmation."]
    # The directory is current at once.
    assert one(await stack.say("admin", "/find zhangsan01")).plain_text() == (
        "Nothing matches “zhangsan01”."
    )
    entry = next(e for e in await audit_rows(stack) if e.action == "deluser")
    assert (entry.target, entry.args, entry.result) == (
        "10001,10005",
        {"names": ["张三", "王五"]},
        "ok",
    )


async def test_deluser_confirm_on_an_older_question_deletes_nothing(bot_stack: Stack) -> None:
    stack = bot_stack
    first = one(await stack.say("admin", "/deluser 10002"))
    second = one(await stack.say("admin", "/deluser 10006"))
    assert "张珊" in first.plain_text() and "赵六" in second.plain_text()
    # The first message still shows its buttons; they must not delete 赵六.
    await stack.press("admin", first, "✅ Confirm")
    assert stack.platform.requests_to("/user/delete") == []
    assert stack.emu.callback_answers[-1].text == "Nothing is waiting for confirmation."
    await stack.press("admin", second, "✅ Confirm")
    assert [r.json for r in stack.platform.requests_to("/user/delete")] == [{"pttIds": [10006]}]
    assert 10002 in stack.platform.data.users


# ------------------------------------------------------------------------------ /mkgroup

USAGE_MKGROUP = "Usage: /mkgroup <name> <org> [user…]\nExample: /mkgroup Patrol1 266 zs ls"
USAGE_BIND = (
    "Usage: /bind <group> <user>[:priority[:may call Y|N[:may speak Y|N]]]…\n"
    "Priority 1–10, 1 is highest.\n"
    "Example: /bind patrol1 zs:1 ls:5:Y:N"
)
USAGE_DEVICE = (
    "Usage: /device <id> assign <account>, /device <id> idle or /device <id> repair\n"
    "Example: /device 860123456789012 assign zs001"
)


async def test_mkgroup_arguments_creation_and_errors(bot_stack: Stack) -> None:
    stack = bot_stack
    for wrong in ("/mkgroup", "/mkgroup Patrol9", "/mkgroup " + "n" * 33 + " 266"):
        assert one(await stack.say("admin", wrong)).plain_text() == USAGE_MKGROUP, wrong
    # Names are resolved through the directory before any call.
    assert one(await stack.say("admin", "/mkgroup Patrol9 999")).plain_text() == (
        "No org matches “999”."
    )
    assert (
        one(await stack.say("admin", "/mkgroup Patrol9 消防"))
        .plain_text()
        .startswith("“消防” fits several: 消防一大队, 消防二大队.")
    )
    assert one(await stack.say("admin", "/mkgroup Patrol9 266 nosuch")).plain_text() == (
        "No user matches “nosuch”."
    )
    assert stack.platform.requests_to("/group/create") == []

    done = one(await stack.say("admin", "/mkgroup Patrol9 消防一大队 zhangshan01 10007"))
    group = next(g for g in stack.platform.data.groups.values() if g.name == "Patrol9")
    assert (
        done.plain_text() == f"Talk group Patrol9 created: id {group.id}, in 消防一大队, 2 members."
    )
    assert [r.json for r in stack.platform.requests_to("/group/create")] == [
        {"name": "Patrol9", "oid": 266, "uids": [10002, 10007]}
    ]
    assert group.org_id == 266
    # /find sees the new group at once.
    assert f"Patrol9 {group.id}" in one(await stack.say("admin", "/find Patrol9")).plain_text()

    # A duplicate name in the org: the platform's 543, explained.
    dup = one(await stack.say("admin", "/mkgroup Patrol9 266"))
    assert dup.plain_text().startswith(
        "The platform refused: the number or name already exists — "
    ) and dup.plain_text().endswith("(code 543).")
    entries = [e for e in await audit_rows(stack) if e.action == "mkgroup"]
    assert entries[0].result.startswith("platform error 543")
    assert entries[1].result == "ok" and entries[1].target == str(group.id)


# ------------------------------------------------------------------------------ /bind


async def test_bind_parses_priority_and_permissions(bot_stack: Stack) -> None:
    stack = bot_stack
    for wrong in ("/bind", "/bind 1002"):
        assert one(await stack.say("admin", wrong)).plain_text() == USAGE_BIND, wrong
    for spec in (
        "zhangshan01:0",
        "zhangshan01:11",
        "zhangshan01:x",
        "zhangshan01:5:Q",
        "zhangshan01:5:Y:maybe",
        "zhangshan01:5:Y:N:Y",
        ":5",
    ):
        reply = one(await stack.say("admin", f"/bind 1002 {spec}")).plain_text()
        assert reply == f"I can't read “{spec}”.\n{USAGE_BIND}", spec
    assert one(await stack.say("admin", "/bind nosuch zhangshan01")).plain_text() == (
        "No group matches “nosuch”."
    )
    assert one(await stack.say("admin", "/bind 1002 nosuch:5")).plain_text() == (
        "No user matches “nosuch”."
    )
    assert stack.platform.requests_to("/group/bind") == []

    done = one(
        await stack.say(
            "admin", "/bind 消防一大队主频 zhangshan01 10007:1 wangwu01:5:n 10008:10:Y:N"
        )
    )
    assert done.plain_text() == (
        "Bound to 消防一大队主频:\n"
        "• 张珊 (zhangshan01): priority 10, may call: yes, may speak: yes\n"
        "• 高立新 (gaolixin01): priority 1, may call: yes, may speak: yes\n"
        "• 王五 (wangwu01): priority 5, may call: no, may speak: yes\n"
        "• 姚文 (yaowen01): priority 10, may call: yes, may speak: no"
    )
    assert [r.json for r in stack.platform.requests_to("/group/bind")] == [
        {
            "gid": 1002,
            "users": [
                {"id": 10002, "priority": 10, "callPermission": "Y", "canSpeak": "Y"},
                {"id": 10007, "priority": 1, "callPermission": "Y", "canSpeak": "Y"},
                {"id": 10005, "priority": 5, "callPermission": "N", "canSpeak": "Y"},
                {"id": 10008, "priority": 10, "callPermission": "Y", "canSpeak": "N"},
            ],
        }
    ]
    assert 1002 in stack.platform.data.users[10007].groups


# ------------------------------------------------------------------------------ /device


async def test_device_assign_idle_repair(bot_stack: Stack) -> None:
    stack = bot_stack
    for wrong in (
        "/device",
        "/device 860005",
        "/device 860005 fly",
        "/device 86-0005 idle",
        "/device abc idle",
        "/device ８６０００５ idle",
        "/device 860005 assign",
        "/device 860005 idle now",
        "/device 860005 assign zhangshan01 extra",
    ):
        assert one(await stack.say("admin", wrong)).plain_text() == USAGE_DEVICE, wrong
    assert one(await stack.say("admin", "/device 860005 assign nosuch")).plain_text() == (
        "No user matches “nosuch”."
    )
    assert stack.platform.requests_to("/device/bind") == []

    device = stack.platform.data.devices[860005]
    assigned = one(await stack.say("admin", "/device 860005 assign 张珊"))
    assert assigned.plain_text() == "Terminal 860005 is now assigned to zhangshan01."
    assert (device.account, device.state) == ("zhangshan01", 1)
    assert one(await stack.say("admin", "/device 860005 REPAIR")).plain_text() == (
        "Terminal 860005 is now under repair."
    )
    assert (device.account, device.state) == (None, 2)
    assert one(await stack.say("admin", "/device 860005 idle")).plain_text() == (
        "Terminal 860005 is now idle."
    )
    assert (device.account, device.state) == (None, 0)
    assert [r.json for r in stack.platform.requests_to("/device/bind")] == [
        {"id": "860005", "state": "1", "account": "zhangshan01"},
        {"id": "860005", "state": "2"},
        {"id": "860005", "state": "0"},
    ]
    # An unknown terminal: the platform's 542, explained and audited.
    unknown = one(await stack.say("admin", "/device 999999 idle")).plain_text()
    assert unknown.startswith("The platform refused: the terminal id does not match — ")
    assert unknown.endswith("(code 542).")
    entries = [e for e in await audit_rows(stack) if e.action == "device"]
    assert entries[0].target == "999999" and entries[0].result.startswith("platform error 542")
    assert [e.result for e in entries[1:]] == ["ok", "ok", "ok"]


# ------------------------------------------------------------------------------ access


async def test_non_admins_are_refused_every_admin_command(bot_stack: Stack) -> None:
    stack = bot_stack
    commands = [
        "/broadcast",
        "/register\nlisi01,李四",
        "/deluser zhangsan01",
        "/mkgroup Patrol9 266",
        "/bind 1002 zhangshan01",
        "/device 860005 idle",
        "/audit",
        "/audit csv",
    ]
    assert {c.split()[0][1:] for c in commands} == set(ADMIN_COMMANDS)
    for who in ("viewer", "supervisor", "scoped"):
        for command in commands:
            reply = one(await stack.say(who, command))
            assert reply.plain_text() == NEEDS_ADMIN, (who, command)
            assert reply.buttons() == [] and reply.file is None
        # A file with the /register caption, and the text after it: no dialog started.
        reply = one(await stack.send_file(who, "a.csv", b"lisi01,lisi\n", "text/csv", "/register"))
        assert reply.plain_text() == NEEDS_ADMIN
        assert one(await stack.say(who, "Secret-123456")).plain_text() == (
            "Send /help to see what I can do."
        )
        # Forged admin buttons do nothing either.
        await forge_press(stack, who, reply, "cf1:du:1")
        await forge_press(stack, who, reply, "bc1:c:0")
        assert stack.emu.callback_answers[-1].text == (
            "This button has expired. Please send the command again."
        )
    from handlers.throttle import Limit

    assert stack.bridge is not None  # more commands than a stranger may send a minute
    stack.bridge.throttle.stranger = Limit(10**6, 60.0)
    for command in commands:
        assert one(await stack.say("stranger", command)).plain_text() == STRANGER_TEXT
    writes = ("/user/register", "/user/delete", "/group/create", "/group/bind", "/device/bind")
    assert [r.path for w in writes for r in stack.platform.requests_to(w)] == []
    assert notices_sent(stack) == []
    assert await audit_rows(stack) == []


async def test_register_file_from_a_non_admin_names_the_role(bot_stack: Stack) -> None:
    reply = one(
        await bot_stack.send_file("viewer", "a.csv", b"lisi01,lisi\n", "text/csv", "/register")
    )
    assert reply.plain_text() == NEEDS_ADMIN
    # The same answers as for a typed command: a stranger is told their id, a command that
    # does not exist is named, one meant for another bot is left alone.
    stranger = one(await bot_stack.send_file("stranger", "a.csv", b"x\n", "text/csv", "/register"))
    assert stranger.plain_text() == STRANGER_TEXT
    typed = one(await bot_stack.say("viewer", "/nosuch"))
    sent = one(await bot_stack.send_file("viewer", "a.csv", b"x\n", "text/csv", "/nosuch"))
    assert sent.plain_text() == typed.plain_text()
    assert await bot_stack.send_file("viewer", "a.csv", b"x\n", "text/csv", "/help@other") == []


# ------------------------------------------------------------------------------ /audit


async def test_audit_shows_the_latest_actions_and_a_csv(bot_stack: Stack) -> None:
    stack = bot_stack
    assert one(await stack.say("admin", "/audit")).plain_text() == "Nothing recorded yet."
    await stack.say("admin", "/device 860005 repair")
    await stack.say("admin", "/mkgroup Patrol9 266 10007")
    await stack.say("admin", "/device 860010 assign zhangshan01")
    latest = one(await stack.say("admin", "/audit")).plain_text().splitlines()
    assert latest[0] == "Latest 3 actions"
    assert "Admin Ada terminal 860010 (state: assigned; account: zhangshan01) → ok" in latest[1]
    assert "Admin Ada new talk group" in latest[2]
    assert "(name: Patrol9; org: 266; users: 10007) → ok" in latest[2]
    assert "Admin Ada terminal 860005 (state: under repair) → ok" in latest[3]
    two = one(await stack.say("admin", "/audit 2")).plain_text().splitlines()
    assert two[0] == "Latest 2 actions" and two[1:] == latest[1:3]
    assert one(await stack.say("admin", "/audit many")).plain_text() == (
        "Usage: /audit [n] — the last n actions, default 20\nExample: /audit 50"
    )
    doc = one(await stack.say("admin", "/audit csv"))
    assert doc.file is not None and doc.file.filename == "audit.csv"
    assert doc.plain_text() == "3 actions of the last 90 days."
    raw = doc.file.data or b""
    assert raw.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0] == ["at", "actor_id", "actor", "action", "target", "args", "result"]
    assert [(r[1], r[2], r[3], r[4], r[6]) for r in table[1:]] == [
        ("1001", "Admin Ada", "device", "860005", "ok"),
        ("1001", "Admin Ada", "mkgroup", table[2][4], "ok"),
        ("1001", "Admin Ada", "device", "860010", "ok"),
    ]
    assert table[2][4].isdigit()


# ------------------------------------------------------------------------------ platform errors
# What each admin command answers on each platform error it can meet. The table is
# printed (pytest -s) for the closing note; every row is asserted.

UNREACHABLE = "Cannot reach the platform right now (could not be reached). Please try again later."


def refused(explanation: str) -> str:
    return f"The platform refused: {explanation} — "


async def _register(stack: Stack, tag: str, password: str = "Good-Pass-1", extra: str = "") -> str:
    ready = text_of(await stack.say("admin", f"/register\n{extra}{tag}a,甲\n{tag}b,乙"))
    assert "accounts are ready" in ready, ready
    return text_of(await stack.say("admin", password))


async def _deluser(stack: Stack, uid: int) -> str:
    ask = one(await stack.say("admin", f"/deluser {uid}"))
    out = await stack.press("admin", ask, "✅ Confirm")
    alerts = [a.text for a in stack.emu.callback_answers[-1:] if a.text]
    return "\n".join([*alerts, text_of(out)])


async def _broadcast(stack: Stack) -> str:
    preview = await to_preview(stack)
    return text_of(await stack.press("admin", preview, "✅ Confirm"))


async def test_platform_errors_each_admin_command_can_meet(bot_stack: Stack) -> None:
    stack = bot_stack
    sb = stack.platform
    table: list[tuple[str, str, str]] = []

    async def case(
        command: str, code: str, fault: tuple[str, str, int] | None, run: Any, *want: str
    ):
        if fault is not None:
            path, kind, status = fault
            sb.fail_next(path, kind, status=status)
        answer = await run()
        sb.clear_faults()
        for fragment in want:
            assert fragment in answer, (command, code, answer)
        table.append((command, code, answer.replace("\n", " ⏎ ")))

    reg = "/user/register"
    await case(
        "/register",
        "508 (real)",
        None,
        lambda: _register(stack, "r508", extra="zhangsan01,张三\n"),
        "Done: 2 created, 1 already existed, 0 failed.",
        "the account already exists",
    )
    await case(
        "/register",
        "510",
        (reg, "status", 510),
        lambda: _register(stack, "r510"),
        "Done: 2 created, 0 already existed, 0 failed.",
    )
    await case(
        "/register",
        "535 (real)",
        None,
        lambda: _register(stack, "r535", "12345678"),
        "Done: 0 created, 0 already existed, 2 failed.",
        "r535a 甲: 535: the password is too weak",
        "r535b 乙: 535",
    )
    await case(
        "/register",
        "502",
        (reg, "status", 502),
        lambda: _register(stack, "r502"),
        "2 failed.",
        "r502a 甲: 502: a parameter was rejected by the platform",
    )
    await case(
        "/register",
        "507",
        (reg, "status", 507),
        lambda: _register(stack, "r507"),
        "2 failed.",
        "r507b 乙: 507: this account may not call this method",
    )
    await case(
        "/register",
        "disconnect",
        (reg, "disconnect", 0),
        lambda: _register(stack, "rdis"),
        "2 failed.",
        "rdisa 甲: unknown outcome (could not be reached); check on the platform",
    )
    assert sb.data.user_by_account("rdisa") is None

    dele = "/user/delete"
    await case(
        "/deluser",
        "517",
        (dele, "status", 517),
        lambda: _deluser(stack, 10020),
        refused("the user does not exist"),
        "(code 517)",
    )
    await case(
        "/deluser",
        "539",
        (dele, "status", 539),
        lambda: _deluser(stack, 10020),
        refused("the last administrator cannot be deleted"),
        "(code 539)",
    )
    await case(
        "/deluser",
        "507",
        (dele, "status", 507),
        lambda: _deluser(stack, 10020),
        refused("this account may not call this method"),
    )
    await case(
        "/deluser",
        "disconnect",
        (dele, "disconnect", 0),
        lambda: _deluser(stack, 10020),
        UNREACHABLE,
    )
    assert 10020 in sb.data.users

    async def say(text: str) -> str:
        return text_of(await stack.say("admin", text))

    mk = "/group/create"
    await case(
        "/mkgroup", "unknown org", None, lambda: say("/mkgroup Gx 999"), "No org matches “999”."
    )
    await case(
        "/mkgroup",
        "543 (real)",
        None,
        lambda: say("/mkgroup 消防一大队主频 266"),
        refused("the number or name already exists"),
        "(code 543)",
    )
    await case(
        "/mkgroup",
        "509",
        (mk, "status", 509),
        lambda: say("/mkgroup Gx 266"),
        refused("the organization does not exist"),
        "(code 509)",
    )
    await case(
        "/mkgroup",
        "517",
        (mk, "status", 517),
        lambda: say("/mkgroup Gx 266 10007"),
        refused("the user does not exist"),
    )
    await case(
        "/mkgroup",
        "510",
        (mk, "status", 510),
        lambda: say("/mkgroup Gx 266 10007"),
        refused("too much data in one submission"),
    )
    await case(
        "/mkgroup", "disconnect", (mk, "disconnect", 0), lambda: say("/mkgroup Gx 266"), UNREACHABLE
    )

    bi = "/group/bind"
    await case(
        "/bind",
        "514",
        (bi, "status", 514),
        lambda: say("/bind 1002 10007"),
        refused("the talk group does not exist"),
        "(code 514)",
    )
    await case(
        "/bind",
        "517",
        (bi, "status", 517),
        lambda: say("/bind 1002 10007:3"),
        refused("the user does not exist"),
        "(code 517)",
    )
    await case(
        "/bind",
        "502",
        (bi, "status", 502),
        lambda: say("/bind 1002 10007"),
        refused("a parameter was rejected by the platform"),
    )
    await case(
        "/bind", "disconnect", (bi, "disconnect", 0), lambda: say("/bind 1002 10007"), UNREACHABLE
    )

    dev = "/device/bind"
    await case(
        "/device",
        "542 (real)",
        None,
        lambda: say("/device 999999 idle"),
        refused("the terminal id does not match"),
        "(code 542)",
    )
    await case(
        "/device",
        "504",
        (dev, "status", 504),
        lambda: say("/device 860005 assign zhangshan01"),
        refused("the login account does not exist"),
    )
    await case(
        "/device",
        "517",
        (dev, "status", 517),
        lambda: say("/device 860005 assign zhangshan01"),
        refused("the user does not exist"),
    )
    await case(
        "/device",
        "disconnect",
        (dev, "disconnect", 0),
        lambda: say("/device 860005 repair"),
        UNREACHABLE,
    )

    ev = "/accept/event"
    for code, meaning in (
        (509, "the organization does not exist"),
        (517, "the user does not exist"),
        (506, "a required parameter was empty"),
    ):
        await case(
            "/broadcast",
            str(code),
            (ev, "status", code),
            lambda: _broadcast(stack),
            f"❌ Terminals: the platform refused it ({meaning}",
            f"· {code})",
            "💬 Chats: queued to 0 chats.",
        )
    await case(
        "/broadcast",
        "disconnect",
        (ev, "disconnect", 0),
        lambda: _broadcast(stack),
        # The connection was cut after the request went out: it may have arrived.
        "⚠️ Terminals: the platform gave no clear answer. Check on the platform",
    )

    # Every failed platform call is in the audit trail with the platform's answer.
    failed = [e for e in await audit_rows(stack) if "platform" in e.result and e.result != "ok"]
    assert {e.action for e in failed} == {"deluser", "mkgroup", "bind", "device", "broadcast"}

    width = max(len(c) + len(k) for c, k, _ in table) + 3
    print("\n\ncommand × platform error → what the admin sees")
    for command, code, answer in table:
        print(f"{command} {code}".ljust(width), answer)


async def test_platform_errors_are_explained_in_chinese(bot_stack: Stack) -> None:
    stack = bot_stack
    assert one(await stack.say("admin", "/lang zh")).plain_text() == "已切换为中文。"
    stack.platform.fail_next("/group/bind", "status", status=514)
    assert one(await stack.say("admin", "/bind 1002 10007")).plain_text() == (
        "平台拒绝了请求：对讲组不存在 — 群组不存在（代码 514）。"
    )
    await stack.say("admin", "/register\nzh01a,甲")
    out = text_of(await stack.say("admin", "12345678"))
    assert "完成：新建 0 个，已存在 0 个，失败 1 个。\n• zh01a 甲: 535: 密码强度太弱" in out


async def test_broadcast_refusal_is_explained_in_chinese(bot_stack: Stack) -> None:
    stack = bot_stack
    await stack.say("admin", "/lang zh")
    targets = one(await stack.say("admin", "/broadcast"))
    chosen = one(await stack.press("admin", targets, "bc1:o:266"))
    await stack.press("admin", chosen, "bc1:n:0")
    await stack.say("admin", "标题")
    files = one(await stack.say("admin", "正文"))
    preview = last(await stack.press("admin", files, "bc1:d:0"))
    stack.platform.fail_next("/accept/event", "status", status=509)
    out = text_of(await stack.press("admin", preview, "bc1:c:0"))
    assert "❌ 终端：平台拒绝（" in out and "组织不存在" in out
    assert "the organization does not exist" not in out


# --------------------------------------------- /broadcast: the draft model, one handler per button


async def test_an_old_shaped_broadcast_draft_in_the_fsm_still_reads(bot_stack: Stack) -> None:
    """A dialog in progress across an upgrade: the plain dict the previous version stored
    (the keys it set, a pasted link), read back by a restarted bridge, goes on to the
    preview and is sent as written."""
    from aiogram.fsm.storage.base import StorageKey

    from handlers.broadcast_draft import Step

    stack = bot_stack
    assert stack.bridge is not None
    targets = await open_broadcast(stack)
    link = "https://example.org/docs/plan.pdf"
    old = {
        "orgs": [266],
        "users": [10001],
        "files": [{"name": "plan.pdf", "url": link}],
        "page": 0,
        "sender": "Admin Ada",
        "title": "Old draft",
        "text": "Written before the upgrade.",
        "editing": False,
    }
    storage = stack.bridge.dp.storage
    key = StorageKey(bot_id=stack.bridge.bot.id, chat_id=ADMIN_ID, user_id=ADMIN_ID)
    await storage.set_state(key, Step.attachments)
    await storage.set_data(key, {"bc": old})
    await stack.restart_bridge()  # read back from SQLite by a fresh process

    await forge_press(stack, "admin", targets, "bc1:d:0")  # Done ▶ on the attachments step
    preview = stack.emu.messages(ADMIN_ID)[-1]
    assert preview.plain_text().startswith(
        "Preview — terminals and chats will see:\n\n"
        "📢 Old draft\nWritten before the upgrade.\n📎 plan.pdf\n— Admin Ada"
    ), preview.plain_text()
    await stack.press("admin", preview, "✅ Confirm")
    [sent] = notices_sent(stack)
    assert sent["title"] == "Old draft" and sent["to"] == {"orgIds": [266], "userIds": [10001]}
    assert sent["accessory"] == [{"name": "plan.pdf", "url": link}]


def test_the_broadcast_draft_reader_keeps_what_reads_and_leaves_the_rest() -> None:
    from handlers.broadcast_draft import Draft, DraftFile

    assert Draft.of({}) == Draft()
    assert Draft.of({"bc": None}) == Draft()
    # Keys missing (an early draft), keys unknown, a field and an attachment that do not read.
    d = Draft.of(
        {
            "bc": {
                "orgs": [266, "12"],
                "page": "not a page",
                "files": [{"name": "a.png", "url": "http://x/a.png", "token": "t1"}, "junk", {}],
                "title": "T",
                "someday": 1,
            }
        }
    )
    assert d.orgs == [266, 12] and d.users == [] and d.page == 0
    assert d.files == [DraftFile(name="a.png", url="http://x/a.png", token="t1")]
    assert d.served() == ["t1"] and d.title == "T" and not d.written
    # Stored again as the same plain dict (nothing unset written).
    assert Draft.of({"bc": d.dump()}) == d
    assert "text" not in d.dump() and "preview_msg" not in d.dump()


def test_the_broadcast_result_says_what_the_platform_made_of_the_notice() -> None:
    """notice_sent_text: each state of the notice's job in its own words; a refusal with
    the explanation, the server's own text when it says more, and the code."""
    from datetime import UTC, datetime

    from bot.i18n import Translator
    from bot.render.replies import notice_sent_text
    from storage.notices import NoticeJob

    t = Translator.load("en").get("en")

    def job(state: str, attempts: int = 0, code: int | None = None, msg: str | None = None) -> str:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        j = NoticeJob(1, {}, state, at, attempts, None, code, msg)
        return notice_sent_text(t, j, 2, "en")

    assert job("sent").split("\n") == [
        t("bc-sent-head"),
        t("bc-platform-ok"),
        t("bc-chats", count=2),
    ]
    assert t("bc-platform-retrying") in job("pending")
    assert t("bc-platform-gave-up") in job("dead", attempts=3)
    assert t("bc-platform-unknown") in job("dead")
    refused = job("dead", code=1001, msg="Quota is full")
    assert "Quota is full · 1001" in refused and refused.count("Quota is full") == 1, refused


async def test_each_broadcast_button_has_its_own_handler_and_an_old_one_is_refused(
    bot_stack: Stack,
) -> None:
    """One handler per BcAction, each behind its own BcCb.filter(F.action == ...); the
    buttons shown only once a draft has its title and text are refused before it has them,
    and the draft stays as it was."""
    from bot.telegram.callbacks import BcAction
    from handlers import broadcast

    stack = bot_stack
    assert stack.bridge is not None
    router = broadcast.router()
    per_action = [
        h
        for h in router.callback_query.handlers
        if h.callback.__name__ not in ("stale", "unreadable")
    ]
    assert len(per_action) == len(BcAction)
    targets = await open_broadcast(stack)
    await stack.press("admin", targets, "bc1:o:266")
    for action in (BcAction.DONE, BcAction.EDIT, BcAction.EDIT_TITLE, BcAction.EDIT_FILES):
        await forge_press(stack, "admin", targets, f"bc1:{action.value}:0")
        assert stack.emu.callback_answers[-1].text == (
            "This notice is no longer being edited. Start again with /broadcast."
        )
    out = await stack.press("admin", targets, "Next ▶")
    assert last(out).plain_text() == "Send the title (at most 100 characters)."


# ------------------------------------------ /subscribe, /mute, /broadcast: the bridge's clock


async def test_subscribe_mute_and_broadcast_read_the_bridges_clock(
    make_bot_stack: Any,
) -> None:
    """Time in /subscribe, /unsubscribe, /mute, /subscriptions and /broadcast comes from
    the injected clock, not the machine's: a bridge a year ahead writes and shows that."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from conftest import Clock

    clock = Clock(datetime(2027, 6, 1, 2, 0, tzinfo=UTC))
    stack = await make_bot_stack(clock=clock)
    group = stack.add_group(-100_8801, "Clocked", admins=("admin",))
    assert "notices" in text_of(await stack.say("admin", "/subscribe notices", chat=group))
    muted = text_of(await stack.say("admin", "/mute 30m", chat=group))
    local = (clock() + timedelta(minutes=30)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert local.strftime("%m-%d %H:%M") in muted, muted
    listed = text_of(await stack.say("admin", "/subscriptions", chat=group))
    assert f"Muted until {local.strftime('%H:%M')}" in listed, listed  # still on, by the clock
    clock.advance(timedelta(hours=1))
    listed = text_of(await stack.say("admin", "/subscriptions", chat=group))
    assert "Muted until" not in listed, listed  # over, by the clock
    await stack.say("admin", "/unsubscribe notices", chat=group)
    preview = await to_preview(stack, "Clocked", "By the bridge's clock.")
    await stack.press("admin", preview, "✅ Confirm")
    at = {e.action: e.at for e in await audit_rows(stack)}
    start = datetime(2027, 6, 1, 2, 0, tzinfo=UTC)
    assert at["subscribe"] == at["mute"] == start
    assert at["unsubscribe"] == at["broadcast"] == start + timedelta(hours=1)


def test_read_subscribe_gives_the_arguments_or_the_answer() -> None:
    """/subscribe's parse step: SubscribeArgs when it reads, else the one answer to give."""
    from bot.i18n import Translator
    from bot.render.replies import Reply
    from handlers.subscriptions import SubscribeArgs, read_subscribe

    t = Translator.load("en").get("en")
    args = read_subscribe(t, "recordings org 266 user zhangsan01")
    assert args == SubscribeArgs(kinds=("recordings",), orgs=(266,), users=("zhangsan01",))
    bad = read_subscribe(t, "recordings org <x>")
    assert isinstance(bad, Reply) and "&lt;x&gt;" in bad.text and t("usage-subscribe") in bad.text
    assert read_subscribe(t, "presence") == Reply(t("usage-subscribe-presence"))
    assert read_subscribe(t, "attendance org 1 2") == Reply(t("usage-org-arg"))
