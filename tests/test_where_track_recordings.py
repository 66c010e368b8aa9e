"""/where, /track and /recordings end to end: the Telegram emulator, the sandbox
platform and the bridge in one process (`bot.demo.stack.Stack`).

Expected values come from the sandbox's own WGS-84 world (`sandbox.data`), never
from the bridge's code. The sandbox and the bridge (through its injected clock) both
stand still at the sandbox's fixed now, 2026-11-28 15:00 Asia/Shanghai: fixes, tracks
and recordings hold still while the test runs, "today" is the same day on both sides
whatever the real date and hour, and ages ("1 min ago") agree.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import gpxpy
import pytest
from conftest import SANDBOX_NOW
from PIL import Image

from bot.demo.stack import Stack
from bot.directory import Kind
from bot.platform.coords import wgs84_to_gcj02
from bot.sandbox.data import Recording, TrackPoint, User, local_day_start_ms
from bot.sandbox.platform import MEDIA_DIR, Quirks, SandboxPlatform
from bot.sandbox.telegram import EmuMessage
from bot.telegram.callbacks import PickAction, PickCb, RecPageCb, RecPlayCb, WhereCb

TZ = ZoneInfo("Asia/Shanghai")  # the sandbox's zone and the bridge's default BRIDGE_TIMEZONE
SUPERVISOR_ID = 1002
GAP_MS = 10 * 60_000  # a track stretch ends where fixes are more than 10 min apart
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NEEDS_SUPERVISOR = "This needs the supervisor role."
OUT_MEDIA = ("sendLocation", "sendPhoto", "sendDocument", "sendVoice", "sendAudio")

MakeStack = Callable[..., Awaitable[Stack]]


# ---- helpers --------------------------------------------------------------------------------


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle metres on the IUGG mean sphere (the test's own oracle)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, TZ)


def stretches(times_ms: list[int]) -> list[int]:
    """Lengths of the runs of `times_ms` without a step over 10 min."""
    lengths: list[int] = []
    prev: int | None = None
    for t in times_ms:
        if prev is None or t - prev > GAP_MS:
            lengths.append(0)
        lengths[-1] += 1
        prev = t
    return lengths


def sent(stack: Stack, *methods: str) -> list[str]:
    """Successful Bot API calls of these methods so far."""
    return [c.method for m in methods for c in stack.emu.calls_to(m) if c.ok]


async def forge_press(stack: Stack, who: str, msg: EmuMessage, data: str) -> list[EmuMessage]:
    """Press a button that is not on `msg`, as a forged client could; returns new messages."""
    user = stack.people[who]
    stack.emu.mark(msg.chat_id)
    update = await stack.emu.press_button(user, msg, data, chat=msg.chat_id, strict=False)
    await stack.wait_handled(int(update["update_id"]))
    return stack.emu.pending_messages(msg.chat_id)


def record_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\d+\. \d\d:\d\d:\d\d · ", line)]


def expected_record_line(n: int, r: Recording) -> str:
    if r.duration_ms is None:
        dur = "?"
    else:
        secs = r.duration_ms / 1000
        dur = f"{int(secs // 60)}:{int(secs % 60):02d}"
    return f"{n}. {local(r.begin_ms):%H:%M:%S} · {dur} · {r.group_name or '—'}"


@pytest.fixture
def make_stack(make_bot_stack: MakeStack) -> MakeStack:
    """`await make_stack(coordinates="wgs84", **quirks)`: conftest's stack whose sandbox and
    bridge both stand still at the sandbox's fixed now (the bridge through its injected
    clock: one "today" for both, whatever the real date and hour), speaks `coordinates` and
    has those quirks; the bridge's PLATFORM_COORDINATES says the same. Stopped at teardown."""

    async def make(*, coordinates: str = "wgs84", **quirks: Any) -> Stack:
        sandbox = SandboxPlatform(
            quirks=Quirks(coordinates=coordinates, **quirks), now=lambda: SANDBOX_NOW
        )
        return await make_bot_stack(
            sandbox=sandbox,
            platform_overrides={"coordinates": coordinates},
            clock=lambda: SANDBOX_NOW,
        )

    return make


def yesterday(stack: Stack) -> date:
    return stack.platform.data.today() - timedelta(days=1)


def day_with_two_pages(stack: Stack) -> tuple[User, date, list[Recording]]:
    """A user the supervisor sees and a history day on which they have 11-19 recordings
    (two pages, the second short). The sandbox's days are seeded by date: look widely."""
    data = stack.platform.data
    for uid in (10001, 10002, 10004, 10006, 10003):
        for day in reversed(data.history_days()):
            recs = data.recordings(uid, day)
            if 10 < len(recs) < 20:
                return data.users[uid], day, recs
    pytest.fail("the sandbox has no user-day with 11-19 recordings")


# ---- /where ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coordinates", "tolerance_m"),
    [("wgs84", 0.05), ("gcj02", 5.0)],
    ids=["wgs84", "gcj02-quirk"],
)
async def test_where_user_pin_is_the_true_wgs84_position_with_its_details(
    make_stack: MakeStack, coordinates: str, tolerance_m: float
) -> None:
    stack = await make_stack(coordinates=coordinates)
    user = stack.platform.data.users[10001]
    assert user.fix is not None and user.online

    msgs = await stack.say("supervisor", "/where zhangsan01")

    assert [m.kind for m in msgs] == ["location", "text"]
    pin, details = msgs
    assert pin.location is not None
    lat, lon = pin.location.lat, pin.location.lon
    # Each coordinate on its own: a swapped pair (lat 120.15, lon 30.30) fails here.
    assert lat == pytest.approx(user.fix.lat, abs=tolerance_m / 111_000)
    assert lon == pytest.approx(user.fix.lon, abs=tolerance_m / 96_000)
    assert haversine_m(lat, lon, user.fix.lat, user.fix.lon) <= tolerance_m
    if coordinates == "gcj02":
        # The platform's raw answer is hundreds of metres off: the bridge converted it.
        glat, glon = wgs84_to_gcj02(user.fix.lat, user.fix.lon)
        assert haversine_m(glat, glon, user.fix.lat, user.fix.lon) > 100
    assert pin.location.heading == 90  # the fix's bearing

    assert details.reply_to_message_id == pin.message_id
    text = details.plain_text()
    assert "张三" in text and "zhangsan01" in text
    fix_time = local(user.fix.time_ms).strftime("%H:%M:%S")
    assert f"🕒 {fix_time} (1 min ago)" in text  # the fix is a minute old
    assert "🚗 12 km/h" in text  # 12.5 km/h
    assert "heading E (90°)" in text
    assert "altitude 18 m" in text
    assert "🟢 online" in text
    assert "more than an hour old" not in text


async def test_where_old_fix_says_so(make_stack: MakeStack) -> None:
    stack = await make_stack()
    user = stack.platform.data.users[10003]  # offline, last fix 2 h ago
    assert user.fix is not None

    msgs = await stack.say("supervisor", "/where zhangshan02")

    assert [m.kind for m in msgs] == ["location", "text"]
    assert msgs[0].location is not None
    assert msgs[0].location.lat == pytest.approx(user.fix.lat, abs=1e-7)
    assert msgs[0].location.lon == pytest.approx(user.fix.lon, abs=1e-7)
    text = msgs[1].plain_text()
    assert "(2 h ago)" in text
    assert "This position is more than an hour old." in text
    assert "⚪ offline" in text


async def test_where_user_without_a_fix_gets_an_answer_and_no_pin(make_stack: MakeStack) -> None:
    stack = await make_stack()
    assert stack.platform.data.users[10005].fix is None

    msgs = await stack.say("supervisor", "/where wangwu01")

    assert [m.kind for m in msgs] == ["text"]
    assert msgs[0].plain_text() == "王五 (wangwu01) has no position on the platform yet."
    assert sent(stack, "sendLocation") == []
    assert stack.platform.requests_to("/location/getLatestCoords")  # it did ask


async def test_where_group_lists_members_newest_first_and_buttons_send_pins(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    data = stack.platform.data
    members = data.members(1004)  # 特勤行动组, which holds 王五 who never had a fix
    located = {u.account: u for u in members if u.fix is not None}
    unlocated = [u for u in members if u.fix is None]
    assert unlocated and len(located) >= 2

    msgs = await stack.say("supervisor", "/where 1004")

    assert len(msgs) == 1 and msgs[0].kind == "text"
    assert sent(stack, "sendLocation") == []
    text = msgs[0].plain_text()
    head, _, tail = text.partition("\n\n")
    assert f"{len(located)} of {len(members)} members located" in head
    listed: list[User] = []
    seconds: list[int] = []  # the platform sends 2.4 times to the second
    for line in head.splitlines()[1:]:
        dot, name, account = line.split(" · ")[0].split(" ")
        u = located[account]
        assert u.fix is not None
        assert name == u.name
        assert dot == ("🟢" if u.online else "⚪")
        assert line.endswith("⚠️") == (data.now_ms() - u.fix.time_ms > 3_600_000), line
        listed.append(u)
        seconds.append(u.fix.time_ms // 1000)
    assert {u.account for u in listed} == set(located)
    assert seconds == sorted(seconds, reverse=True), "not newest first"
    assert "has no position" in tail
    for u in unlocated:
        assert f"{u.name} {u.account}" in tail
        assert f"📍 {u.name}" not in [t for t, _ in msgs[0].buttons()]

    assert [t for t, _ in msgs[0].buttons()] == [f"📍 {u.name}" for u in listed]
    # The last button (the oldest fix): its member's pin, in WGS-84.
    target = listed[-1]
    out = await stack.press("supervisor", msgs[0], len(listed) - 1)
    assert [m.kind for m in out] == ["location", "text"]
    assert out[0].location is not None and target.fix is not None
    assert out[0].location.lat == pytest.approx(target.fix.lat, abs=1e-7)
    assert out[0].location.lon == pytest.approx(target.fix.lon, abs=1e-7)
    assert f"{target.name} {target.account}" in out[1].plain_text()


# ---- /track ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "coordinates"),
    [("ms", "wgs84"), ("s", "wgs84"), ("s", "gcj02")],
    ids=["ms", "seconds", "seconds-gcj02"],
)
async def test_track_summary_png_and_gpx_carry_the_whole_track(
    make_stack: MakeStack, unit: str, coordinates: str
) -> None:
    stack = await make_stack(coordinates=coordinates, track_time_unit=unit)
    day = yesterday(stack)
    start_ms = local_day_start_ms(day) + 6 * 3_600_000
    end_ms = start_ms + 12 * 3_600_000
    truth = stack.platform.data.track(10001, start_ms, end_ms)
    # The times the platform sends: whole seconds under the "s" quirk.
    sent_ms = [p.time_ms // 1000 * 1000 if unit == "s" else p.time_ms for p in truth]
    segs = stretches(sent_ms)
    assert len(truth) > 100 and len(segs) > 1, "the window should hold several stretches"

    msgs = await stack.say("supervisor", f"/track zhangsan01 {day} 06:00 {day} 18:00")

    request = stack.platform.requests_to("/location/trackPlayback")[-1].json
    assert (request["startTimestamp"], request["endTimestamp"]) == (start_ms, end_ms)
    assert [m.kind for m in msgs] == ["photo", "document"]
    photo, doc = msgs

    # The summary, against numbers computed here from the sandbox's WGS-84 points.
    caption = photo.plain_text()
    gps = sum(1 for p in truth if p.position_type == 0)
    assert (
        f"{len(truth)} points ({round(gps * 100 / len(truth))}% GPS) in {len(segs)} stretches"
        in caption
    )
    metres = sum(
        haversine_m(a.lat, a.lon, b.lat, b.lon)
        for (a, ta), (b, tb) in itertools.pairwise(zip(truth, sent_ms, strict=True))
        if tb - ta <= GAP_MS  # never the straight line across a gap
    )
    km = re.search(r"📏 (\d+\.\d\d) km", caption)
    assert km is not None
    assert float(km[1]) >= 0
    assert float(km[1]) == pytest.approx(metres / 1000, abs=0.011)
    fmt = "%Y-%m-%d %H:%M"
    assert (
        f"First fix {local(truth[0].time_ms):{fmt}}, last {local(truth[-1].time_ms):{fmt}}"
        in caption
    )
    assert re.search(r"🚗 max \d+ km/h, average \d+ km/h", caption)

    # A real PNG.
    assert photo.file is not None and photo.file.data is not None
    assert photo.file.data.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(photo.file.data)) as img:
        assert img.format == "PNG"
        assert img.size[0] > 100 and img.size[1] > 100
        img.verify()

    # The GPX: every point, the stretches as segments, UTC times, WGS-84.
    assert doc.file is not None and doc.file.data is not None
    assert doc.file.filename is not None and doc.file.filename.endswith(".gpx")
    assert f"all {len(truth)} points" in doc.plain_text()
    xml = doc.file.data.decode()
    assert "+08:00" not in xml
    gpx = gpxpy.parse(xml)
    assert gpx.version == "1.1"
    assert len(gpx.tracks) == 1
    assert [len(s.points) for s in gpx.tracks[0].segments] == segs
    points = [p for s in gpx.tracks[0].segments for p in s.points]
    assert len(points) == len(truth)
    tolerance = 5.0 if coordinates == "gcj02" else 0.05
    for got, want, ms in zip(points, truth, sent_ms, strict=True):
        assert got.time is not None and got.time.utcoffset() == timedelta(0)
        assert got.time == datetime.fromtimestamp(ms / 1000, UTC)
        assert got.latitude == pytest.approx(want.lat, abs=tolerance / 111_000)
        assert got.longitude == pytest.approx(want.lon, abs=tolerance / 96_000)
        assert haversine_m(got.latitude, got.longitude, want.lat, want.lon) <= tolerance
        if want.altitude is None:
            assert got.elevation is None
        else:
            assert got.elevation == pytest.approx(want.altitude, abs=0.05)


async def test_track_bad_ranges_get_a_usage_line(make_stack: MakeStack) -> None:
    stack = await make_stack()
    cases = {
        "-1h -2h": "The start must be before the end.",
        "-8d": "That is longer than 7 days",
        f"{yesterday(stack)} 10:00 {yesterday(stack)} 09:00": "The start must be before the end.",
        "banana": "“banana” is not a time I understand.",
        "25:00": "“25:00” is not a time I understand.",
    }
    for args, why in cases.items():
        msgs = await stack.say("supervisor", f"/track zhangsan01 {args}")
        assert [m.kind for m in msgs] == ["text"], args
        text = msgs[0].plain_text()
        assert why in text, (args, text)
        assert "Usage: /track <user> [from] [to]" in text, args
    assert stack.platform.requests_to("/location/trackPlayback") == []
    assert sent(stack, *OUT_MEDIA) == []


async def test_track_without_points_says_so(make_stack: MakeStack) -> None:
    stack = await make_stack()
    data = stack.platform.data
    msgs = await stack.say("supervisor", "/track wangwu01 -6h")
    assert [m.plain_text() for m in msgs] == ["No track points for 王五 in that time."]

    # A tracked user, inside a pause between two patrols.
    points = data.track(10001, local_day_start_ms(yesterday(stack)), data.now_ms())
    a, b = next((a, b) for a, b in itertools.pairwise(points) if b.time_ms - a.time_ms > GAP_MS)
    t0_ms, t1_ms = (a.time_ms // 1000 + 2) * 1000, (b.time_ms // 1000 - 2) * 1000
    assert data.track(10001, t0_ms, t1_ms) == []
    t0, t1 = local(t0_ms), local(t1_ms)
    msgs = await stack.say(
        "supervisor", f"/track zhangsan01 {t0:%Y-%m-%d %H:%M:%S} {t1:%Y-%m-%d %H:%M:%S}"
    )
    assert [m.plain_text() for m in msgs] == ["No track points for 张三 in that time."]
    assert len(stack.platform.requests_to("/location/trackPlayback")) == 2  # it did ask
    assert sent(stack, *OUT_MEDIA) == []


async def test_track_of_one_point_sends_a_pin_instead_of_a_picture(make_stack: MakeStack) -> None:
    stack = await make_stack()
    data = stack.platform.data
    day = yesterday(stack)
    points = data.track(10001, local_day_start_ms(day), local_day_start_ms(day) + 86_400_000)
    p: TrackPoint = points[len(points) // 2]
    second = p.time_ms // 1000 * 1000
    assert data.track(10001, second, second + 1000) == [p]  # fixes are 30-60 s apart
    t0, t1 = local(second), local(second + 1000)

    msgs = await stack.say(
        "supervisor", f"/track zhangsan01 {t0:%Y-%m-%d %H:%M:%S} {t1:%Y-%m-%d %H:%M:%S}"
    )

    assert [m.kind for m in msgs] == ["location", "text"]
    assert msgs[0].location is not None
    assert msgs[0].location.lat == pytest.approx(p.lat, abs=1e-7)
    assert msgs[0].location.lon == pytest.approx(p.lon, abs=1e-7)
    text = msgs[1].plain_text()
    assert "one point" in text and "Only one point in that time" in text
    assert sent(stack, "sendPhoto", "sendDocument") == []


async def test_track_with_an_ambiguous_name_keeps_the_range_for_the_choice(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    msgs = await stack.say("supervisor", "/track zs -2h")
    assert len(msgs) == 1
    texts = [t for t, _ in msgs[0].buttons()]
    accounts = [m[1] for t in texts if (m := re.search(r"\((\w+)\)$", t))]
    assert sorted(accounts) == ["zhangsan01", "zhangshan01", "zhangshan02"]
    assert stack.platform.requests_to("/location/trackPlayback") == []

    choice = next(i for i, t in enumerate(texts) if "zhangsan01" in t)
    out = await stack.press("supervisor", msgs[0], choice)

    requests = stack.platform.requests_to("/location/trackPlayback")
    assert len(requests) == 1
    body = requests[0].json
    assert body["uids"] == [10001]
    assert body["endTimestamp"] - body["startTimestamp"] == pytest.approx(2 * 3_600_000, abs=1)
    shown = [m for m in out if m.from_bot and m.message_id != msgs[0].message_id]
    assert shown, "the choice ran nothing"
    text = shown[0].plain_text()
    assert "张三" in text
    if shown[0].kind == "photo":  # the window's points, else "no points"
        start = local(body["startTimestamp"]).strftime("%Y-%m-%d %H:%M")
        assert f"🗓 {start} – " in text


# ---- /recordings ----------------------------------------------------------------------------


async def test_recordings_pages_newest_first_and_play_the_file_itself(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    user, day, recs = day_with_two_pages(stack)
    recs = sorted(recs, key=lambda r: r.begin_ms, reverse=True)  # newest first

    msgs = await stack.say("supervisor", f"/recordings {user.account} {day}")

    assert len(msgs) == 1
    listing = msgs[0]
    text = listing.plain_text()
    assert f"{user.name} {user.account} — {day}, page 1" in text
    assert record_lines(text) == [expected_record_line(i + 1, r) for i, r in enumerate(recs[:10])]
    assert [t for t, _ in listing.buttons()] == [f"▶ {i}" for i in range(1, 11)] + ["▶▶"]

    # ▶▶ edits the same message into page 2, which has ◀ and no ▶▶ (it is the last).
    out = await stack.press("supervisor", listing, "▶▶")
    assert out and out[0].message_id == listing.message_id
    page2 = stack.emu.message(listing.chat_id, listing.message_id)
    assert len(page2.edits) == 1
    text2 = page2.plain_text()
    assert f"{day}, page 2" in text2
    assert record_lines(text2) == [expected_record_line(i + 1, r) for i, r in enumerate(recs[10:])]
    buttons2 = [t for t, _ in page2.buttons()]
    assert "◀" in buttons2 and "▶▶" not in buttons2

    # ▶ n on page 2 sends that recording (page 2's, not page 1's) as a voice message.
    idx = next(i for i, r in enumerate(recs[10:]) if not r.lost)
    rec = recs[10 + idx]
    out = await stack.press("supervisor", page2, f"▶ {idx + 1}")
    voices = [m for m in out if m.kind == "voice"]
    assert len(voices) == 1, [m.render() for m in out]
    voice = voices[0]
    assert voice.file is not None
    assert voice.file.data == (MEDIA_DIR / rec.file).read_bytes()
    caption = voice.plain_text()
    assert user.name in caption and f"{local(rec.begin_ms):%Y-%m-%d %H:%M:%S}" in caption
    assert (rec.group_name or "—") in caption

    # ◀ goes back to page 1, editing the message again.
    out = await stack.press("supervisor", page2, "◀")
    page1 = stack.emu.message(listing.chat_id, listing.message_id)
    assert len(page1.edits) == 2
    assert record_lines(page1.plain_text()) == record_lines(text)


@pytest.mark.parametrize("total_as_pages", [False, True], ids=["total-records", "total-pages"])
async def test_recordings_offer_a_next_page_only_when_there_is_one(
    make_stack: MakeStack, total_as_pages: bool
) -> None:
    """A day of exactly 10 recordings is one page without ▶▶; a day of exactly 11 is two,
    whichever way the platform means 2.6 `total` (pages or records)."""
    stack = await make_stack(audio_total_as_pages=total_as_pages)
    data = stack.platform.data
    past = [d for d in data.history_days() if d < data.today()]
    user, ten_day, eleven_day = next(
        (data.users[uid], a, b)
        for uid in (10001, 10002, 10004, 10006, 10003)
        for a, b in itertools.pairwise(reversed(past))
        if len(data.recordings(uid, a)) >= 11 and len(data.recordings(uid, b)) >= 11
    )
    # The sandbox draws 3-25 recordings a day: keep the newest 10 and 11 of those two days.
    data._recordings[(user.id, ten_day)] = data.recordings(user.id, ten_day)[:10]
    data._recordings[(user.id, eleven_day)] = data.recordings(user.id, eleven_day)[:11]
    assert len(data.recordings(user.id, ten_day)) == 10
    assert len(data.recordings(user.id, eleven_day)) == 11

    ten = (await stack.say("supervisor", f"/recordings {user.account} {ten_day}"))[0]
    assert len(record_lines(ten.plain_text())) == 10
    assert [t for t, _ in ten.buttons()] == [f"▶ {i}" for i in range(1, 11)]

    eleven = (await stack.say("supervisor", f"/recordings {user.account} {eleven_day}"))[0]
    assert len(record_lines(eleven.plain_text())) == 10
    assert [t for t, _ in eleven.buttons()] == [f"▶ {i}" for i in range(1, 11)] + ["▶▶"]
    await stack.press("supervisor", eleven, "▶▶")
    page2 = stack.emu.message(eleven.chat_id, eleven.message_id)
    assert f"{eleven_day}, page 2" in page2.plain_text()
    newest_11th = data.recordings(user.id, eleven_day)[10]
    assert record_lines(page2.plain_text()) == [expected_record_line(1, newest_11th)]
    assert [t for t, _ in page2.buttons()] == ["▶ 1", "◀"]
    # Only the ambiguous total (exactly 10 records, or 1 page that is full) costs a look
    # at the next page; a clear total costs nothing more.
    asked = len(stack.platform.requests_to("/ptt/audioRecord"))
    assert asked == (3 if total_as_pages else 4)


async def test_recordings_dead_file_gets_a_clear_message(make_stack: MakeStack) -> None:
    stack = await make_stack()
    data = stack.platform.data
    found = next(
        (
            (uid, day, i, r)
            for uid in (10001, 10002, 10003, 10004, 10006)
            for day in data.history_days()
            for i, r in enumerate(data.recordings(uid, day))
            if r.lost and i < 10
        ),
        None,
    )
    assert found is not None, "the sandbox loses about 1 recording in 20"
    uid, day, idx, rec = found
    assert rec.file not in {p.name for p in MEDIA_DIR.iterdir()}

    msgs = await stack.say("supervisor", f"/recordings {data.users[uid].account} {day}")
    out = await stack.press("supervisor", msgs[0], f"▶ {idx + 1}")

    assert [m.plain_text() for m in out] == [
        "The recording's file is gone from the platform (HTTP 404)."
    ]
    assert sent(stack, "sendVoice", "sendAudio", "sendDocument") == []
    assert stack.bridge is not None
    entry = (await stack.bridge.audit.latest(1))[0]
    assert (entry.actor_id, entry.action, entry.target, entry.result) == (
        SUPERVISOR_ID,
        "recording-play",
        str(uid),
        "dead",
    )


async def test_recordings_too_big_get_a_link_and_unreachable_a_retry_hint(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    assert stack.bridge is not None and stack.bridge.media is not None
    user, day, recs = day_with_two_pages(stack)
    idx = next(i for i, r in enumerate(recs[:10]) if not r.lost)
    rec = recs[idx]
    listing = (await stack.say("supervisor", f"/recordings {user.account} {day}"))[0]

    stack.platform.fail_next(f"/media/{rec.file}", "http502")
    out = await stack.press("supervisor", listing, f"▶ {idx + 1}")
    assert [m.plain_text() for m in out] == [
        "Could not download the recording right now (HTTP 502). Please try again."
    ]

    # Telegram's 50 MB upload limit, scaled down: a link to the file instead.
    stack.bridge.media.limit = 1000
    out = await stack.press("supervisor", listing, f"▶ {idx + 1}")
    assert len(out) == 1 and out[0].kind == "text"
    text = out[0].plain_text()
    assert f"{local(rec.begin_ms):%Y-%m-%d %H:%M:%S}" in text
    assert "larger than Telegram allows" in text
    assert f"{stack.platform.url}/media/{rec.file}" in text
    assert sent(stack, "sendVoice", "sendAudio", "sendDocument") == []
    results = [e.result for e in await stack.bridge.audit.latest(2)]
    assert results == ["too_big", "unreachable"]


def todays_recordings(stack: Stack, uid: int, count: int) -> list[Recording]:
    """Give user `uid` `count` recordings today, the newest 31 s ago (the sandbox lists
    only those at least 30 s old), one minute apart, newest first."""
    data = stack.platform.data
    user, now_ms = data.users[uid], data.now_ms()
    start = local_day_start_ms(data.today())
    recs = [
        Recording(
            user_id=uid,
            account=user.account,
            begin_ms=max(start, now_ms - 31_000 - k * 60_000),
            duration_ms=5_000 + k,
            group_name=None,
            file="recording-zh.ogg",
        )
        for k in range(count)
    ]
    data._recordings[(uid, data.today())] = recs
    return recs


async def test_recordings_still_being_produced_today_are_edited_in(make_stack: MakeStack) -> None:
    stack = await make_stack(recordings_delay_polls=2)
    assert stack.bridge is not None
    stack.bridge.timings.recording_retry_s = 0.01
    user = stack.platform.data.users[10001]
    recs = todays_recordings(stack, user.id, 11)
    today = stack.platform.data.today()

    msgs = await stack.say("supervisor", f"/recordings {user.account}")

    assert len(msgs) == 1
    waiting = msgs[0]
    assert waiting.plain_text() == (
        f"No recordings of {user.name} on {today} yet. The platform may still be producing "
        "them: I will look again in about 10 s."
    )
    assert waiting.buttons() == []
    current = await stack.emu.wait_for(
        lambda: (m := stack.emu.message(waiting.chat_id, waiting.message_id)).edits and m
    )
    assert len(current.edits) == 1
    assert f"{today}, page 1" in current.plain_text()
    assert record_lines(current.plain_text()) == [
        expected_record_line(i + 1, r) for i, r in enumerate(recs[:10])
    ]
    assert [t for t, _ in current.buttons()][-1] == "▶▶"
    # The command's query and the first retry answered empty; the second found them.
    assert len(stack.platform.requests_to("/ptt/audioRecord")) == 3


def spy_spawn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What the bridge starts in the background from now on (a retry would sleep an hour)."""
    bridge = stack.bridge
    assert bridge is not None
    bridge.timings.recording_retry_s = 3600
    spawned: list[object] = []
    original = bridge.background.spawn

    def spawn(coro: Any) -> Any:
        spawned.append(coro)
        return original(coro)

    monkeypatch.setattr(bridge.background, "spawn", spawn)
    return spawned


async def test_recordings_of_a_past_day_without_any_are_not_looked_for_again(
    make_stack: MakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The platform still answers "nothing" twice: a past day is told at once all the same.
    stack = await make_stack(recordings_delay_polls=2)
    spawned = spy_spawn(stack, monkeypatch)
    day = yesterday(stack)

    msgs = await stack.say("supervisor", f"/recordings wangwu01 {day}")

    assert [m.plain_text() for m in msgs] == [f"No recordings of 王五 on {day}."]
    assert msgs[0].buttons() == [] and msgs[0].edits == []
    assert spawned == []
    assert len(stack.platform.requests_to("/ptt/audioRecord")) == 1


async def test_recordings_of_a_future_day_are_refused_in_words(
    make_stack: MakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await make_stack()
    spawned = spy_spawn(stack, monkeypatch)
    tomorrow = stack.platform.data.today() + timedelta(days=1)

    for typed in (tomorrow.isoformat(), "2099-01-01"):
        msgs = await stack.say("supervisor", f"/recordings zhangsan01 {typed}")
        assert [m.plain_text() for m in msgs] == [
            f"{typed} is in the future: there are no recordings of it yet."
        ]
    assert spawned == []
    assert stack.platform.requests_to("/ptt/audioRecord") == []


async def test_recordings_never_produced_end_in_no_recordings(make_stack: MakeStack) -> None:
    stack = await make_stack()
    assert stack.bridge is not None
    stack.bridge.timings.recording_retry_s = 0.01
    today = stack.platform.data.today()
    assert stack.platform.data.recordings(10005, today) == []

    msgs = await stack.say("supervisor", "/recordings wangwu01")

    waiting = msgs[0]
    assert "may still be producing" in waiting.plain_text()
    current = await stack.emu.wait_for(
        lambda: (m := stack.emu.message(waiting.chat_id, waiting.message_id)).edits and m
    )
    assert current.plain_text() == f"No recordings of 王五 on {today}."
    assert current.buttons() == []
    assert len(stack.platform.requests_to("/ptt/audioRecord")) == 1 + 3


# ---- access and audit -----------------------------------------------------------------------


async def test_viewers_cannot_locate_track_or_listen(make_stack: MakeStack) -> None:
    stack = await make_stack()
    for command in ("/where zhangsan01", "/track zhangsan01 -2h", "/recordings zhangsan01"):
        msgs = await stack.say("viewer", command)
        assert [m.plain_text() for m in msgs] == [NEEDS_SUPERVISOR], command
    # Nor by pressing buttons a supervisor would have.
    msg = msgs[0]
    day = int(f"{stack.platform.data.today():%Y%m%d}")
    for data in (
        WhereCb(uid=10001).pack(),
        RecPlayCb(uid=10001, day=day, page=1, idx=0).pack(),
        PickCb(action=PickAction.TRACK, kind=Kind.USER, id=10001).pack(),
    ):
        await forge_press(stack, "viewer", msg, data)
    assert sent(stack, *OUT_MEDIA) == []
    for path in ("/location/getLatestCoords", "/location/trackPlayback", "/ptt/audioRecord"):
        assert stack.platform.requests_to(path) == [], path
    assert stack.bridge is not None
    assert [e for e in await stack.bridge.audit.latest(50) if e.actor_id == 1003] == []


async def test_out_of_scope_user_is_not_found_for_a_scoped_supervisor(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()  # "scoped" supervises org 266; 张山 10003 is in org 267
    assert stack.platform.data.users[10003].org_id == 267
    replies = {
        "/where zhangshan02": "Nothing matches “zhangshan02”.",
        "/where 10003": "Nothing matches “10003”.",
        "/track zhangshan02 -2h": "No user matches “zhangshan02”.",
        "/recordings zhangshan02": "No user matches “zhangshan02”.",
    }
    for command, reply in replies.items():
        msgs = await stack.say("scoped", command)
        assert [m.plain_text() for m in msgs] == [reply], command
    msg = msgs[0]
    day = int(f"{yesterday(stack):%Y%m%d}")
    out = await forge_press(stack, "scoped", msg, WhereCb(uid=10003).pack())
    assert [m.plain_text() for m in out] == ["No user matches “10003”."]
    out = await forge_press(
        stack, "scoped", msg, PickCb(action=PickAction.TRACK, kind=Kind.USER, id=10003).pack()
    )
    assert [m.plain_text() for m in out] == ["No user matches “10003”."]
    for data in (
        RecPlayCb(uid=10003, day=day, page=1, idx=0).pack(),
        RecPageCb(uid=10003, day=day, page=2).pack(),
    ):
        assert await forge_press(stack, "scoped", msg, data) == []
    assert sent(stack, *OUT_MEDIA) == []
    for path in ("/location/trackPlayback", "/ptt/audioRecord"):
        assert stack.platform.requests_to(path) == [], path
    assert stack.bridge is not None
    assert [e for e in await stack.bridge.audit.latest(50) if e.target == "10003"] == []

    # Inside the scope the same supervisor gets the pin: the test above is not vacuous.
    msgs = await stack.say("scoped", "/where zhangsan01")
    assert [m.kind for m in msgs] == ["location", "text"]


async def test_where_track_and_playback_are_audited(make_stack: MakeStack) -> None:
    stack = await make_stack()
    assert stack.bridge is not None
    audit = stack.bridge.audit

    await stack.say("supervisor", "/where zhangsan01")
    entry = (await audit.latest(1))[0]
    assert (entry.actor_id, entry.action, entry.target, entry.result) == (
        SUPERVISOR_ID,
        "where",
        "10001",
        "fix",
    )
    assert entry.args["name"] == "张三"

    await stack.say("supervisor", "/where wangwu01")
    entry = (await audit.latest(1))[0]
    assert (entry.actor_id, entry.action, entry.target, entry.result) == (
        SUPERVISOR_ID,
        "where",
        "10005",
        "no fix",
    )

    day = yesterday(stack)
    start_ms = local_day_start_ms(day) + 8 * 3_600_000
    n = len(stack.platform.data.track(10002, start_ms, start_ms + 3_600_000))
    await stack.say("supervisor", f"/track zhangshan01 {day} 08:00 {day} 09:00")
    entry = (await audit.latest(1))[0]
    assert (entry.actor_id, entry.action, entry.target, entry.result) == (
        SUPERVISOR_ID,
        "track",
        "10002",
        f"{n} points",
    )
    assert datetime.fromisoformat(entry.args["from"]) == local(start_ms)
    assert datetime.fromisoformat(entry.args["to"]) == local(start_ms + 3_600_000)

    user, day, recs = day_with_two_pages(stack)
    idx = next(i for i, r in enumerate(recs[:10]) if not r.lost)
    msgs = await stack.say("supervisor", f"/recordings {user.account} {day}")
    out = await stack.press("supervisor", msgs[0], f"▶ {idx + 1}")
    assert [m.kind for m in out] == ["voice"]
    entry = (await audit.latest(1))[0]
    assert (entry.actor_id, entry.action, entry.target, entry.result) == (
        SUPERVISOR_ID,
        "recording-play",
        str(user.id),
        "sent",
    )
    assert datetime.fromisoformat(entry.args["begin"]) == local(recs[idx].begin_ms)


async def test_names_with_html_characters_come_through_as_typed(make_stack: MakeStack) -> None:
    stack = await make_stack()
    data = stack.platform.data
    tricky = data.users[10004]
    assert tricky.name == "李<b>&四"
    shown = "李<b>&四 tricky"

    msgs = await stack.say("supervisor", "/where tricky")
    assert [m.kind for m in msgs] == ["location", "text"]
    assert msgs[1].plain_text().startswith(f"📍 {shown}\n")

    msgs = await stack.say("supervisor", "/where 1003")
    assert f"{shown} · " in msgs[0].plain_text()
    assert "📍 李<b>&四" in [t for t, _ in msgs[0].buttons()]

    day = yesterday(stack)
    msgs = await stack.say("supervisor", f"/track tricky {day} 08:00 {day} 12:00")
    assert [m.kind for m in msgs] == ["photo", "document"]
    assert msgs[0].plain_text().startswith(f"🛰 {shown}\n")

    day, idx = next(
        (d, i)
        for d in reversed(data.history_days())
        for i, r in enumerate(data.recordings(10004, d)[:10])
        if not r.lost
    )
    msgs = await stack.say("supervisor", f"/recordings tricky {day}")
    assert msgs[0].plain_text().startswith(f"🎙 {shown} — {day}, page 1")
    out = await stack.press("supervisor", msgs[0], f"▶ {idx + 1}")
    assert [m.kind for m in out] == ["voice"]
    assert out[0].plain_text().startswith("🎙 李<b>&四 (tricky) · ")


async def test_a_choice_does_not_inherit_the_range_of_an_earlier_command(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    msgs = await stack.say("supervisor", "/track zs -2h")
    await stack.press("supervisor", msgs[0], 0)

    msgs = await stack.say("supervisor", "/track zs")  # no range: the last 24 h
    await stack.press("supervisor", msgs[0], 0)

    body = stack.platform.requests_to("/location/trackPlayback")[-1].json
    assert body["endTimestamp"] - body["startTimestamp"] == pytest.approx(24 * 3_600_000, abs=1)
