"""/near end to end: the Telegram emulator (a shared location, a reply to it), the sandbox
platform and the bridge in one process.

Expected values come from the sandbox's own WGS-84 world (`stack.platform.data`) and a
haversine of the test's own; the sandbox and the bridge stand still at the sandbox's
fixed now, so fix ages agree on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import SANDBOX_NOW

import bot.platform.client
from bot.demo.stack import Stack
from bot.i18n import Translator
from bot.render.near import distance_text
from bot.sandbox.data import User
from bot.sandbox.data.paths import haversine_m  # the sandbox's own, not the bridge's
from bot.sandbox.platform import Quirks, SandboxPlatform
from bot.sandbox.telegram import EmuMessage

MakeStack = Callable[..., Awaitable[Stack]]
COORDS = "/location/getLatestCoords"
LINE = re.compile(r"^(\d+)\. (\S+) (\S+) · ([\d.]+) (m|km|米|公里) · (.+)$")


@pytest.fixture
def make_stack(make_bot_stack: MakeStack) -> MakeStack:
    """conftest's stack whose sandbox and bridge stand still at the sandbox's fixed now."""

    async def make(*, coordinates: str = "wgs84", language: str = "en", **quirks: Any) -> Stack:
        sandbox = SandboxPlatform(
            quirks=Quirks(coordinates=coordinates, **quirks), now=lambda: SANDBOX_NOW
        )
        return await make_bot_stack(
            sandbox=sandbox,
            platform_overrides={"coordinates": coordinates},
            clock=lambda: SANDBOX_NOW,
            language=language,
        )

    return make


def online_by_distance(
    stack: Stack, lat: float, lon: float, *, orgs: set[int] | None = None, skip: int = 0
) -> list[tuple[User, float]]:
    """The sandbox's online users with a fix (in `orgs`), nearest to (lat, lon) first."""
    found = [
        (u, haversine_m((lat, lon), (u.fix.lat, u.fix.lon)))
        for u in stack.platform.data.users.values()
        if u.online and u.fix is not None and u.id != skip and (orgs is None or u.org_id in orgs)
    ]
    # As shown: to the metre, then the fresher fix first (张珊 and 赵六 stand as far from
    # 张三 to the metre, east and west of him).
    return sorted(found, key=lambda p: (round(p[1]), -fix_ms(p[0]), p[0].id))


def fix_ms(u: User) -> int:
    assert u.fix is not None
    return u.fix.time_ms


def listed(msg: EmuMessage) -> list[tuple[str, str, float]]:
    """(name, account, metres as shown) of each numbered line of a /near answer."""
    out: list[tuple[str, str, float]] = []
    for line in msg.plain_text().splitlines():
        m = LINE.match(line)
        if m is not None:
            value = float(m[4]) * (1000 if m[5] in ("km", "公里") else 1)
            out.append((m[2], m[3], value))
    return out


def assert_same_list(
    shown: list[tuple[str, str, float]], expected: list[tuple[User, float]]
) -> None:
    assert [(name, account) for name, account, _ in shown] == [
        (u.name, u.account) for u, _ in expected
    ]
    for (_, _, metres), (_, true_m) in zip(shown, expected, strict=True):
        # shown to the metre under 1 km, to 100 m under 10 km, to the km beyond
        step = 1 if true_m < 999.5 else 100 if true_m < 9950 else 1000
        assert abs(metres - true_m) <= step / 2 + 0.01, (metres, true_m)


async def share_and_reply(
    stack: Stack, who: str, lat: float, lon: float, text: str
) -> list[EmuMessage]:
    """`who` shares a location with the bot, then replies to it with `text`."""
    shared, _ = await stack.share_location(who, lat, lon)
    return await stack.say(who, text, reply_to=shared)


async def test_reply_to_a_shared_location_lists_online_members_nearest_first(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    data = stack.platform.data
    here = data.users[10001].fix  # 张三, online
    assert here is not None
    lat, lon = here.lat + 0.001, here.lon  # ~111 m north of him
    expected = [p for p in online_by_distance(stack, lat, lon) if p[1] <= 5000][:10]
    assert len(expected) >= 2
    calls = len(stack.platform.requests_to(COORDS))

    [msg] = await share_and_reply(stack, "supervisor", lat, lon, "/near")

    text = msg.plain_text()
    assert text.splitlines()[0] == (
        f"{len(expected)} members online within 5 km of the shared location, nearest first:"
    )
    assert_same_list(listed(msg), expected)
    assert "· 111 m ·" in text  # 张三, first
    offline = [u for u in data.users.values() if not u.online and u.fix is not None]
    assert offline and not any(u.account in text for u in offline)
    assert len(stack.platform.requests_to(COORDS)) == calls + 1  # one 2.4 call for all
    # The 📍 buttons are /where's: the first sends 张三's pin.
    assert [b for b, _ in msg.buttons()] == [f"📍 {u.name}" for u, _ in expected]
    out = await stack.press("supervisor", msg, 0)
    assert out[0].kind == "location" and out[0].location is not None
    assert out[0].location.lat == pytest.approx(here.lat, abs=1e-7)
    assert out[0].location.lon == pytest.approx(here.lon, abs=1e-7)


async def test_nobody_within_the_radius_names_the_nearest_beyond(make_stack: MakeStack) -> None:
    stack = await make_stack()
    nearest, metres = online_by_distance(stack, 30.0, 120.0)[0]
    assert metres > 100

    [msg] = await stack.say("supervisor", "/near 30.0, 120.0 100m")

    lines = msg.plain_text().splitlines()
    assert lines[0] == "Nobody online within 100 m of 30.00000, 120.00000."
    assert lines[1].startswith(f"Nearest beyond it: {nearest.name} ({nearest.account}) · ")
    assert f"{metres / 1000:.0f} km" in lines[1] or f"{metres / 1000:.1f} km" in lines[1]
    assert [b for b, _ in msg.buttons()] == [f"📍 {nearest.name}"]


async def test_near_a_user_is_near_their_last_fix_without_them(make_stack: MakeStack) -> None:
    stack = await make_stack()
    zs = stack.platform.data.users[10001]
    assert zs.fix is not None
    expected = [
        p for p in online_by_distance(stack, zs.fix.lat, zs.fix.lon, skip=zs.id) if p[1] <= 3000
    ][:10]
    assert expected

    [msg] = await stack.say("supervisor", "/near zhangsan01 3km")

    assert (
        msg.plain_text()
        .splitlines()[0]
        .endswith(f"within 3 km of {zs.name} ({zs.account}), nearest first:")
    )
    assert_same_list(listed(msg), expected)


async def test_a_scoped_supervisor_sees_only_their_subtree(make_stack: MakeStack) -> None:
    stack = await make_stack()
    data = stack.platform.data
    subtree = data.org_subtree(266)
    outside = data.users[10004]  # 李<b>&四, org 267: online, with a fix
    assert outside.org_id not in subtree and outside.online and outside.fix is not None
    lat, lon = outside.fix.lat, outside.fix.lon
    expected = [p for p in online_by_distance(stack, lat, lon, orgs=subtree) if p[1] <= 50_000]

    [msg] = await share_and_reply(stack, "scoped", lat, lon, "/near 50km")

    assert_same_list(listed(msg), expected[:10])
    assert outside.account not in msg.plain_text()
    [refused] = await stack.say("scoped", "/near tricky")
    assert refused.plain_text() == "No user matches “tricky”."


async def test_gcj02_fixes_are_converted_before_measuring(make_stack: MakeStack) -> None:
    stack = await make_stack(coordinates="gcj02")
    zs = stack.platform.data.users[10001]
    assert zs.fix is not None

    [msg] = await stack.say("supervisor", f"/near {zs.fix.lat:.6f},{zs.fix.lon:.6f} 50m")

    name, account, metres = listed(msg)[0]
    assert (name, account) == (zs.name, zs.account)
    assert metres <= 5  # unconverted, he would be hundreds of metres away


async def test_a_large_scope_is_asked_in_batches(
    make_stack: MakeStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The platform refuses more than 7 uids per 2.4 call; /near asks 7 at a time.
    monkeypatch.setattr(bot.platform.client, "FIXES_PER_CALL", 7)
    stack = await make_stack(coords_max_uids=7)
    zs = stack.platform.data.users[10001]
    assert zs.fix is not None
    expected = [p for p in online_by_distance(stack, zs.fix.lat, zs.fix.lon) if p[1] <= 5000]
    calls = len(stack.platform.requests_to(COORDS))

    [msg] = await stack.say("supervisor", f"/near {zs.fix.lat:.6f},{zs.fix.lon:.6f}")

    assert_same_list(listed(msg), expected[:10])
    asked = stack.platform.requests_to(COORDS)[calls:]
    users = len(stack.platform.data.users)
    assert len(asked) == -(-users // 7)
    assert all(len(r.json["uids"]) <= 7 for r in asked)


@pytest.mark.parametrize(
    ("typed", "first_line"),
    [
        ("/near", None),
        ("/near 30.2,120.1 500km", "The radius must be between 10 m and 50 km (got “500km”)."),
        ("/near 91,120", "“91,120” is off the map: latitude within ±90, longitude within ±180"),
        ("/near 30.2,120.1 far", "“far” is not a radius I understand."),
        ("/near zhangsan01 0m", "The radius must be between 10 m and 50 km (got “0m”)."),
        ("/near nobody-like-this", "No user matches “nobody-like-this”."),
    ],
)
async def test_bad_input_gets_a_short_answer_and_asks_nothing(
    make_stack: MakeStack, typed: str, first_line: str | None
) -> None:
    stack = await make_stack()
    calls = len(stack.platform.requests_to(COORDS))

    [msg] = await stack.say("supervisor", typed)

    lines = msg.plain_text().splitlines()
    if first_line is None:
        assert lines[0].startswith("Usage: reply to a shared location with /near [radius]")
    else:
        assert lines[0].startswith(first_line)
    assert len(lines) <= 2
    assert len(stack.platform.requests_to(COORDS)) == calls


async def test_a_shared_location_with_a_bad_radius_and_a_viewer_refused(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    [msg] = await share_and_reply(stack, "supervisor", 30.27, 120.15, "/near 1,500m")
    assert msg.plain_text().startswith("“1,500m” is not a radius I understand.")
    calls = len(stack.platform.requests_to(COORDS))
    [refused] = await stack.say("viewer", "/near 30.27,120.15")
    # Refused by the role filter (the catch-all answers): nothing asked, nothing listed.
    assert "within" not in refused.plain_text() and not listed(refused)
    assert len(stack.platform.requests_to(COORDS)) == calls


async def test_chinese_units(make_stack: MakeStack) -> None:
    stack = await make_stack(language="zh")
    zs = stack.platform.data.users[10001]
    assert zs.fix is not None

    [msg] = await stack.say("supervisor", f"/near {zs.fix.lat + 0.001:.6f},{zs.fix.lon:.6f} 20公里")

    text = msg.plain_text()
    assert "20 公里" in text.splitlines()[0]
    assert "· 111 米 ·" in text
    assert "km" not in text and " m " not in text


async def test_in_a_group_a_reply_to_a_location_answers_and_its_pins_are_the_askers(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    group = stack.add_group(-100_1501, "Duty room")
    zs = stack.platform.data.users[10001]
    assert zs.fix is not None
    # Under privacy mode the bot never sees the location, only the command replying to it.
    shared, seen = await stack.share_location("supervisor", zs.fix.lat, zs.fix.lon, chat=group)
    assert seen == []

    [msg] = await stack.say("supervisor", "/near 20m", chat=group, reply_to=shared)

    assert listed(msg)[0][:2] == (zs.name, zs.account)
    answers = len(stack.emu.callback_answers)
    assert await stack.press("admin", msg, 0) == []  # someone else's request: refused
    assert stack.emu.callback_answers[answers].text == (
        "This button answers whoever asked for it: send the command yourself."
    )
    out = await stack.press("supervisor", msg, 0)
    assert out and out[0].kind == "location"


@pytest.mark.parametrize(
    ("metres", "en", "zh"),
    [
        (0.4, "0 m", "0 米"),
        (999.4, "999 m", "999 米"),
        (999.6, "1 km", "1 公里"),
        (1540, "1.5 km", "1.5 公里"),
        (9960, "10 km", "10 公里"),
        (12_345, "12 km", "12 公里"),
    ],
)
def test_distances_are_shown_in_metres_then_kilometres(metres: float, en: str, zh: str) -> None:
    assert distance_text(Translator.load("en").get("en"), metres) == en
    assert distance_text(Translator.load("zh").get("zh"), metres) == zh


@pytest.mark.parametrize(
    ("metres", "radius", "en"),
    [
        (2040, 2000, "2040 m"),  # "nobody within 2 km; nearest: 2 km" would contradict itself
        (2350, 2000, "2.4 km"),  # reads as beyond already
        (1000.4, 1000, "1001 m"),
    ],
)
def test_the_nearest_beyond_the_radius_never_reads_as_inside_it(
    metres: float, radius: float, en: str
) -> None:
    assert distance_text(Translator.load("en").get("en"), metres, beyond=radius) == en


async def test_a_location_shared_on_its_own_says_what_it_is_good_for(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    _, out = await stack.share_location("supervisor", 30.2950, 120.1520)
    assert [m.plain_text() for m in out] == [
        "Reply to this location with /near (who is nearest) or /fence add <name> <radius> "
        "(a geofence here)."
    ]
    _, out = await stack.share_location("viewer", 30.2950, 120.1520)  # neither is theirs
    assert [m.plain_text() for m in out] == ["Send /help to see what I can do."]
