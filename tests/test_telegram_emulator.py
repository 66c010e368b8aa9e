"""The Telegram Bot API emulator, driven by aiogram's real Bot and AiohttpSession."""

from __future__ import annotations

import asyncio
import html
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)
from aiohttp import ClientSession, web
from conftest import Clock
from hypothesis import given
from hypothesis import strategies as st

from bot.sandbox.telegram import (
    HtmlParseError,
    TelegramEmulator,
    parse_html,
    strip_html,
    utf16_len,
)

TOKEN = "123456:TEST-token"
ALICE = 1001
BOB = 1002
GROUP = -100500
MEDIA = Path(__file__).resolve().parent.parent / "bot" / "sandbox" / "media"


def make_bot(url: str, token: str = TOKEN) -> Bot:
    return Bot(
        token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def png(width: int, height: int) -> bytes:
    """A valid PNG of the given size (all black, greyscale)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator(token=TOKEN, flood_limits=False)
    await emulator.start()
    emulator.add_user(ALICE, "Alice", language_code="en", username="alice")
    emulator.add_user(BOB, "Bob", language_code="zh", username="bob")
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    client = make_bot(emu.url)
    try:
        yield client
    finally:
        await client.session.close()


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


async def raw_call(
    http: ClientSession, emu: TelegramEmulator, method: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{emu.url}/bot{TOKEN}/{method}", **kwargs) as resp:
        return resp.status, await resp.json()


# ----------------------------------------------------------------------------- basics


async def test_get_me(bot: Bot, emu: TelegramEmulator) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.username == "pttbridge_bot"
    assert emu.calls[-1].method == "getMe"
    assert emu.calls[-1].ok


async def test_wrong_token_is_401_like_telegram(emu: TelegramEmulator, http: ClientSession) -> None:
    async with http.post(f"{emu.url}/bot999:wrong/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    intruder = make_bot(emu.url, token="999:wrong")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await intruder.get_me()
    finally:
        await intruder.session.close()


async def test_method_names_are_case_insensitive_and_unknown_ones_404(
    emu: TelegramEmulator, http: ClientSession
) -> None:
    status, body = await raw_call(http, emu, "GETME")
    assert status == 200
    assert body["ok"] is True
    assert body["result"]["username"] == "pttbridge_bot"

    status, body = await raw_call(http, emu, "noSuchMethod")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_json_urlencoded_and_query_bodies(emu: TelegramEmulator, http: ClientSession) -> None:
    status, body = await raw_call(
        http,
        emu,
        "sendMessage",
        json={"chat_id": ALICE, "text": "<i>json</i>", "parse_mode": "HTML"},
    )
    assert status == 200
    assert body["result"]["text"] == "json"
    assert body["result"]["entities"] == [{"type": "italic", "offset": 0, "length": 4}]

    status, body = await raw_call(
        http, emu, "sendMessage", data={"chat_id": str(ALICE), "text": "form"}
    )
    assert status == 200
    assert body["result"]["text"] == "form"

    async with http.get(
        f"{emu.url}/bot{TOKEN}/sendMessage", params={"chat_id": str(ALICE), "text": "query"}
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["result"]["text"] == "query"

    assert [m.text for m in emu.messages(ALICE)] == ["<i>json</i>", "form", "query"]
    assert emu.calls_to("sendMessage")[1].params == {"chat_id": ALICE, "text": "form"}


async def test_odd_input_gets_telegram_like_400s(
    emu: TelegramEmulator, http: ClientSession
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, "JSON"),
        ({"json": [1, 2]}, "JSON"),
        ({"json": {"chat_id": "nobody", "text": "x"}}, "chat not found"),
        ({"json": {"chat_id": 424242, "text": "x"}}, "chat not found"),
        ({"json": {"chat_id": ALICE}}, "message text is empty"),
        ({"json": {"chat_id": ALICE, "text": {"a": 1}}}, 'field "text"'),
        ({"json": {"chat_id": ALICE, "text": "x", "reply_markup": "{"}}, "can't parse"),
        ({"json": {"chat_id": ALICE, "text": "x", "reply_markup": [1]}}, "can't parse"),
        (
            {"json": {"chat_id": ALICE, "text": "x", "reply_markup": {"inline_keyboard": [[{}]]}}},
            "inline keyboard button",
        ),
        ({"json": {"chat_id": ALICE, "text": "x", "parse_mode": "BBCode"}}, "parse_mode"),
        ({"json": {"chat_id": ALICE, "text": "x", "reply_to_message_id": 77}}, "replied"),
        ({"json": {"chat_id": [ALICE], "text": "x"}}, "chat_id"),
    ]
    for kwargs, expected in cases:
        status, body = await raw_call(http, emu, "sendMessage", **kwargs)
        assert status == 400, (kwargs, body)
        assert body["ok"] is False
        assert body["error_code"] == 400
        assert body["description"].startswith("Bad Request: ")
        assert expected in body["description"], (kwargs, body)

    status, body = await raw_call(
        http, emu, "editMessageText", json={"chat_id": ALICE, "message_id": "x", "text": "y"}
    )
    assert status == 400
    assert 'field "message_id" must be of type Integer' in body["description"]

    status, body = await raw_call(
        http, emu, "sendLocation", json={"chat_id": ALICE, "latitude": "north", "longitude": 1}
    )
    assert status == 400
    assert "latitude" in body["description"]
    # and the emulator still serves
    status, _ = await raw_call(http, emu, "getMe")
    assert status == 200


# ----------------------------------------------------------------------------- messages


async def test_send_edit_delete(bot: Bot, emu: TelegramEmulator) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Refresh", callback_data="on1:r:7")],
            [InlineKeyboardButton(text="Docs", url="https://example.com/docs")],
        ]
    )
    sent = await bot.send_message(ALICE, "Online: <b>3</b>", reply_markup=keyboard)
    assert sent.text == "Online: 3"
    assert sent.from_user is not None and sent.from_user.id == 123456
    assert sent.chat.type == "private"
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump(exclude_none=True) == keyboard.model_dump(exclude_none=True)

    second = await bot.send_message(ALICE, "second", reply_to_message_id=sent.message_id)
    assert second.message_id == sent.message_id + 1
    assert second.reply_to_message is not None
    assert second.reply_to_message.message_id == sent.message_id

    [first, _] = emu.messages(ALICE)
    assert first.kind == "text"
    assert first.text == "Online: <b>3</b>"
    assert first.plain_text() == "Online: 3"
    assert first.parse_mode == "HTML"
    assert first.buttons() == [("Refresh", "on1:r:7"), ("Docs", "https://example.com/docs")]

    edited = await bot.edit_message_text(
        "Online: <b>4</b>", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
    )
    assert isinstance(edited, Message)
    assert edited.text == "Online: 4"
    assert edited.edit_date is not None
    assert first.plain_text() == "Online: 4"
    assert [e.text for e in first.edits] == ["Online: <b>4</b>"]

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Online: <b>4</b>", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
        )
    # a different markup alone is a modification
    await bot.edit_message_reply_markup(chat_id=ALICE, message_id=sent.message_id)
    assert first.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=ALICE, message_id=sent.message_id)

    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=999)

    assert await bot.delete_message(ALICE, sent.message_id)
    assert first.deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ALICE, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("again", chat_id=ALICE, message_id=sent.message_id)


async def test_reply_parameters_and_missing_reply_target(bot: Bot, emu: TelegramEmulator) -> None:
    first = await bot.send_message(ALICE, "first")
    from aiogram.types import ReplyParameters

    reply = await bot.send_message(
        ALICE, "reply", reply_parameters=ReplyParameters(message_id=first.message_id)
    )
    assert reply.reply_to_message is not None
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(ALICE, "x", reply_parameters=ReplyParameters(message_id=555))
    lenient = await bot.send_message(
        ALICE,
        "x",
        reply_parameters=ReplyParameters(message_id=555, allow_sending_without_reply=True),
    )
    assert lenient.reply_to_message is None


GOOD_HTML = [
    ("<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em>", "bold s i e"),
    ("<u>u</u><ins>i</ins><s>s</s><strike>k</strike><del>d</del>", "uiskd"),
    ('<span class="tg-spoiler">x</span><tg-spoiler>y</tg-spoiler>', "xy"),
    ('<a href="https://e.com/?a=1&amp;b=2">link</a>', "link"),
    ('<a href="tg://user?id=1001">Alice</a>', "Alice"),
    ("<code>x &lt; y</code>", "x < y"),
    ('<pre><code class="language-python">print(1)</code></pre>', "print(1)"),
    ("<blockquote expandable>quote</blockquote><blockquote>q</blockquote>", "quoteq"),
    ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
    ("&lt;&gt;&amp;&quot;&#65;&#x42;", '<>&"AB'),
    ("a > b", "a > b"),
    ("<B>upper</B>", "upper"),
]

BAD_HTML = [
    ("<p>para</p>", 'Unsupported start tag "p"'),
    ("<b>unclosed", "Can't find end tag corresponding to start tag b"),
    ("<b>x</i>", "Unmatched end tag"),
    ("x</b>", "Unexpected end tag"),
    ("a < b", "Unsupported start tag"),
    ("1 <2", "Unclosed start tag"),
    ("AT&T", "Character reference expected"),
    ("&nbsp;", "Character reference expected"),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ("<b", "Unclosed start tag"),
    ('<a href="x"', "Unclosed start tag"),
    ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier"),
]


async def test_good_html_is_accepted(bot: Bot, emu: TelegramEmulator) -> None:
    for source, visible in GOOD_HTML:
        sent = await bot.send_message(ALICE, source)
        assert sent.text == visible, source
        assert emu.messages(ALICE)[-1].plain_text() == visible, source


async def test_bad_html_is_refused(bot: Bot, emu: TelegramEmulator) -> None:
    for source, reason in BAD_HTML:
        with pytest.raises(TelegramBadRequest) as caught:
            await bot.send_message(ALICE, source)
        assert "Bad Request: can't parse entities: " in caught.value.message, source
        assert reason in caught.value.message, (source, caught.value.message)
    assert emu.messages(ALICE) == []


async def test_html_entities_reported_in_utf16(bot: Bot) -> None:
    sent = await bot.send_message(ALICE, '𝄞 <b>bold</b> <a href="https://e.com">x</a>')
    assert sent.entities is not None
    [bold, link] = sent.entities
    assert (bold.type, bold.offset, bold.length) == ("bold", 3, 4)
    assert (link.type, link.offset, link.url) == ("text_link", 8, "https://e.com/")


async def test_length_limits_count_utf16_units_of_visible_text(
    bot: Bot, emu: TelegramEmulator
) -> None:
    await bot.send_message(ALICE, "𝄞" * 2048)  # 4096 units
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ALICE, "𝄞" * 4096)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ALICE, "𝄞" * 2049)
    await bot.send_message(ALICE, "<b>" + "x" * 4000 + "</b><i>" + "y" * 96 + "</i>")
    await bot.send_message(ALICE, "&lt;" * 4096)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ALICE, "x" * 4097)

    photo = BufferedInputFile(png(4, 4), "p.png")
    await bot.send_photo(ALICE, photo, caption="<b>" + "c" * 1024 + "</b>")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(ALICE, photo, caption="𝄞" * 513)
    assert len(emu.messages(ALICE)) == 4


async def test_empty_text_is_refused(bot: Bot) -> None:
    for text in ("", "   ", "<b></b>", "<b> </b>\n"):
        with pytest.raises(TelegramBadRequest, match="message text is empty"):
            await bot.send_message(ALICE, text)


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    def markup(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="b", callback_data=data)]]
        )

    await bot.send_message(ALICE, "ok", reply_markup=markup("x" * 64))
    for data in ("x" * 65, "й" * 33):  # 66 bytes in UTF-8
        with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
            await bot.send_message(ALICE, "no", reply_markup=markup(data))


# ----------------------------------------------------------------------------- files


async def test_uploads_arrive_with_their_bytes(bot: Bot, emu: TelegramEmulator) -> None:
    ogg = (MEDIA / "recording-en.ogg").read_bytes()
    voice = await bot.send_voice(
        ALICE, BufferedInputFile(ogg, "recording.ogg"), caption="<i>rec</i>"
    )
    assert voice.voice is not None
    assert voice.voice.file_size == len(ogg)
    assert voice.voice.mime_type == "audio/ogg"
    assert voice.voice.duration > 0
    assert voice.caption == "rec"

    csv = "账号,姓名\nzhangsan,张三\n".encode()
    doc = await bot.send_document(ALICE, BufferedInputFile(csv, "名单.csv"))
    assert doc.document is not None
    assert doc.document.file_name == "名单.csv"
    assert doc.document.mime_type == "text/csv"
    assert doc.document.file_size == len(csv)

    picture = png(1600, 900)
    photo = await bot.send_photo(ALICE, BufferedInputFile(picture, "track.png"))
    assert photo.photo is not None
    assert (photo.photo[-1].width, photo.photo[-1].height) == (1280, 720)

    mp3 = (MEDIA / "recording-zh.mp3").read_bytes()
    audio = await bot.send_audio(ALICE, BufferedInputFile(mp3, "rec.mp3"), duration=7, title="rec")
    assert audio.audio is not None
    assert (audio.audio.duration, audio.audio.mime_type) == (7, "audio/mpeg")

    [m_voice, m_doc, m_photo, m_audio] = emu.messages(ALICE)
    assert (m_voice.kind, m_doc.kind, m_photo.kind, m_audio.kind) == (
        "voice",
        "document",
        "photo",
        "audio",
    )
    assert m_voice.file is not None and m_voice.file.data == ogg
    assert m_doc.file is not None and m_doc.file.data == csv
    assert (m_doc.file.filename, m_doc.file.size) == ("名单.csv", len(csv))
    assert m_photo.file is not None and m_photo.file.data == picture
    assert m_audio.file is not None and m_audio.file.data == mp3

    # a file_id is reusable; a URL is stored, not fetched
    again = await bot.send_document(BOB, doc.document.file_id)
    assert again.document is not None
    assert again.document.file_id == doc.document.file_id
    await bot.send_photo(BOB, "https://example.com/pic.png")
    [m_again, m_url] = emu.messages(BOB)
    assert m_again.file is not None and m_again.file.data == csv
    assert m_url.file is not None and m_url.file.url == "https://example.com/pic.png"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(BOB, "no-such-file-id")
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(BOB, BufferedInputFile(b"not an image", "x.png"))


async def test_media_group(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await bot.send_media_group(
        ALICE,
        [
            InputMediaPhoto(media=BufferedInputFile(png(2, 2), "a.png"), caption="<b>a</b>"),
            InputMediaPhoto(media=BufferedInputFile(png(3, 3), "b.png")),
        ],
    )
    assert len(sent) == 2
    assert sent[0].media_group_id is not None
    assert sent[0].media_group_id == sent[1].media_group_id
    assert sent[0].caption == "a"
    a, b = emu.messages(ALICE)
    assert a.file is not None and a.file.data == png(2, 2)
    assert b.file is not None and b.file.data == png(3, 3)


async def test_bot_downloads_a_file_the_user_sent(bot: Bot, emu: TelegramEmulator) -> None:
    data = b"account,name\nli4,Li Si\n"
    update = await emu.send_document(ALICE, "users.csv", data, "text/csv", caption="/register")
    document = update["message"]["document"]
    assert update["message"]["caption_entities"] == [
        {"type": "bot_command", "offset": 0, "length": 9}
    ]
    file = await bot.get_file(document["file_id"])
    assert file.file_size == len(data)
    downloaded = await bot.download(document["file_id"])
    assert downloaded is not None
    assert downloaded.read() == data


async def test_locations_and_venues(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await bot.send_location(
        ALICE, 31.2304, 121.4737, horizontal_accuracy=25, heading=90, live_period=600
    )
    assert sent.location is not None
    assert (sent.location.latitude, sent.location.heading) == (31.2304, 90)
    msg = emu.messages(ALICE)[0]
    assert msg.kind == "location"
    assert msg.location is not None
    assert (msg.location.lat, msg.location.lon) == (31.2304, 121.4737)
    assert (msg.location.heading, msg.location.horizontal_accuracy) == (90, 25)
    await bot.edit_message_live_location(
        latitude=31.24, longitude=121.48, chat_id=ALICE, message_id=sent.message_id
    )
    assert msg.location.lat == 31.24
    venue = await bot.send_venue(ALICE, 31.0, 121.0, "Depot", "1 Road")
    assert venue.venue is not None and venue.venue.title == "Depot"
    assert emu.messages(ALICE)[1].kind == "venue"
    with pytest.raises(TelegramBadRequest, match="wrong location"):
        await bot.send_location(ALICE, 91.0, 0.0)


async def test_copy_forward_caption_edit_and_bulk_delete(bot: Bot, emu: TelegramEmulator) -> None:
    doc = await bot.send_document(ALICE, BufferedInputFile(b"x", "a.txt"), caption="<b>v1</b>")
    edited = await bot.edit_message_caption(
        chat_id=ALICE, message_id=doc.message_id, caption="<b>v2</b>"
    )
    assert isinstance(edited, Message)
    assert edited.caption == "v2"
    with pytest.raises(TelegramBadRequest, match="no text in the message"):
        await bot.edit_message_text("t", chat_id=ALICE, message_id=doc.message_id)

    copied = await bot.copy_message(BOB, ALICE, doc.message_id)
    forwarded = await bot.forward_message(BOB, ALICE, doc.message_id)
    assert forwarded.forward_origin is not None
    [copy, forward] = emu.messages(BOB)
    assert copy.message_id == copied.message_id
    assert copy.file is not None and copy.file.data == b"x"
    assert forward.plain_text() == "v2"

    assert await bot.delete_messages(BOB, [copy.message_id, forward.message_id, 999])
    assert copy.deleted and forward.deleted


# ----------------------------------------------------------------------------- updates


async def test_get_updates_offset_limit_and_timeout(bot: Bot, emu: TelegramEmulator) -> None:
    first = await emu.send_message(ALICE, "/online 1001")
    assert first["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
    assert first["message"]["from"] == {
        "id": ALICE,
        "is_bot": False,
        "first_name": "Alice",
        "username": "alice",
        "language_code": "en",
    }
    await emu.send_message(BOB, "hello")

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first["update_id"], first["update_id"] + 1]
    assert updates[0].message is not None and updates[0].message.text == "/online 1001"
    # unconfirmed updates come again; limit caps them
    assert len(await bot.get_updates(limit=1)) == 1
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == []
    assert emu.pending_updates == []

    # a long poll returns as soon as an update arrives
    poll = asyncio.create_task(bot.get_updates(offset=updates[-1].update_id + 1, timeout=30))
    await emu.wait_for(lambda: emu.polling)
    third = await emu.send_message(ALICE, "third")
    got = await poll
    assert [u.update_id for u in got] == [third["update_id"]]

    # and with nothing to return, it returns empty when its timeout ends
    assert await bot.get_updates(offset=third["update_id"] + 1, timeout=1) == []

    # a negative offset keeps only the newest updates
    for text in ("a", "b", "c"):
        await emu.send_message(ALICE, text)
    newest = await bot.get_updates(offset=-1)
    assert [u.message.text for u in newest if u.message] == ["c"]


async def test_allowed_updates_filter(bot: Bot, emu: TelegramEmulator) -> None:
    await bot.get_updates(allowed_updates=["callback_query"])
    await emu.send_message(ALICE, "not wanted")
    assert emu.pending_updates == []
    assert emu.filtered_updates[-1]["message"]["text"] == "not wanted"
    await bot.get_updates(allowed_updates=[])
    await emu.send_message(ALICE, "wanted")
    assert len(emu.pending_updates) == 1


async def test_second_poller_conflicts(emu: TelegramEmulator) -> None:
    first_bot, second_bot = make_bot(emu.url), make_bot(emu.url)
    try:
        first = asyncio.create_task(first_bot.get_updates(timeout=30))
        await emu.wait_for(lambda: emu.polling)
        second = asyncio.create_task(second_bot.get_updates(timeout=30))
        with pytest.raises(TelegramConflictError) as caught:
            await first
        assert caught.value.message == (
            "Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running"
        )
        update = await emu.send_message(ALICE, "hi")
        assert [u.update_id for u in await second] == [update["update_id"]]
        assert [c.status for c in emu.calls_to("getUpdates")] == [409, 200]
    finally:
        await first_bot.session.close()
        await second_bot.session.close()


async def test_webhook_delivery_with_secret_and_retry(bot: Bot, emu: TelegramEmulator) -> None:
    received: asyncio.Queue[tuple[str | None, dict[str, Any]]] = asyncio.Queue()
    failures = [500]

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        if failures:
            return web.Response(status=failures.pop())
        await received.put((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
        if body.get("message", {}).get("text") == "echo":
            # Telegram executes a method call given as the webhook's response
            return web.json_response({"method": "sendMessage", "chat_id": ALICE, "text": "echoed"})
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/telegram/webhook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        assert await bot.set_webhook(url, secret_token="s3cr3t_token-1")
        info = await bot.get_webhook_info()
        assert info.url == url

        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()

        update = await emu.send_message(ALICE, "/start")
        secret, body = await asyncio.wait_for(received.get(), timeout=10)
        assert secret == "s3cr3t_token-1"
        assert body == update
        await emu.wait_for(lambda: not emu.pending_updates)
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0
        assert info.last_error_message is not None
        assert "500" in info.last_error_message

        await emu.send_message(ALICE, "echo")
        [echoed] = await emu.wait_for_messages(ALICE)
        assert echoed.text == "echoed"
        assert emu.calls[-1].via == "webhook-reply"

        assert await bot.delete_webhook(drop_pending_updates=True)
        assert emu.webhook_url is None
        assert await bot.get_updates(timeout=0) == []
    finally:
        await runner.cleanup()


# ----------------------------------------------------------------------------- failures


async def test_flood_limits_answer_429_with_retry_after() -> None:
    clock = Clock()
    emu = TelegramEmulator(token=TOKEN, clock=clock, global_per_s=5, group_per_min=20)
    await emu.start()
    client = make_bot(emu.url)
    try:
        emu.add_user(ALICE, "Alice")
        emu.add_group(GROUP, "Fire team", members=[ALICE])
        # a private chat: a burst of 3, then 1 per second
        for i in range(3):
            await client.send_message(ALICE, f"m{i}")
        with pytest.raises(TelegramRetryAfter) as caught:
            await client.send_message(ALICE, "too fast")
        assert caught.value.retry_after >= 1
        assert emu.calls[-1].error == f"Too Many Requests: retry after {caught.value.retry_after}"
        # the exempt methods still answer
        await client.send_chat_action(ALICE, "typing")
        await client.get_chat(ALICE)
        clock.now += caught.value.retry_after
        await client.send_message(ALICE, "in time")

        # the global limit: 5 per second here, across chats
        clock.now += 10
        for i in range(5):
            emu.add_user(2000 + i, f"U{i}")
            await client.send_message(2000 + i, "hi")
        with pytest.raises(TelegramRetryAfter):
            await client.send_message(GROUP, "one too many")

        # a group: 20 in any minute; the 21st waits until the first leaves the window
        emu.global_per_s = 1000
        emu.reset_flood_limits()  # the new global rate applies from now
        clock.now += 100
        for i in range(20):
            await client.send_message(GROUP, f"g{i}")
        with pytest.raises(TelegramRetryAfter) as caught:
            await client.send_message(GROUP, "g20")
        assert caught.value.retry_after == 60
        assert [c.parameters for c in emu.calls if c.status == 429][-1] == {"retry_after": 60}
    finally:
        await client.session.close()
        await emu.stop()


async def test_flood_limits_hold_in_every_sliding_window_not_a_bucket() -> None:
    # 20 messages spread over 38 s: a token bucket of 20 refilling 20/min would have
    # room again at 40 s (about 13 leaked back); a sliding minute has none until the
    # first message is 60 s old, and then room for exactly one.
    clock = Clock()
    emu = TelegramEmulator(token=TOKEN, clock=clock, global_per_s=1000, group_per_min=20)
    await emu.start()
    client = make_bot(emu.url)
    try:
        emu.add_user(ALICE, "Alice")
        emu.add_group(GROUP, "Fire team", members=[ALICE])
        start = clock.now
        for i in range(20):
            clock.now = start + 2 * i
            await client.send_message(GROUP, f"g{i}")
        clock.now = start + 40
        with pytest.raises(TelegramRetryAfter) as caught:
            await client.send_message(GROUP, "early")
        assert caught.value.retry_after == 20  # the first leaves the window at 60 s
        clock.now = start + 59.5
        with pytest.raises(TelegramRetryAfter) as caught:
            await client.send_message(GROUP, "still early")
        assert caught.value.retry_after == 1
        clock.now = start + 60  # exactly 60 s after the first: it no longer counts
        await client.send_message(GROUP, "in time")
        with pytest.raises(TelegramRetryAfter) as caught:
            await client.send_message(GROUP, "one more")
        assert caught.value.retry_after == 2  # the second is 58 s old
        sent = [c for c in emu.calls_to("sendMessage") if c.ok]
        assert len(sent) == 21
        for c in sent:  # no minute holds more than 20
            assert sum(1 for d in sent if c.time - 60 < d.time <= c.time) <= 20

        # the global second is a sliding window too
        emu.global_per_s = 5
        emu.reset_flood_limits()
        clock.now += 1000
        for i in range(5):
            emu.add_user(3000 + i, f"U{i}")
            clock.now += 0.15
            await client.send_message(3000 + i, "hi")
        clock.now += 0.3  # 0.9 s after the first of five
        with pytest.raises(TelegramRetryAfter):
            await client.send_message(ALICE, "sixth")
        clock.now += 0.1
        await client.send_message(ALICE, "a second after the first")
    finally:
        await client.session.close()
        await emu.stop()


async def test_an_album_counts_one_message_per_item_in_a_group() -> None:
    clock = Clock()
    emu = TelegramEmulator(token=TOKEN, clock=clock, global_per_s=1000, group_per_min=20)
    await emu.start()
    client = make_bot(emu.url)
    try:
        emu.add_user(ALICE, "Alice")
        emu.add_group(GROUP, "Fire team", members=[ALICE])
        photos = [InputMediaPhoto(media=BufferedInputFile(png(2, 2), f"{i}.png")) for i in range(9)]
        await client.send_media_group(GROUP, photos)
        await client.send_media_group(GROUP, photos)
        await client.send_message(GROUP, "19")
        with pytest.raises(TelegramRetryAfter):  # 19 counted: an album of two does not fit
            await client.send_media_group(GROUP, photos[:2])
        await client.send_message(GROUP, "20")
        with pytest.raises(TelegramRetryAfter):
            await client.send_message(GROUP, "21")
        clock.now += 60
        await client.send_media_group(GROUP, photos[:2])
    finally:
        await client.session.close()
        await emu.stop()


async def test_injected_faults(bot: Bot, emu: TelegramEmulator) -> None:
    from aiogram.exceptions import TelegramNetworkError, TelegramServerError

    emu.inject_fault("sendMessage", error_code=502, description="Bad Gateway")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(ALICE, "lost")
    assert emu.messages(ALICE) == []

    emu.inject_fault(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 7",
        retry_after=7,
        chat_id=BOB,
    )
    await bot.send_message(ALICE, "other chats are unaffected")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(BOB, "limited")
    assert caught.value.retry_after == 7

    # the message is sent, but the answer never comes back
    emu.inject_fault("sendMessage", disconnect=True, after=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(ALICE, "delivered, unacknowledged")
    assert [m.text for m in emu.messages(ALICE)] == [
        "other chats are unaffected",
        "delivered, unacknowledged",
    ]
    await bot.send_message(ALICE, "and the next call is served")


async def test_blocked_user_is_403(bot: Bot, emu: TelegramEmulator) -> None:
    emu.block(ALICE)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ALICE, "hello?")
    # writing to the bot unblocks it
    await emu.send_message(ALICE, "/start")
    await bot.send_message(ALICE, "hello")

    emu.add_user(3000, "Stranger", started=False)
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(3000, "hello")

    emu.add_group(GROUP, "Fire team")
    emu.block(GROUP)
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "hello")


async def test_migrated_group_answers_migrate_to_chat_id(bot: Bot, emu: TelegramEmulator) -> None:
    emu.add_group(-4001, "Old team", supergroup=False, admins=[ALICE])
    await bot.send_message(-4001, "before")
    emu.migrate_group(-4001, -1004001)
    with pytest.raises(TelegramMigrateToChat) as caught:
        await bot.send_message(-4001, "after")
    assert caught.value.migrate_to_chat_id == -1004001
    assert "group chat was upgraded to a supergroup chat" in caught.value.message
    assert emu.calls[-1].parameters == {"migrate_to_chat_id": -1004001}
    sent = await bot.send_message(-1004001, "after")
    assert sent.chat.type == "supergroup"

    updates = await bot.get_updates()
    service = [u.message for u in updates if u.message]
    assert [(m.chat.id, m.migrate_to_chat_id, m.migrate_from_chat_id) for m in service] == [
        (-4001, -1004001, None),
        (-1004001, None, -4001),
    ]


# ----------------------------------------------------------------------------- chats


async def test_chat_info_members_and_admins(bot: Bot, emu: TelegramEmulator) -> None:
    emu.add_group(GROUP, "Fire team", admins=[ALICE], members=[BOB], bot_is_admin=True)
    chat = await bot.get_chat(GROUP)
    assert (chat.type, chat.title) == ("supergroup", "Fire team")
    private = await bot.get_chat(ALICE)
    assert (private.type, private.first_name, private.username) == ("private", "Alice", "alice")

    assert (await bot.get_chat_member(GROUP, ALICE)).status == "creator"
    assert (await bot.get_chat_member(GROUP, BOB)).status == "member"
    assert (await bot.get_chat_member(GROUP, 123456)).status == "administrator"
    admins = await bot.get_chat_administrators(GROUP)
    assert [a.user.id for a in admins] == [ALICE, 123456]
    with pytest.raises(TelegramBadRequest, match="no administrators in the private chat"):
        await bot.get_chat_administrators(ALICE)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(-999)


async def test_forum_topics(bot: Bot, emu: TelegramEmulator) -> None:
    emu.add_group(GROUP, "Dispatch", forum=True, admins=[ALICE], bot_is_admin=True)
    topic = emu.add_topic(GROUP, "Incidents")
    update = await emu.send_message(ALICE, "/subscribe incidents", chat=GROUP, thread_id=topic)
    message = update["message"]
    assert message["message_thread_id"] == topic
    assert message["is_topic_message"] is True
    assert message["chat"]["is_forum"] is True

    sent = await bot.send_message(GROUP, "subscribed", message_thread_id=topic)
    assert sent.message_thread_id == topic
    assert sent.is_topic_message
    await bot.send_message(GROUP, "general")
    [in_topic] = await emu.wait_for_messages(GROUP, thread_id=topic)
    assert in_topic.text == "subscribed"
    [general] = await emu.wait_for_messages(GROUP)
    assert general.thread_id is None
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(GROUP, "lost", message_thread_id=9999)


async def test_privacy_mode_in_groups(bot: Bot, emu: TelegramEmulator) -> None:
    emu.add_group(GROUP, "Fire team", members=[ALICE])
    await emu.send_message(ALICE, "just chatting", chat=GROUP)
    await emu.send_message(ALICE, "/help@other_bot", chat=GROUP)
    command = await emu.send_message(ALICE, "/online@pttbridge_bot 12", chat=GROUP)
    mention = await emu.send_message(ALICE, "hey @pttbridge_bot", chat=GROUP)
    assert [u["update_id"] for u in emu.pending_updates] == [
        command["update_id"],
        mention["update_id"],
    ]
    assert len(emu.filtered_updates) == 2


async def test_commands_per_scope_and_language(bot: Bot, emu: TelegramEmulator) -> None:
    assert await bot.set_my_commands([BotCommand(command="start", description="Start")])
    assert await bot.set_my_commands(
        [BotCommand(command="online", description="在线")],
        scope=BotCommandScopeAllGroupChats(),
        language_code="zh",
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    zh = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats(), language_code="zh")
    assert [(c.command, c.description) for c in zh] == [("online", "在线")]
    assert await bot.get_my_commands(language_code="en") == []
    assert emu.get_commands({"type": "all_group_chats"}, "zh") == [
        {"command": "online", "description": "在线"}
    ]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Command", description="x")])


# ----------------------------------------------------------------------------- the driver


async def test_driver_message_and_button_press(bot: Bot, emu: TelegramEmulator) -> None:
    await emu.send_message(ALICE, "/groups")
    [update] = await bot.get_updates()
    assert update.message is not None
    reply = await update.message.answer(
        "Groups",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Fire team", callback_data="on1:g:42")]]
        ),
    )
    [shown] = await emu.wait_for_messages(ALICE)
    assert shown.message_id == reply.message_id

    pressed = await emu.press_button(ALICE, shown, "on1:g:42")
    by_text = await emu.press_button(ALICE, shown.message_id, "Fire team")
    assert by_text["callback_query"]["data"] == "on1:g:42"
    with pytest.raises(ValueError, match="no button"):
        await emu.press_button(ALICE, shown, "on1:g:43")
    forged = await emu.press_button(ALICE, shown, "forged", strict=False)
    assert forged["callback_query"]["data"] == "forged"

    updates = await bot.get_updates(offset=update.update_id + 1)
    query = updates[0].callback_query
    assert query is not None
    assert query.id == pressed["callback_query"]["id"]
    assert query.data == "on1:g:42"
    assert query.from_user.id == ALICE
    assert isinstance(query.message, Message)
    assert query.message.message_id == shown.message_id

    assert await query.answer("Loading…")
    [answer] = emu.callback_answers
    assert (answer.text, answer.data, answer.user_id) == ("Loading…", "on1:g:42", ALICE)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await query.answer("again")


async def test_wait_for_messages_times_out_with_what_arrived(
    bot: Bot, emu: TelegramEmulator
) -> None:
    await bot.send_message(ALICE, "only one")
    with pytest.raises(TimeoutError, match="got 1"):
        await emu.wait_for_messages(ALICE, count=2, timeout=0.2)
    [one] = await emu.wait_for_messages(ALICE)
    assert one.text == "only one"
    emu.mark()
    assert emu.pending_messages(ALICE) == []


async def test_listener_sees_sent_edited_deleted(bot: Bot, emu: TelegramEmulator) -> None:
    events: list[tuple[str, int]] = []
    emu.add_listener(lambda event, msg: events.append((event, msg.message_id)))
    sent = await bot.send_message(ALICE, "x")
    await bot.edit_message_text("y", chat_id=ALICE, message_id=sent.message_id)
    await bot.delete_message(ALICE, sent.message_id)
    assert events == [
        ("sent", sent.message_id),
        ("edited", sent.message_id),
        ("deleted", sent.message_id),
    ]


async def test_dispatcher_round_trip(bot: Bot, emu: TelegramEmulator) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        assert message.from_user is not None
        await message.answer(
            f"Hello, <b>{html.escape(message.from_user.first_name)}</b>",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="Ack", callback_data="ack")]]
            ),
        )

    @dp.callback_query(F.data == "ack")
    async def ack(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"Acknowledged by {query.from_user.first_name}")
        await query.answer()

    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        await emu.send_message(ALICE, "/start")
        [hello] = await emu.wait_for_messages(ALICE)
        assert hello.plain_text() == "Hello, Alice"
        await emu.press_button(ALICE, hello, "Ack")
        await emu.wait_for(lambda: hello.edits)
        assert hello.plain_text() == "Acknowledged by Alice"
        assert hello.reply_markup is None  # an edit without reply_markup drops the keyboard
        await emu.wait_for(lambda: emu.callback_answers)
    finally:
        await dp.stop_polling()
        await polling


# ----------------------------------------------------------------------------- the parser


def test_parse_html_entities_and_offsets() -> None:
    text, entities = parse_html('<b>𝄞 <i>x</i></b> <pre><code class="language-go">y</code></pre>')
    assert text == "𝄞 x y"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 3, "length": 1},
        {"type": "pre", "offset": 5, "length": 1, "language": "go"},
    ]
    assert utf16_len("𝄞a") == 3
    assert strip_html("<b>a &amp; b</b> <oops") == "a & b "
    assert strip_html("<b>fine</b> &lt;") == "fine <"
    with pytest.raises(HtmlParseError):
        parse_html("AT&T")
    assert parse_html("AT&T", strict=False)[0] == "AT&T"  # Telegram itself lets a bare & through


@given(st.text())
def test_escaped_text_always_parses_to_itself(text: str) -> None:
    assert parse_html(html.escape(text))[0] == text


@given(st.text(alphabet=st.sampled_from(list("<>/&;#xab =\"'ispanre-"))))
def test_the_parser_only_ever_raises_parse_errors(text: str) -> None:
    for strict in (True, False):
        try:
            visible, entities = parse_html(text, strict=strict)
        except HtmlParseError:
            continue
        total = utf16_len(visible)
        assert all(e["offset"] >= 0 and e["offset"] + e["length"] <= total for e in entities)
