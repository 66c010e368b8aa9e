"""Opening the map from chat (issue 16): the 🗺 buttons under /where, /online and /follow, the
private chat's menu button, /help's line, and the initData the console signs — end to end
through the Telegram emulator, the sandbox platform and the bridge on 127.0.0.1."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import SANDBOX_NOW, Clock

from bot.config import Settings
from bot.demo.console import Console
from bot.demo.stack import BOT_TOKEN, MAP_PUBLIC_URL, Stack
from bot.sandbox.data.model import Fix
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.telegram import EmuMessage
from bot.webapp.auth import AuthError, init_data_of, sign_init_data
from bot.webapp.links import MapLinks, MapMenu, MapTarget, map_launch_url
from storage.roles import Role

MakeStack = Callable[..., Awaitable[Stack]]
PUBLIC = "https://bridge.example.com"
GROUP_CHAT = -100555
ZHANGSAN, GROUP = 10001, 1002  # 张三 zhangsan01; a talk group of his
NOW = SANDBOX_NOW.astimezone(UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def make_stack(make_bot_stack: MakeStack, clock: Clock) -> Callable[..., Awaitable[Stack]]:
    async def make(public_url: str | None = PUBLIC, **bridge: Any) -> Stack:
        overrides = {**bridge, **({"public_url": public_url} if public_url else {})}
        stack = await make_bot_stack(
            sandbox=SandboxPlatform(now=clock), clock=clock, bridge_overrides=overrides
        )
        ms = int(clock.now.timestamp() * 1000)
        stack.platform.data.users[ZHANGSAN].fix = Fix(30.27, 120.15, ms, speed=10.0, bearing=90.0)
        stack.add_group(GROUP_CHAT, "Map team", admins=("admin", "supervisor"))
        return stack

    return make


def map_buttons(msgs: list[EmuMessage]) -> list[dict[str, Any]]:
    return [b for m in msgs for b in m.inline_buttons() if b.get("text") in ("🗺 Map", "🗺 地图")]


def one_map_button(msgs: list[EmuMessage]) -> dict[str, Any]:
    found = map_buttons(msgs)
    assert len(found) == 1, [m.render() for m in msgs]
    return found[0]


# -- the links, as plain values ---------------------------------------------------------


def test_links_in_private_and_group_chats() -> None:
    links = MapLinks(PUBLIC + "/", None, "pttbridge_bot")
    group = MapTarget("group", 12)
    assert links.for_private(group) == f"{PUBLIC}/app/?group=12"
    assert links.for_private(MapTarget("user", 456)) == f"{PUBLIC}/app/?user=456"
    assert links.for_group(group) == "https://t.me/pttbridge_bot?startapp=g12"
    assert links.for_group(MapTarget("org", 7)) == "https://t.me/pttbridge_bot?startapp=o7"
    named = MapLinks(PUBLIC, "teammap", "pttbridge_bot")
    assert named.for_group(MapTarget("user", 3)) == "https://t.me/pttbridge_bot/teammap?startapp=u3"
    off = MapLinks(None, "teammap", "pttbridge_bot")
    assert off.page is None and off.for_private(group) is None and off.for_group(group) is None
    assert off.open_in("private", group) is None and off.open_in("group", group) is None
    opened = links.open_in("supergroup", group)
    assert opened is not None and not opened.web_app


def test_a_start_param_reads_back_as_its_target() -> None:
    for target in (MapTarget("group", 12), MapTarget("user", 456), MapTarget("org", 7)):
        assert MapTarget.of_start_param(target.start_param) == target
    for param in (None, "", "g", "x1", "g12a", "g-1", "g１２", "g" + "1" * 16):
        assert MapTarget.of_start_param(param) is None, param


def test_links_follow_the_settings() -> None:
    settings = Settings.load(
        None,
        telegram={"bot_token": BOT_TOKEN},
        platform={"base_url": "http://127.0.0.1:9", "token": "x", "callback_token": "y"},
        bridge={"public_url": PUBLIC, "map_app": "teammap"},
    )
    links = MapLinks.of(settings.bridge, "b0t")
    assert links.page == f"{PUBLIC}/app/"
    assert links.for_group(MapTarget("group", 1)) == "https://t.me/b0t/teammap?startapp=g1"


# -- the signer -------------------------------------------------------------------------


def test_signed_init_data_is_accepted_by_the_checker() -> None:
    user = {"id": 1002, "first_name": "Supervisor", "last_name": "孙", "language_code": "zh"}
    data = sign_init_data(BOT_TOKEN, user, auth_date=NOW, start_param="g1002")
    checked = init_data_of(f"tma {data}", BOT_TOKEN, NOW + timedelta(hours=1))
    assert checked.user is not None and checked.user.id == 1002
    assert checked.user.last_name == "孙" and checked.start_param == "g1002"
    assert data.isascii()
    with pytest.raises(AuthError, match="not signed"):
        init_data_of(f"tma {data}", "654321:another-bot", NOW)
    with pytest.raises(AuthError, match="expired"):
        init_data_of(f"tma {data}", BOT_TOKEN, NOW + timedelta(days=2))
    tampered = data.replace("1002", "1001", 1)
    with pytest.raises(AuthError):
        init_data_of(f"tma {tampered}", BOT_TOKEN, NOW)
    with pytest.raises(ValueError, match="first_name"):
        sign_init_data(BOT_TOKEN, {"id": 1}, auth_date=NOW)


def test_launch_url_carries_init_data_in_the_fragment() -> None:
    user = {"id": 1003, "is_bot": False, "first_name": "Viewer"}
    url = map_launch_url(
        "http://127.0.0.1:8080/app/", BOT_TOKEN, user, auth_date=NOW, query="group=5"
    )
    parts = urlsplit(url)
    assert parts.path == "/app/" and parts.query == "group=5"
    fragment = {k: v[0] for k, v in parse_qs(parts.fragment).items()}
    theme = json.loads(fragment["tgWebAppThemeParams"])
    assert theme["bg_color"].startswith("#")
    checked = init_data_of(f"tma {fragment['tgWebAppData']}", BOT_TOKEN, NOW)
    assert checked.user is not None and checked.user.id == 1003
    assert checked.user.is_bot is None  # a WebAppUser as Telegram sends it


# -- the 🗺 buttons, through the emulator ------------------------------------------------


async def test_where_and_online_buttons_in_private_open_the_mini_app(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    pin_and_details = await stack.say("supervisor", f"/where {ZHANGSAN}")
    assert pin_and_details[0].kind == "location"
    button = one_map_button(pin_and_details)
    assert button["web_app"] == {"url": f"{PUBLIC}/app/?user={ZHANGSAN}"}
    assert "url" not in button

    group_fixes = await stack.say("supervisor", f"/where {GROUP}")
    assert one_map_button(group_fixes)["web_app"]["url"] == f"{PUBLIC}/app/?group={GROUP}"
    assert any(b.get("callback_data") for b in group_fixes[-1].inline_buttons())  # the 📍 ones

    online = await stack.say("viewer", f"/online {GROUP}")  # a viewer sees presence on it
    buttons = online[-1].inline_buttons()
    assert "callback_data" in buttons[0]  # Refresh stays first
    assert buttons[-1]["web_app"]["url"] == f"{PUBLIC}/app/?group={GROUP}"
    user = stack.platform.data.users[ZHANGSAN]
    user.online = not user.online  # so that Refresh edits the message
    [refreshed] = await stack.press("viewer", online[-1], 0)
    assert refreshed.edits and one_map_button([refreshed])["web_app"]["url"].endswith(f"={GROUP}")


async def test_group_chats_get_a_t_me_link(make_stack: MakeStack) -> None:
    stack = await make_stack(map_app="teammap")
    msgs = await stack.say("supervisor", f"/online {GROUP}", chat=GROUP_CHAT)
    button = one_map_button(msgs)
    assert "web_app" not in button  # Telegram refuses web_app buttons in groups
    assert button["url"] == f"https://t.me/pttbridge_bot/teammap?startapp=g{GROUP}"
    pin_and_details = await stack.say("supervisor", f"/where {ZHANGSAN}", chat=GROUP_CHAT)
    assert one_map_button(pin_and_details)["url"].endswith(f"?startapp=u{ZHANGSAN}")


async def test_group_link_without_an_app_name_opens_the_main_mini_app(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    msgs = await stack.say("supervisor", f"/where {GROUP}", chat=GROUP_CHAT)
    assert one_map_button(msgs)["url"] == f"https://t.me/pttbridge_bot?startapp=g{GROUP}"


async def test_follow_answers_carry_the_button(make_stack: MakeStack) -> None:
    stack = await make_stack()
    user = await stack.say("supervisor", "/follow zhangsan01 30m")
    header = one_map_button(user)
    assert header["web_app"]["url"] == f"{PUBLIC}/app/?user={ZHANGSAN}"
    assert [m.kind for m in user] == ["text", "text", "location"]
    assert "zhangsan" not in user[0].plain_text()  # the header names him: 张三
    assert any(b.get("text") == "⏹ Stop" for b in user[1].inline_buttons())
    group = await stack.say("supervisor", f"/follow {GROUP} 30m", chat=GROUP_CHAT)
    assert one_map_button(group)["url"].endswith(f"?startapp=g{GROUP}")


async def test_no_buttons_and_no_menu_when_the_map_is_off(make_stack: MakeStack) -> None:
    stack = await make_stack(public_url=None)
    msgs = await stack.say("supervisor", f"/where {ZHANGSAN}")
    msgs += await stack.say("viewer", f"/online {GROUP}")
    msgs += await stack.say("supervisor", "/follow zhangsan01 30m")
    assert msgs and not map_buttons(msgs)
    assert [m.kind for m in msgs[-2:]] == ["text", "location"]  # no header for a user
    await stack.say("supervisor", "/help")
    assert stack.emu.menu_button(1002) == {"type": "commands"}


# -- the menu button and /help ----------------------------------------------------------


def menu_calls(stack: Stack, chat_id: int) -> list[dict[str, Any]]:
    return [
        c.params
        for c in stack.emu.calls
        if c.method == "setChatMenuButton" and c.params.get("chat_id") == chat_id
    ]


async def test_supervisors_get_the_menu_button_viewers_the_default(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack()
    supervisor, viewer = stack.people["supervisor"].id, stack.people["viewer"].id
    await stack.say("supervisor", "/start")
    assert stack.emu.menu_button(supervisor) == {
        "type": "web_app",
        "text": "🗺 Map",
        "web_app": {"url": f"{PUBLIC}/app/"},
    }
    await stack.say("supervisor", "/help")
    assert len(menu_calls(stack, supervisor)) == 1  # once per run while nothing changed

    await stack.say("viewer", "/help")
    assert stack.emu.menu_button(viewer) == {"type": "commands"}
    assert menu_calls(stack, viewer) and menu_calls(stack, viewer)[-1]["menu_button"] == {
        "type": "default"
    }

    # The role is taken away: the next /help takes the button away too.
    assert stack.bridge is not None
    await stack.bridge.roles.set(supervisor, Role.VIEWER, None, None)
    await stack.say("supervisor", "/help")
    assert stack.emu.menu_button(supervisor) == {"type": "commands"}
    assert len(menu_calls(stack, supervisor)) == 2

    # Not in groups: the menu button is a private chat's.
    before = len([c for c in stack.emu.calls if c.method == "setChatMenuButton"])
    await stack.say("admin", "/help", chat=GROUP_CHAT)
    assert len([c for c in stack.emu.calls if c.method == "setChatMenuButton"]) == before


async def test_menu_text_follows_the_language(make_stack: MakeStack) -> None:
    stack = await make_stack()
    admin = stack.people["admin"].id
    await stack.say("admin", "/lang zh")
    await stack.say("admin", "/help")
    assert stack.emu.menu_button(admin)["text"] == "🗺 地图"
    await stack.say("admin", "/lang en")
    await stack.say("admin", "/help")
    assert stack.emu.menu_button(admin)["text"] == "🗺 Map"


async def test_help_tells_how_to_open_the_map(make_stack: MakeStack) -> None:
    stack = await make_stack()
    [supervisor] = await stack.say("supervisor", "/help")
    assert "menu button “🗺 Map”" in supervisor.plain_text()
    [viewer] = await stack.say("viewer", "/help")
    assert "🗺 button under /online" in viewer.plain_text()
    assert "menu button" not in viewer.plain_text()
    [in_group] = await stack.say("supervisor", "/help", chat=GROUP_CHAT)
    assert "under /where, /online and /follow" in in_group.plain_text()
    assert "menu button" not in in_group.plain_text()
    [stranger] = await stack.say("stranger", "/help")
    assert "map" not in stranger.plain_text().lower()


async def test_help_says_the_map_is_off_to_supervisors_only(make_stack: MakeStack) -> None:
    stack = await make_stack(public_url=None)
    [supervisor] = await stack.say("supervisor", "/help")
    assert "The map is off until the operator sets BRIDGE_PUBLIC_URL" in supervisor.plain_text()
    [viewer] = await stack.say("viewer", "/help")
    assert "map" not in viewer.plain_text().lower()


# -- the emulator refuses what Telegram refuses ------------------------------------------


async def test_emulator_refuses_web_app_buttons_in_groups_and_http_menus(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack(public_url=None)
    markup = {"inline_keyboard": [[{"text": "m", "web_app": {"url": f"{PUBLIC}/app/"}}]]}
    async with httpx.AsyncClient(base_url=f"{stack.emu.url}/bot{BOT_TOKEN}") as client:
        group = await client.post(
            "/sendMessage",
            json={"chat_id": GROUP_CHAT, "text": "x", "reply_markup": markup},
        )
        private = await client.post(
            "/sendMessage",
            json={"chat_id": 1002, "text": "x", "reply_markup": markup},
        )
        plain_http = await client.post(
            "/setChatMenuButton",
            json={
                "chat_id": 1002,
                "menu_button": {"type": "web_app", "text": "m", "web_app": {"url": "http://x/"}},
            },
        )
        in_group = await client.post(
            "/setChatMenuButton",
            json={"chat_id": GROUP_CHAT, "menu_button": {"type": "commands"}},
        )
        shown = await client.post("/getChatMenuButton", json={"chat_id": 1002})
    assert group.status_code == 400 and "BUTTON_TYPE_INVALID" in group.json()["description"]
    assert private.status_code == 200
    assert plain_http.status_code == 400
    assert in_group.status_code == 400
    assert shown.json()["result"] == {"type": "commands"}


# -- the console's and the demo's map URL --------------------------------------------------


async def test_stack_map_url_opens_the_api_as_that_person(make_bot_stack: MakeStack) -> None:
    stack = await make_bot_stack(map_on=True)
    assert stack.bridge is not None
    settings = stack.bridge.settings.bridge
    assert settings.public_url == MAP_PUBLIC_URL
    assert settings.map_tiles == f"{stack.platform.url}/tiles/{{z}}/{{x}}/{{y}}.png"
    url = stack.map_url("supervisor", "group=1002")
    parts = urlsplit(url)
    assert url.startswith(f"{stack.bridge_url}/app/?group=1002#")
    data = parse_qs(parts.fragment)["tgWebAppData"][0]
    async with httpx.AsyncClient(base_url=stack.bridge_url) as client:
        me = await client.get("/app/api/me", headers={"Authorization": f"tma {data}"})
    assert me.status_code == 200, me.text
    assert me.json()["user_id"] == 1002 and me.json()["role"] == "supervisor"


async def test_test_stacks_keep_the_map_off_but_never_use_osm(bot_stack: Stack) -> None:
    assert bot_stack.bridge is not None
    settings = bot_stack.bridge.settings.bridge
    assert settings.public_url is None
    assert "openstreetmap" not in settings.map_tiles
    assert settings.map_tiles.startswith(bot_stack.platform.url)


async def test_the_console_prints_the_map_for_whoever_types(make_bot_stack: MakeStack) -> None:
    stack = await make_bot_stack(map_on=True)
    screen = io.StringIO()
    console = Console(
        stack.emu,
        stack.people,
        who="supervisor",
        out=screen,
        handled=stack.wait_handled,
        echo=False,
        map_url=stack.map_url,
    )
    try:
        await console.handle("/mapurl")
        await console.handle("/as viewer")
        await console.handle("/online 1002")
        await console.handle("2")  # the 🗺 button: opens the map, not the bot
    finally:
        console.close()
    urls = re.findall(r"🗺 the map for (\w+): (\S+)", screen.getvalue())
    assert [who for who, _ in urls] == ["supervisor", "viewer", "viewer"], screen.getvalue()
    assert "buttons: 1) 🔄 Refresh  2) 🗺 Map ↗" in screen.getvalue()
    assert f"opens {MAP_PUBLIC_URL}/app/?group=1002 in Telegram" in screen.getvalue()
    pressed = urlsplit(urls[-1][1])
    assert pressed.query == "group=1002"
    for who, url in urls:
        data = parse_qs(urlsplit(url).fragment)["tgWebAppData"][0]
        checked = init_data_of(f"tma {data}", BOT_TOKEN, datetime.now(UTC))
        assert checked.user is not None and checked.user.id == stack.people[who].id


async def test_an_invite_to_supervisor_brings_the_menu_button(make_stack: MakeStack) -> None:
    stack = await make_stack()
    [invite] = await stack.say("admin", "/invite supervisor")
    code = re.search(r"\?start=([\w-]+)", invite.plain_text())
    assert code is not None, invite.plain_text()
    stranger = stack.people["stranger"].id
    [welcome] = await stack.say("stranger", f"/start {code.group(1)}")
    assert "menu button “🗺 Map”" in welcome.plain_text()
    assert stack.emu.menu_button(stranger)["type"] == "web_app"


async def test_the_menu_memory_is_bounded(make_stack: MakeStack) -> None:
    stack = await make_stack()
    assert stack.bridge is not None
    menu = MapMenu(stack.bridge.bot, MapLinks(PUBLIC), remembered=1)
    supervisor, admin = stack.people["supervisor"].id, stack.people["admin"].id
    words = "🗺 Map"
    assert await menu.update(supervisor, Role.SUPERVISOR, words)
    assert not await menu.update(supervisor, Role.SUPERVISOR, words)  # remembered
    assert await menu.update(admin, Role.ADMIN, words)  # the supervisor is forgotten
    assert await menu.update(supervisor, Role.SUPERVISOR, words)
    off = MapMenu(stack.bridge.bot, MapLinks(None))
    assert not await off.update(stack.people["viewer"].id, Role.VIEWER, words)  # never had it
    assert await off.update(supervisor, Role.SUPERVISOR, words)  # reset to the default
    assert stack.emu.menu_button(supervisor) == {"type": "commands"}


async def test_role_changes_move_the_menu_button_at_once(make_stack: MakeStack) -> None:
    stack = await make_stack()
    viewer = stack.people["viewer"].id
    assert stack.emu.menu_button(viewer) == {"type": "commands"}
    await stack.say("admin", f"/role {viewer} supervisor")
    assert stack.emu.menu_button(viewer)["type"] == "web_app"  # before any /help of theirs
    await stack.say("admin", f"/role {viewer} none")
    assert stack.emu.menu_button(viewer) == {"type": "commands"}
