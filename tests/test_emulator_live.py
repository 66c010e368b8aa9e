"""Live locations in the Telegram emulator (issue 15 point 6): sendLocation with live_period,
editMessageLiveLocation and stopMessageLiveLocation with Telegram's rules, judged by the
emulator's clock; locations users share (and replies to them); the console's /share."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiohttp import ClientSession
from conftest import Clock

from bot.demo.console import Console, parse_place
from bot.sandbox.telegram import LIVE_FOREVER, NOT_MODIFIED, TelegramEmulator

TOKEN = "123456:TEST-token"
ALICE = 1001
GROUP = -100500
FOREVER = 0x7FFFFFFF  # Telegram's number, written out: the constant must be it
STOP = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Stop", callback_data="stop")]]
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def emu(clock: Clock) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(token=TOKEN, clock=clock, flood_limits=False) as emulator:
        emulator.add_user(ALICE, "Alice", language_code="en", username="alice")
        emulator.add_group(GROUP, "Fire team", members=[ALICE])
        yield emulator


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    client = Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(emu.url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    try:
        yield client
    finally:
        await client.session.close()


async def live(bot: Bot, chat: int = GROUP, period: int = 1800, **kw: Any) -> Message:
    return await bot.send_location(chat, 30.27, 120.15, live_period=period, **kw)


async def move(bot: Bot, sent: Message, lat: float, lon: float, **kw: Any) -> Message | bool:
    return await bot.edit_message_live_location(
        latitude=lat, longitude=lon, chat_id=sent.chat.id, message_id=sent.message_id, **kw
    )


# ----------------------------------------------------------------------------- sending


async def test_a_live_location_is_sent_with_its_period_heading_and_date(
    bot: Bot, emu: TelegramEmulator, clock: Clock
) -> None:
    sent = await live(bot, heading=45, horizontal_accuracy=12.5, proximity_alert_radius=300)
    assert sent.location is not None
    assert (sent.location.live_period, sent.location.heading) == (1800, 45)
    assert sent.location.proximity_alert_radius == 300
    msg = emu.message(GROUP, sent.message_id)
    assert msg.live_since == clock.now
    assert msg.date == sent.date.timestamp()
    assert msg.location is not None and (msg.location.lat, msg.location.lon) == (30.27, 120.15)
    assert emu.live_status(GROUP, sent.message_id) == "live"
    assert msg.render() == "[live location 30.27, 120.15 · 30 min]"
    static = await bot.send_location(GROUP, 30.0, 120.0)
    assert emu.live_status(GROUP, static.message_id) == "static"
    assert LIVE_FOREVER == FOREVER
    forever = await live(bot, period=FOREVER)
    assert forever.location is not None and forever.location.live_period == FOREVER
    assert emu.message(GROUP, forever.message_id).render().endswith("· indefinitely]")


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"live_period": 59}, "wrong live period specified"),
        ({"live_period": 86401}, "wrong live period specified"),
        ({"live_period": 600, "heading": 0}, "wrong heading specified"),
        ({"live_period": 600, "heading": 361}, "wrong heading specified"),
        ({"live_period": 600, "horizontal_accuracy": 1500.5}, "wrong horizontal accuracy"),
        ({"live_period": 600, "proximity_alert_radius": 0}, "wrong proximity alert radius"),
        ({"live_period": 600, "proximity_alert_radius": 100001}, "wrong proximity alert radius"),
    ],
)
async def test_sending_refuses_what_telegram_refuses(
    bot: Bot, emu: TelegramEmulator, kw: dict[str, Any], words: str
) -> None:
    with pytest.raises(TelegramBadRequest, match=words):
        await bot.send_location(GROUP, 30.27, 120.15, **kw)
    assert emu.messages(GROUP) == []


# ----------------------------------------------------------------------------- editing


async def test_edits_move_it_and_the_driver_reads_every_position(
    bot: Bot, emu: TelegramEmulator
) -> None:
    sent = await live(bot, reply_markup=STOP)
    edited = await move(bot, sent, 30.28, 120.16, heading=90, reply_markup=STOP)
    assert isinstance(edited, Message) and edited.location is not None
    assert (edited.location.latitude, edited.location.heading) == (30.28, 90)
    assert edited.location.live_period == 1800  # none given: unchanged
    assert edited.edit_date is not None
    await move(bot, sent, 30.29, 120.17, horizontal_accuracy=8)
    positions = emu.live_positions(GROUP, sent.message_id)
    assert [(p.lat, p.lon, p.heading) for p in positions] == [
        (30.27, 120.15, None),
        (30.28, 120.16, 90),
        (30.29, 120.17, None),
    ]
    msg = emu.message(GROUP, sent.message_id)
    assert [e.method for e in msg.edits] == ["editMessageLiveLocation"] * 2
    assert msg.reply_markup is None  # the last edit gave no keyboard: it is removed
    assert [c.method for c in emu.calls if c.ok] == [
        "sendLocation",
        "editMessageLiveLocation",
        "editMessageLiveLocation",
    ]


async def test_an_identical_edit_is_not_modified(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await live(bot, heading=10, reply_markup=STOP)
    with pytest.raises(TelegramBadRequest) as caught:
        await move(bot, sent, 30.27, 120.15, heading=10, reply_markup=STOP)
    assert caught.value.message == f"Bad Request: {NOT_MODIFIED}"
    assert NOT_MODIFIED.startswith("message is not modified: ")
    # the same place with another heading, or without the keyboard, is an edit
    await move(bot, sent, 30.27, 120.15, heading=11, reply_markup=STOP)
    await move(bot, sent, 30.27, 120.15, heading=11)
    assert len(emu.live_positions(GROUP, sent.message_id)) == 3


async def test_no_edit_after_the_period_by_the_emulators_clock(
    bot: Bot, emu: TelegramEmulator, clock: Clock
) -> None:
    sent = await live(bot, period=60)
    clock.advance(59.5)
    await move(bot, sent, 30.28, 120.15)
    clock.advance(0.5)  # 60 s after it was sent: over
    assert emu.live_status(GROUP, sent.message_id) == "ended"
    with pytest.raises(TelegramBadRequest) as caught:
        await move(bot, sent, 30.29, 120.15)
    assert caught.value.message == "Bad Request: message can't be edited"
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.stop_message_live_location(chat_id=GROUP, message_id=sent.message_id)
    forever = await live(bot, period=FOREVER)
    clock.advance(10 * 86400)
    await move(bot, forever, 30.3, 120.2)
    assert emu.live_status(GROUP, forever.message_id) == "live"


async def test_an_edit_may_change_the_period_as_bot_api_7_allows(
    bot: Bot, emu: TelegramEmulator, clock: Clock
) -> None:
    sent = await live(bot, period=600)
    clock.advance(500)
    edited = await move(bot, sent, 30.28, 120.15, live_period=1200)  # from the send date
    assert isinstance(edited, Message) and edited.location is not None
    assert edited.location.live_period == 1200
    clock.advance(650)  # 1150 s after sending: still live under the new period
    await move(bot, sent, 30.29, 120.15)
    for period in (1100, 1200 + 86401):  # over already / more than a day longer
        with pytest.raises(TelegramBadRequest, match="wrong live period specified"):
            await move(bot, sent, 30.3, 120.15, live_period=period)
    await move(bot, sent, 30.3, 120.15, live_period=FOREVER)
    clock.advance(86400)
    assert emu.live_status(GROUP, sent.message_id) == "live"


async def test_edits_that_cannot_be(bot: Bot, emu: TelegramEmulator) -> None:
    static = await bot.send_location(GROUP, 30.0, 120.0)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await move(bot, static, 30.1, 120.0)
    text = await bot.send_message(GROUP, "hello")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await move(bot, text, 30.1, 120.0)
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.edit_message_live_location(
            latitude=1.0, longitude=1.0, chat_id=GROUP, message_id=9999
        )
    assert caught.value.message == "Bad Request: message to edit not found"
    await emu.send_location(ALICE, 30.0, 120.0, chat=GROUP, live_period=600)
    theirs = emu.history(GROUP)[-1]
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_live_location(
            latitude=1.0, longitude=1.0, chat_id=GROUP, message_id=theirs.message_id
        )
    with pytest.raises(TelegramBadRequest, match="MESSAGE_ID_INVALID"):
        await bot.edit_message_live_location(
            latitude=1.0, longitude=1.0, inline_message_id="AgAAAbCdEf"
        )
    sent = await live(bot)
    with pytest.raises(TelegramBadRequest, match="wrong heading specified"):
        await move(bot, sent, 30.3, 120.15, heading=400)
    assert emu.live_positions(GROUP, sent.message_id)[-1].lat == 30.27


# ----------------------------------------------------------------------------- stopping


async def test_stop_ends_it_and_twice_is_an_error(bot: Bot, emu: TelegramEmulator) -> None:
    sent = await live(bot, reply_markup=STOP)
    await move(bot, sent, 30.28, 120.16, reply_markup=STOP)
    stopped = await bot.stop_message_live_location(chat_id=GROUP, message_id=sent.message_id)
    assert isinstance(stopped, Message) and stopped.location is not None
    assert (stopped.location.latitude, stopped.location.longitude) == (30.28, 120.16)
    assert stopped.reply_markup is None  # no keyboard given: the Stop button goes
    assert emu.live_status(GROUP, sent.message_id) == "stopped"
    assert emu.message(GROUP, sent.message_id).render() == "[live location 30.28, 120.16]"
    with pytest.raises(TelegramBadRequest) as caught:
        await move(bot, sent, 30.29, 120.17)
    assert caught.value.message == "Bad Request: message can't be edited"
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.stop_message_live_location(chat_id=GROUP, message_id=sent.message_id)
    assert len(emu.live_positions(GROUP, sent.message_id)) == 2
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.stop_message_live_location(chat_id=GROUP, message_id=4242)


async def test_live_edits_and_stops_count_against_the_group_budget(clock: Clock) -> None:
    emu = TelegramEmulator(token=TOKEN, clock=clock, global_per_s=1000, group_per_min=20)
    await emu.start()
    emu.add_group(GROUP, "Fire team")
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emu.url)))
    try:
        sent = await live(bot)
        for i in range(17):
            await move(bot, sent, 30.27 + (i + 1) / 1000, 120.15)
        await bot.send_message(GROUP, "incident")  # the 19th in this minute
        await bot.stop_message_live_location(chat_id=GROUP, message_id=sent.message_id)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(GROUP, "the 21st")
        assert caught.value.retry_after == 60
        clock.advance(60)
        again = await live(bot)
        with pytest.raises(TelegramBadRequest, match=NOT_MODIFIED[:24]):
            await move(bot, again, 30.27, 120.15)  # refused before it is counted
        for i in range(19):
            await move(bot, again, 31 + i / 1000, 120.15)
        with pytest.raises(TelegramRetryAfter):
            await move(bot, again, 32.0, 120.15)
    finally:
        await bot.session.close()
        await emu.stop()


# ----------------------------------------------------------------------------- users' locations


async def test_a_user_shares_a_location_and_replies_to_it(emu: TelegramEmulator) -> None:
    async with ClientSession() as http:
        shared = await emu.send_location(ALICE, 30.27, 120.15, chat=GROUP)
        assert shared["update_id"] == 0  # privacy mode: the bot does not see a bare location
        message_id = shared["message"]["message_id"]
        assert shared["message"]["location"] == {"latitude": 30.27, "longitude": 120.15}
        reply = await emu.send_message(ALICE, "/fence add depot 300m", GROUP, reply_to=message_id)
        async with http.post(f"{emu.url}/bot{TOKEN}/getUpdates") as resp:
            updates = (await resp.json())["result"]
    assert [u["update_id"] for u in updates] == [reply["update_id"]]
    message = updates[0]["message"]
    assert message["text"] == "/fence add depot 300m"
    assert message["entities"][0]["type"] == "bot_command"
    assert message["reply_to_message"]["location"] == {"latitude": 30.27, "longitude": 120.15}
    assert message["reply_to_message"]["from"]["id"] == ALICE


async def test_a_users_live_location_moves_as_edited_messages(
    emu: TelegramEmulator, clock: Clock
) -> None:
    shared = await emu.send_location(ALICE, 30.27, 120.15, live_period=900, heading=30)
    assert shared["message"]["location"]["live_period"] == 900
    message_id = shared["message"]["message_id"]
    moved = await emu.move_location(ALICE, message_id, 30.28, 120.16, heading=40)
    edited = moved["edited_message"]
    assert edited["message_id"] == message_id
    assert edited["location"] == {
        "latitude": 30.28,
        "longitude": 120.16,
        "live_period": 900,
        "heading": 40,
    }
    assert [p.lat for p in emu.live_positions(ALICE, message_id)] == [30.27, 30.28]
    clock.advance(900)
    assert emu.live_status(ALICE, message_id) == "ended"
    with pytest.raises(ValueError, match="no live location"):
        await emu.move_location(ALICE, 9999, 1.0, 1.0)


# ----------------------------------------------------------------------------- the console


def take(screen: io.StringIO) -> str:
    """What the console printed since the last take."""
    text = screen.getvalue()
    screen.seek(0)
    screen.truncate()
    return text


async def test_the_console_shares_and_shows_live_locations(bot: Bot, emu: TelegramEmulator) -> None:
    screen = io.StringIO()
    console = Console(emu, {"admin": emu.user(ALICE)}, who="admin", out=screen, echo=True)
    try:
        await console.handle("/share 30.27, 120.15")
        shared = emu.history(ALICE)[-1]
        assert not shared.from_bot and shared.location is not None
        assert (shared.location.lat, shared.location.lon) == (30.27, 120.15)
        assert emu.pending_updates[-1]["message"]["location"]["latitude"] == 30.27
        await console.handle("/reply /near 2km")
        reply = emu.pending_updates[-1]["message"]
        assert reply["reply_to_message"]["message_id"] == shared.message_id
        for bad in ("/share", "/share 30.27", "/share 95,120", "/share north,east"):
            await console.handle(bad)
            assert "(usage: /share <lat>,<lon>" in screen.getvalue(), bad
        assert len(emu.history(ALICE)) == 2  # nothing more was sent
        take(screen)

        sent = await live(bot, chat=ALICE, reply_markup=STOP)
        assert "🤖 [live location 30.27, 120.15 · 30 min]\n   [Stop]" in take(screen)
        await move(bot, sent, 30.2812, 120.15, reply_markup=STOP)
        assert take(screen).startswith("🤖 (moved) [live location 30.2812, 120.15 · 30 min]")
        await bot.stop_message_live_location(chat_id=ALICE, message_id=sent.message_id)
        assert take(screen) == "🤖 (stopped) [live location 30.2812, 120.15]\n\n"
        await bot.send_message(ALICE, "text")
        await bot.edit_message_text("text 2", chat_id=ALICE, message_id=sent.message_id + 1)
        assert "🤖 (edited) text 2" in take(screen)
    finally:
        console.close()


def test_parse_place() -> None:
    assert parse_place("30.27,120.15") == (30.27, 120.15)
    assert parse_place("-33.9, 18.4") == (-33.9, 18.4)
    for bad in ("", "30.27", "30.27;120.15", "91,0", "0,181", "nan,1", "1,2,3"):
        assert parse_place(bad) is None, bad
